#!/usr/bin/env python3
"""The control socket: suspend and resume while traffic flows, the phase
events in order on two subscribers, and malformed requests answered with
errors while traffic continues.

Front-end: dpdk-testpmd, io forwarding, ports paired 0<->1, 2<->3: an endless
pcap source -> virtio_user(a) ... gateway a->b ... virtio_user(b) -> null.
"""
import json
import os
import socket
import sys
import time

import vgwtest as t


class Subscriber:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.s.sendall(b'{"cmd": "subscribe"}\n')
        self.buf = b""
        first = self.read(5)
        t.check(first and first[0].get("ok") is True, f"subscribe: {first}")

    def read(self, timeout):
        self.s.settimeout(timeout)
        try:
            while b"\n" not in self.buf:
                chunk = self.s.recv(65536)
                if not chunk:
                    break
                self.buf += chunk
        except socket.timeout:
            pass
        lines, _, self.buf = self.buf.rpartition(b"\n")
        self.buf = self.buf
        return [json.loads(x) for x in lines.split(b"\n") if x] if lines else []

    def drain(self, seconds=1.0):
        out, deadline = [], time.time() + seconds
        while time.time() < deadline:
            out += self.read(0.2)
        return out


def phases(events, dev):
    return [(e["from"], e["phase"]) for e in events if e.get("event") == "phase"
            and e["device"] == dev]


def main():
    binary = sys.argv[1]
    wd = t.workdir("control")
    a, b = os.path.join(wd, "a.sock"), os.path.join(wd, "b.sock")
    src = os.path.join(wd, "in.pcap")
    t.write_pcap(src, [t.frame("02:00:00:00:00:0b", "02:00:00:00:00:0a", 128, i)
                       for i in range(64)])
    cfg = {"runtime_dir": wd,
           "devices": [{"name": "a", "type": "net", "socket": a},
                       {"name": "b", "type": "net", "socket": b},
                       {"name": "up", "type": "ethdev", "devargs": "net_null0,no-rx=1"}],
           "links": [{"xconnect": ["a", "b"]}]}
    gw = t.Gateway(binary, wd, cfg).start()
    subs = [Subscriber(gw.ctl_path), Subscriber(gw.ctl_path)]
    tp = t.Testpmd(wd, [f"net_pcap0,rx_pcap={src},infinite_rx=1",
                        f"net_virtio_user0,path={a}", f"net_virtio_user1,path={b}",
                        "net_null0,no-rx=1"],
                   args=["--forward-mode=io", "--port-topology=paired"])
    try:
        gw.wait_ready(["a", "b"])
        tp.cmd("start")
        gw.wait_counter("b", "tx_packets", 100000)
        t.check(gw.device("a")["phase"] == "running", f"phase {gw.device('a')['phase']}")

        r = gw.ctl("suspend", device="a")
        t.check(r["ok"] and r["changed"], f"suspend: {r}")
        t.check(gw.device("a")["phase"] == "suspended", "phase after suspend")
        r = gw.ctl("suspend", device="a")
        t.check(r["ok"] and not r["changed"], f"second suspend is not idempotent: {r}")
        time.sleep(0.5)
        s1, p1 = gw.stats("a")["rx_packets"], tp.port_stats()[1]["tx_packets"]
        time.sleep(1.5)
        s2, p2 = gw.stats("a")["rx_packets"], tp.port_stats()[1]["tx_packets"]
        t.check(s1 == s2, f"a kept receiving while suspended: {s1} -> {s2}")
        t.check(p1 == p2, f"the front-end's TX ring kept advancing: {p1} -> {p2}")
        t.log(f"suspended: counters frozen at {s2}, front-end ring frozen at {p2}")

        r = gw.ctl("resume", device="a")
        t.check(r["ok"] and r["changed"], f"resume: {r}")
        gw.wait_counter("a", "rx_packets", s2 + 100000)
        t.check(gw.device("a")["phase"] == "running", "phase after resume")
        t.log("resumed: traffic again")

        bad = [b"{\n", b"[1,2]\n", b'"x"\n', b"{}\n", b'{"cmd": 5}\n',
               b'{"cmd": "nope"}\n', b'{"cmd": "device"}\n', b'{"cmd": "device", "device": 7}\n',
               b'{"cmd": "device", "device": "zz"}\n', b'{"cmd": "suspend"}\n',
               b'{"cmd": "suspend", "device": "zz"}\n', b'{"cmd": "suspend", "device": "up"}\n',
               b'{"cmd": "resume", "device": ""}\n', b'{"cmd": "stats", "device": "zz"}\n',
               b'{"cmd": "log-level"}\n', b'{"cmd": "log-level", "level": "loud"}\n',
               b'{"cmd": "devices", "cmd": "stats"}\n', b'\xff\xfe garbage\n',
               b'{"cmd": "' + b"x" * 5000 + b'"}\n', b"x" * 70000 + b"\n"]
        before = gw.stats("b")["tx_packets"]
        for i, req in enumerate(bad):
            r = t.ctl_request(gw.ctl_path, req)
            t.check(r.get("ok") is False and isinstance(r.get("error"), str) and r["error"],
                    f"malformed request {i} ({req[:40]!r}): {r}")
        gw.wait_counter("b", "tx_packets", before + 100000)
        t.check(gw.ctl("log-level", level="info")["ok"], "log-level info")
        t.log(f"{len(bad)} malformed requests answered with errors; traffic continued")
        lost = gw.ctl("stats").get("inputs_lost")
        t.check(lost == 0, f"stats: inputs_lost {lost}, expected 0 (no event lost)")
        tp.cmd("stop")
    finally:
        tp.quit()
    time.sleep(1)
    ev = [s.drain(1.0) for s in subs]
    t.check(ev[0] == ev[1], f"the two subscribers saw different events:\n{ev[0]}\n{ev[1]}")
    seq = phases(ev[0], "a")
    t.log(f"phase events of a: {seq}")
    want = [("idle", "connected"), ("connected", "running"), ("running", "suspended"),
            ("suspended", "running")]
    t.check(seq[:4] == want, f"phase events of a: {seq}, expected to start with {want}")
    t.check(seq[-1][1] == "idle", f"a did not end idle after the front-end quit: {seq}")
    ts = [e["ts"] for e in ev[0]]
    t.check(ts == sorted(ts), "events out of order")
    gw.stop()


if __name__ == "__main__":
    t.run(main)
