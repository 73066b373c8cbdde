#!/usr/bin/env python3
"""telemetry: the rte_telemetry commands /vhostgw/devices,
/vhostgw/device,<name> and /vhostgw/stats, read the way an operator reads
them, with Debian's dpdk-telemetry.py (commands on its stdin, one JSON reply
per line on its stdout), agree with the configuration, the front-end's state
and the control socket.

Front-end: one dpdk-testpmd, io forwarding, ports paired 0<->1 and 2<->3:
pcap(in-a, out-a) <-> virtio_user(a) ... gateway a<->b ... virtio_user(b)
<-> pcap(in-b, out-b), so traffic crosses the xconnect both ways and every
packet and byte counter of a and b moves.
"""
import json
import os
import shutil
import subprocess
import sys
import time

import vgwtest as t

# frames each way: fewer than the 256 descriptors of a virtio_user ring, so
# testpmd never finds it full (its io retry gives up after 64 us and drops:
# seen with 500 on a loaded machine) and the counts are exact
N = 200
COUNTERS = ("rx_packets", "rx_bytes", "tx_packets", "tx_bytes", "drops")
TELEMETRY_PY = "dpdk-telemetry.py"


def telemetry_script():
    path = shutil.which(TELEMETRY_PY) or "/usr/bin/" + TELEMETRY_PY
    t.check(os.access(path, os.X_OK), f"{TELEMETRY_PY} not found (apt-get install dpdk)")
    return path


class Telemetry:
    """dpdk-telemetry.py -f PREFIX, one run per batch of commands."""

    def __init__(self, gw):
        self.script = telemetry_script()
        self.prefix = gw.prefix
        self.sock = f"/var/run/dpdk/{gw.prefix}/dpdk_telemetry.v2"

    def query(self, *cmds):
        """The replies to cmds, in order: for each, the value under the
        command's name ({"/vhostgw/device": {...}} -> {...})."""
        r = subprocess.run([self.script, "-f", self.prefix], input="\n".join(cmds) + "\n",
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=30)
        lines = [x for x in r.stdout.splitlines() if x.strip()]
        t.check(r.returncode == 0 and len(lines) == len(cmds),
                f"{TELEMETRY_PY} -f {self.prefix} (socket {self.sock}), commands {cmds}: "
                f"exit {r.returncode}, {len(lines)} replies:\n{r.stdout}{r.stderr}")
        out = []
        for cmd, line in zip(cmds, lines):
            try:
                reply = json.loads(line)
            except ValueError:
                raise t.TestFailure(f"{cmd}: not JSON: {line}") from None
            name = cmd.split(",", 1)[0]
            t.check(isinstance(reply, dict) and list(reply) == [name],
                    f"{cmd}: expected {{\"{name}\": ...}}, got {line}")
            out.append(reply[name])
        return out

    def one(self, cmd):
        return self.query(cmd)[0]


def control_counters(gw, names):
    """Per device: the control socket's device counters, busy_cycles summed
    over the queues (as the telemetry reports it)."""
    out = {}
    for n in names:
        s = gw.stats(n)
        out[n] = {k: s[k] for k in COUNTERS}
        out[n]["busy_cycles"] = sum(q["busy_cycles"] for q in s["queues"])
    return out


def settled_counters(gw, names, timeout=10):
    """Control counters once two reads 0.3 s apart agree (in-flight packets
    of a stopped front-end have been forwarded or dropped)."""
    deadline = time.time() + timeout
    prev = control_counters(gw, names)
    while time.time() < deadline:
        time.sleep(0.3)
        cur = control_counters(gw, names)
        if cur == prev:
            return cur
        prev = cur
    raise t.TestFailure(f"counters still moving {timeout} s after the traffic stopped: {prev}")


def wait_phase(tel, name, phase, timeout=10):
    deadline = time.time() + timeout
    while True:
        d = tel.one(f"/vhostgw/device,{name}")
        if d.get("phase") == phase or time.time() > deadline:
            return d
        time.sleep(0.2)


