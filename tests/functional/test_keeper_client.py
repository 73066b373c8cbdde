#!/usr/bin/env python3
"""keeper, client mode and crash loops: the front-ends (virtio_user server=1)
own the sockets and the keeper connects to them.

1. The gateway is killed 5 times under traffic: the keeper's connections to
   the front-ends stay, frames flow again through every new gateway.
2. A crash loop: every new gateway is killed at once (well within the
   keeper's --stable-ms). After --max-restarts such deaths the keeper stops
   restarting it and says so in one line; the front-ends keep their
   connections. SIGHUP to the keeper (an operator acting) starts a gateway
   again, which is replayed and forwards.

Front-end: one dpdk-testpmd, io forwarding, ports paired 0<->1, 2<->3: an
endless pcap source -> virtio_user(a) ... gateway a->b ... virtio_user(b) ->
a null sink.
"""
import os
import re
import signal
import sys
import time

import vgwtest as t

KILLS = 5
MAX_RESTARTS = 3


def recovered(kp, n_gateways, before):
    """Both devices replayed (again: more than before, a pair of counts)
    into gateway number n_gateways, frames through it."""
    t.wait_for(f"gateway {n_gateways} replayed",
               lambda: len(kp.gateway_pids()) >= n_gateways and
               len(kp.replays("a")) > before[0] and len(kp.replays("b")) > before[1])
    kp.wait_counter("b", "tx_packets", 10000)


def replays(kp):
    return len(kp.replays("a")), len(kp.replays("b"))


def crash_loop(kp):
    """Kill each new gateway as soon as it appears, until the keeper gives up."""
    for _ in range(MAX_RESTARTS + 1):
        n = len(kp.gateway_pids())
        os.kill(kp.gateway_pids()[-1], signal.SIGKILL)
        t.wait_for("the next gateway or the keeper giving up",
                   lambda: len(kp.gateway_pids()) > n or "not restarted" in kp.proc.output())
    t.wait_for("the keeper giving up", lambda: "not restarted" in kp.proc.output())
    line = next(l for l in kp.proc.output().splitlines() if "not restarted" in l)
    t.log(f"keeper: {line}")
    t.check(f"gateway died {MAX_RESTARTS + 1} times in a row" in line, line)
    n = len(kp.gateway_pids())
    time.sleep(2)
    t.check(len(kp.gateway_pids()) == n, "the keeper started a gateway after giving up")
    before = replays(kp)
    os.kill(kp.proc.pid, signal.SIGHUP)
    recovered(kp, n + 1, before)


def main():
    binary, keeper = sys.argv[1], sys.argv[2]
    wd = t.workdir("keeper-client")
    a, b = os.path.join(wd, "a.sock"), os.path.join(wd, "b.sock")
    src = os.path.join(wd, "in.pcap")
    t.write_pcap(src, [t.frame("02:00:00:00:00:0b", "02:00:00:00:00:0a", 256, i)
                       for i in range(64)])
    cfg = {"runtime_dir": wd,
           "devices": [{"name": "a", "type": "net", "socket": a, "mode": "client"},
                       {"name": "b", "type": "net", "socket": b, "mode": "client"}],
           "links": [{"xconnect": ["a", "b"]}]}
    # virtio_user in server mode waits in its probe for the back-end: a.sock
    # appears first, b.sock only once the keeper connected to a
    tp = t.Testpmd(wd, [f"net_pcap0,rx_pcap={src},infinite_rx=1",
                        f"net_virtio_user0,path={a},server=1",
                        f"net_virtio_user1,path={b},server=1",
                        "net_null0,no-rx=1"],
                   args=["--forward-mode=io", "--port-topology=paired"], wait=False)
    t.wait_for("a.sock", lambda: os.path.exists(a))
    kp = t.Keeper(keeper, binary, wd, cfg,
                  keeper_args=["--stable-ms", "1500", "--max-restarts", str(MAX_RESTARTS)])
    kp.start()
    tp.wait_prompt()
    kp.wait_ready(["a", "b"])
    tp.cmd("start")
    kp.wait_counter("b", "tx_packets", 100000)

    for i in range(KILLS):
        before = replays(kp)
        kp.kill_gateway()
        recovered(kp, i + 2, before)
        time.sleep(1.6)     # stable: not a crash loop
    t.log(f"{KILLS} kills: kill to replay {[round(x) for x in kp.replays('a')]} ms (a)")
    crash_loop(kp)

    out = kp.proc.output()
    conns = re.findall(r"device (\w+): front-end connected \(", out)
    t.check(sorted(conns) == ["a", "b"] and "front-end connection closed" not in out,
            f"the keeper's front-end connections were not kept: {conns}")
    t.check(tp.proc.alive(), "the front-end died")
    tp.quit()
    kp.stop()


if __name__ == "__main__":
    t.run(main)
