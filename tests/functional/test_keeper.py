#!/usr/bin/env python3
"""keeper: the gateway runs under vhostgw-keeper and is killed with SIGKILL
20 times in the middle of traffic. The front-end never sees a disconnect
(one connection per device for the whole test, no link change in testpmd),
and after every kill the keeper starts a new gateway, replays what the
front-end had set up, and frames flow again end to end. Then a front-end
message the keeper must refuse (a ring index out of range) closes only that
connection. Recovery times (kill to replay) are printed.

Front-end: one dpdk-testpmd, io forwarding, ports paired 0<->1, 2<->3: an
endless pcap source -> virtio_user(a) ... gateway a->b ... virtio_user(b) ->
a null sink. Devices a and b are in server mode: the keeper listens.
"""
import os
import re
import shutil
import socket
import statistics
import subprocess
import struct
import sys
import time

import vgwtest as t

KILLS = 20


def gw_rx(tp):
    return tp.port_stats()[2]["rx_packets"]


def kill_and_recover(kp, tp, i):
    """One SIGKILL: the next gateway must take both devices up again and
    frames must reach the far end of the front-end."""
    n_a, n_b = len(kp.replays("a")), len(kp.replays("b"))
    pid = kp.kill_gateway()
    t0 = time.time()
    t.wait_for(f"kill {i}: gateway {pid} replaced",
               lambda: len(kp.gateway_pids()) >= i + 2 and
               len(kp.replays("a")) > n_a and len(kp.replays("b")) > n_b)
    # counted by the new gateway: it started from zero
    kp.wait_counter("b", "tx_packets", 10000)
    # the phase follows the keeper's END, which comes after the replay the
    # device already serves on: it may trail the first frames a little
    for dev in ("a", "b"):
        try:
            t.wait_for(f"kill {i}: {dev} resumed", lambda: kp.device(dev)["phase"] == "resumed", 5)
        except t.TestFailure:
            ph = kp.device(dev)["phase"]
            raise t.TestFailure(f"kill {i}: {dev} is {ph} in the new gateway, not resumed")
    r = kp.ctl("keeper")
    t.check(r["ok"] and r["keeper"]["pid"] == kp.proc.pid and
            r["keeper"]["restarts"] == i + 1 and
            r["keeper"]["last_exit"] == "killed by signal 9 (Killed)",
            f"kill {i}: keeper command: {r}")
    t.check(kp.ctl("stats")["restarts"] == i + 1, f"kill {i}: stats restarts")
    time.sleep(0.2)
    t.check(tp.proc.alive(), f"kill {i}: the front-end died")
    return time.time() - t0


def upgrade(kp, ctl, wd):
    """vhostgw-ctl upgrade --binary COPY under traffic: a standby of the copy
    starts, the running gateway stops cleanly, the copy takes over and is
    replayed; the front-ends keep their connections, frames flow again."""
    copy = os.path.join(wd, "vhostgw-new")
    shutil.copy(kp.binary, copy)
    n_a, n_b = len(kp.replays("a")), len(kp.replays("b"))
    r = subprocess.run([sys.executable, ctl, "-s", kp.ctl_path, "upgrade", "--binary", copy],
                       capture_output=True, text=True, timeout=20)
    t.check(r.returncode == 0 and "upgrade to " + copy in r.stdout,
            f"vhostgw-ctl upgrade: {r.returncode} {r.stdout!r} {r.stderr!r}")
    t0 = time.time()
    t.wait_for("the upgraded gateway replayed",
               lambda: len(kp.replays("a")) > n_a and len(kp.replays("b")) > n_b, 60)
    kp.wait_counter("b", "tx_packets", 10000)
    k = kp.ctl("keeper")["keeper"]
    t.check(k["last_exit"] == "upgraded" and k["restarts"] == KILLS, f"after the upgrade: {k}")
    out = kp.proc.output()
    t.check(re.search(r"standby gateway started: pid \d+ \(" + re.escape(copy) + r"\)", out)
            and "upgrade: stopping gateway" in out, "no standby of the new binary")
    t.check(out.count("device a: front-end connected") == 1 and
            not re.search(r"device [ab]: front-end connection closed", out),
            "a front-end connection was not kept")
    t.log(f"upgrade to {copy}: frames through the new binary {time.time() - t0:.2f} s "
          f"after the request; replay {kp.replays('a')[-1]:.0f} ms after the old one exited")