def main():
    binary = sys.argv[1]
    wd = t.workdir("telemetry")
    a, b = os.path.join(wd, "a.sock"), os.path.join(wd, "b.sock")
    cfg = {"runtime_dir": wd,
           "devices": [{"name": "a", "type": "net", "socket": a},
                       {"name": "b", "type": "net", "socket": b},
                       {"name": "up", "type": "ethdev", "devargs": "net_null0,no-rx=1"}],
           "links": [{"xconnect": ["a", "b"]}]}
    names = [d["name"] for d in cfg["devices"]]
    gw = t.Gateway(binary, wd, cfg).start()
    tel = Telemetry(gw)

    # the list, the commands, and a device with no front-end yet
    listing, devices, dev_a, nope = tel.query("/", "/vhostgw/devices", "/vhostgw/device,a",
                                              "/vhostgw/device,nope")
    for c in ("/vhostgw/devices", "/vhostgw/device", "/vhostgw/stats"):
        t.check(c in listing, f"{c} not in the telemetry command list: {listing}")
    t.check(devices == names, f"/vhostgw/devices = {devices}, the config has {names}")
    t.check(dev_a.get("name") == "a" and dev_a.get("phase") == "idle" and
            dev_a.get("connected") == 0, f"/vhostgw/device,a before any front-end: {dev_a}")
    t.check(nope is None, f"/vhostgw/device,nope: expected null (no such device), got {nope}")
    t.log(f"/vhostgw/devices {devices}; /vhostgw/device,a phase {dev_a['phase']}, "
          f"connected {dev_a['connected']}")

    in_a, in_b = os.path.join(wd, "in-a.pcap"), os.path.join(wd, "in-b.pcap")
    t.write_pcap(in_a, [t.frame("02:00:00:00:00:0b", "02:00:00:00:00:0a", 64 + i % 900, i)
                        for i in range(N)])
    t.write_pcap(in_b, [t.frame("02:00:00:00:00:0a", "02:00:00:00:00:0b", 1400 - i % 900, i)
                        for i in range(N)])
    tp = t.Testpmd(wd, [f"net_pcap0,rx_pcap={in_a},tx_pcap={os.path.join(wd, 'out-a.pcap')}",
                        f"net_virtio_user0,path={a}",
                        f"net_virtio_user1,path={b}",
                        f"net_pcap1,rx_pcap={in_b},tx_pcap={os.path.join(wd, 'out-b.pcap')}"],
                   args=["--forward-mode=io", "--port-topology=paired"])
    try:
        gw.wait_ready(["a", "b"])
        dev_a = wait_phase(tel, "a", "running")
        ctl_a = gw.device("a")
        t.check(dev_a.get("phase") == "running" and dev_a.get("connected") == 1,
                f"/vhostgw/device,a with its front-end up: {dev_a}")
        t.check(ctl_a["phase"] == "running", f"control socket: device a {ctl_a}")
        t.log(f"front-end up: /vhostgw/device,a phase {dev_a['phase']}, connected "
              f"{dev_a['connected']}, ready {dev_a.get('ready')}, queues {dev_a.get('queues')}")

        tp.cmd("set fwd io retry")
        tp.cmd("start")
        gw.wait_counter("b", "tx_packets", N)
        gw.wait_counter("a", "tx_packets", N)
        tp.cmd("stop")

        # traffic stopped: the control socket, the telemetry, the control
        # socket again; the three must agree
        before = settled_counters(gw, ["a", "b"])
        stats, tel_a, tel_b = tel.query("/vhostgw/stats", "/vhostgw/device,a",
                                        "/vhostgw/device,b")
        after = control_counters(gw, ["a", "b"])
        t.check(before == after, f"counters moved while traffic was stopped: "
                f"{before} -> {after}")
        t.check(sorted(stats) == sorted(names),
                f"/vhostgw/stats has devices {sorted(stats)}, the config {sorted(names)}")
        for n, dev in (("a", tel_a), ("b", tel_b)):
            ctl = before[n]
            for k in COUNTERS + ("busy_cycles",):
                t.check(stats[n].get(k) == ctl[k],
                        f"/vhostgw/stats {n}.{k} = {stats[n].get(k)}, control socket {ctl[k]}")
                t.check(dev.get(k) == ctl[k],
                        f"/vhostgw/device,{n} {k} = {dev.get(k)}, control socket {ctl[k]}")
            for k in ("rx_packets", "rx_bytes", "tx_packets", "tx_bytes", "busy_cycles"):
                t.check(ctl[k] > 0, f"device {n}: {k} = {ctl[k]} after traffic")
            t.check(ctl["rx_packets"] == N and ctl["tx_packets"] == N,
                    f"device {n}: rx_packets {ctl['rx_packets']}, tx_packets "
                    f"{ctl['tx_packets']}, expected {N} each way")
            t.log(f"{n}: telemetry = control socket: " +
                  ", ".join(f"{k} {ctl[k]}" for k in COUNTERS + ("busy_cycles",)))
    finally:
        tp.quit()

    dev_a = wait_phase(tel, "a", "idle")
    t.check(dev_a.get("phase") == "idle" and dev_a.get("connected") == 0,
            f"/vhostgw/device,a after the front-end quit: {dev_a}")
    t.log(f"front-end gone: /vhostgw/device,a phase {dev_a['phase']}, "
          f"connected {dev_a['connected']}")
    gw.stop()


if __name__ == "__main__":
    t.run(main)