def main():
    binary, keeper = sys.argv[1], sys.argv[2]
    wd = t.workdir("keeper")
    a, b, c = (os.path.join(wd, n + ".sock") for n in ("a", "b", "c"))
    src = os.path.join(wd, "in.pcap")
    t.write_pcap(src, [t.frame("02:00:00:00:00:0b", "02:00:00:00:00:0a", 256, i)
                       for i in range(64)])
    cfg = {"runtime_dir": wd,
           "devices": [{"name": "a", "type": "net", "socket": a},
                       {"name": "b", "type": "net", "socket": b},
                       {"name": "c", "type": "net", "socket": c}],
           "links": [{"xconnect": ["a", "b"]}]}
    # kills come faster than the keeper's crash-loop rule expects of a
    # gateway that works: each one has served for 200 ms
    kp = t.Keeper(keeper, binary, wd, cfg, keeper_args=["--stable-ms", "200"]).start()
    tp = t.Testpmd(wd, [f"net_pcap0,rx_pcap={src},infinite_rx=1",
                        f"net_virtio_user0,path={a}",
                        f"net_virtio_user1,path={b}",
                        "net_null0,no-rx=1"],
                   args=["--forward-mode=io", "--port-topology=paired"])
    kp.wait_ready(["a", "b"])
    tp.cmd("start")
    kp.wait_counter("b", "tx_packets", 100000)

    gaps = []
    for i in range(KILLS):
        gaps.append(kill_and_recover(kp, tp, i))
        if i % 5 == 4:  # progress: where a slow run spent its time
            t.log(f"kill {i + 1} of {KILLS}: frames through again after "
                  f"{gaps[-1] * 1000:.0f} ms")
    rec_a, rec_b = kp.replays("a"), kp.replays("b")
    out = kp.proc.output()
    t.check(out.count("device a: front-end connected") == 1 and
            out.count("device b: front-end connected") == 1 and
            "front-end connection closed" not in out,
            "a front-end connection was not kept:\n" +
            "\n".join(line for line in out.splitlines() if "front-end" in line))
    tp_out = tp.proc.output()
    t.check(not re.search(r"link state change|disconnect", tp_out, re.I),
            "the front-end saw the gateway go: " +
            "; ".join(l for l in tp_out.splitlines()
                      if re.search(r"link state change|disconnect", l, re.I))[:500])
    t.check(len(rec_a) == KILLS and len(rec_b) == KILLS,
            f"replays: a {len(rec_a)}, b {len(rec_b)}, kills {KILLS}")
    st0 = kp.stats("b")["tx_packets"]
    time.sleep(0.5)
    st = kp.stats("b")
    t.check(st["tx_packets"] > st0, f"b after the last kill: {st0} then {st}")
    rec = rec_a + rec_b
    t.log(f"{KILLS} kills: front-ends kept (1 connection each, no link change); "
          f"kill to replay median {statistics.median(rec):.0f} ms, max {max(rec):.0f} ms; "
          f"kill to frames through again median {statistics.median(gaps) * 1000:.0f} ms, "
          f"max {max(gaps) * 1000:.0f} ms")

    # hostile: a ring index the device does not have
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(c)
    s.sendall(struct.pack("<IIIII", 8, 1, 8, 200, 256))
    s.settimeout(5)
    t.check(s.recv(1) == b"", "the keeper kept a connection that sent ring 200")
    s.close()
    t.wait_for("the refusal line", lambda: "device c: front-end message refused: "
               "SET_VRING_NUM: ring 200 out of range (the device has 2)" in kp.proc.output(), 5)
    before = gw_rx(tp)
    t.wait_for("traffic on a and b after the refusal", lambda: gw_rx(tp) > before + 10000)

    # the operator's view of it
    ctl = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "usertools",
                       "vhostgw-ctl")
    r = subprocess.run([sys.executable, ctl, "-s", kp.ctl_path, "keeper"],
                       capture_output=True, text=True, timeout=20)
    want = (f"keeper pid {kp.proc.pid}, {KILLS} restart(s), "
            "last exit: killed by signal 9 (Killed)\n")
    t.check(r.returncode == 0 and r.stdout == want,
            f"vhostgw-ctl keeper: {r.returncode} {r.stdout!r} {r.stderr!r}, want {want!r}")

    upgrade(kp, ctl, wd)

    tp.quit()
    kp.stop()
    t.check("stopped (gateway: exited with status 0" in kp.proc.output(),
            "the keeper did not stop its gateway cleanly:\n" + kp.proc.output()[-1500:])


if __name__ == "__main__":
    t.run(main)
