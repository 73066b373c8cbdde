#!/usr/bin/env python3
"""memshrink: a front-end that truncates its guest memory file under the
gateway's mapping (hostile or broken: the next access to a page of it is a
SIGBUS) stops its own device, not the gateway (lib/vhost/memguard.c).

One gateway, two xconnects: A-B on the mbuf path (rte_vhost copies the
frames) and C-D one-copy (the gateway's ring walker does). For each link in
turn, the sender's front-end sends 100 frames, which arrive verified, then
truncates its guest memory to 0 bytes and stays connected (vufront-net
--shrink):
  - the gateway lives and logs the fault once; the sender's device reports
    memory_fault and memory_faults 1;
  - meanwhile the other link moves 20,000 verified frames;
  - once that front-end is gone, a new one on the same socket sends 100
    frames that arrive: the device serves again (memory_fault false).
"""
import os
import sys
import time

import vgwtest as t

TIMEOUT_MS = "60000"
LOGLINE = "shrank the file of its guest memory"


def front(tool, wd, name, sock, args):
    f = t.VufrontNet(tool, wd, name, ["--socket", sock, "--timeout-ms", TIMEOUT_MS] + args)
    f.wait_ready()
    return f


def traffic(tool, wd, name, socks, n, rate=None):
    """n verified frames from the first socket's front-end to the second's."""
    rx = front(tool, wd, f"{name}-rx", socks[1], ["--recv", str(n), "--size", "128", "--verify"])
    tx = front(tool, wd, f"{name}-tx", socks[0],
               ["--send", str(n), "--size", "128"] + (["--rate", str(rate)] if rate else []))
    out = rx.finish()
    t.check(rx.field(out, "received") == n and rx.field(out, "bad") == 0,
            f"{name}: received {rx.field(out, 'received')} of {n}, "
            f"{rx.field(out, 'bad')} bad")
    tx.finish()


def shrink(gw, tool, wd, name, sender, socks, other):
    """sender's front-end truncates its memory; other's link keeps moving."""
    d0 = gw.device(sender)
    logged0 = gw.proc.output().count(LOGLINE)
    rx = front(tool, wd, f"{name}-rx", socks[1], ["--recv", "100", "--size", "128", "--verify"])
    tx = front(tool, wd, f"{name}-tx", socks[0],
               ["--send", "100", "--size", "128", "--shrink"])
    out = rx.finish()
    t.check(rx.field(out, "received") == 100 and rx.field(out, "bad") == 0,
            f"{name}: before the shrink: received {rx.field(out, 'received')} of 100")
    t.check(tx.proc.wait_output(r"(?m)^shrunk$", 30),
            f"{name}: the sender did not truncate its memory:\n{tx.proc.output()[-2000:]}")
    deadline = time.time() + 20
    d = gw.device(sender)
    while time.time() < deadline and not d.get("memory_fault"):
        time.sleep(0.05)
        d = gw.device(sender)
    t.check(gw.proc.alive(), f"{name}: the gateway died when {sender}'s memory shrank:\n"
            f"{gw.proc.output()[-3000:]}")
    t.check(d.get("memory_fault") is True and
            d.get("memory_faults") == d0.get("memory_faults", 0) + 1,
            f"{name}: {sender}: memory_fault {d.get('memory_fault')}, memory_faults "
            f"{d0.get('memory_faults')} -> {d.get('memory_faults')}")
    # dashboards see it in the phase: failed, with the reason (the phase
    # follows the event on the control thread: waited for)
    while time.time() < deadline and gw.device(sender).get("phase") != "failed":
        time.sleep(0.05)
    d = gw.device(sender)
    t.check(d.get("phase") == "failed" and
            "shrank guest memory" in d.get("failed_reason", ""),
            f"{name}: {sender}: phase {d.get('phase')}, reason {d.get('failed_reason')!r}")
    # the other link serves meanwhile (paced: a receiver's ring holds ~128)
    traffic(tool, wd, f"{name}-other", other, 20000, rate=20000)
    time.sleep(0.5)  # a second fault would be logged by now
    n = gw.proc.output().count(LOGLINE) - logged0
    t.check(n == 1, f"{name}: the fault logged {n} times, expected once")
    tx.proc.stop()
    # a new front-end on the same socket is served
    deadline = time.time() + 20
    while time.time() < deadline and gw.device(sender)["connected"]:
        time.sleep(0.05)
    traffic(tool, wd, f"{name}-again", socks, 100)
    d = gw.device(sender)
    t.check(d.get("memory_fault") is False, f"{name}: {sender} still stopped: {d}")
    t.check(d.get("phase") in ("running", "idle"),
            f"{name}: {sender}: phase {d.get('phase')} after a new front-end")
    t.log(f"{name}: {sender}'s front-end truncated its guest memory: the gateway logged it "
          f"once, stopped {sender} alone (memory_faults {d.get('memory_faults')}); the other "
          f"link moved 20,000 verified frames meanwhile; a new front-end was served")


def main():
    binary, tool = sys.argv[1], os.path.abspath(sys.argv[2])
    wd = t.workdir("memshrink")
    sock = {d: os.path.join(wd, f"{d}.sock") for d in "ABCD"}
    cfg = {"runtime_dir": wd,
           "devices": [{"name": d, "type": "net", "socket": sock[d]} for d in "ABCD"],
           "links": [{"xconnect": ["A", "B"], "one_copy": False},
                     {"xconnect": ["C", "D"], "one_copy": True}]}
    gw = t.Gateway(binary, wd, cfg).start()
    t.check(gw.device("A").get("copy") == "mbuf" and gw.device("C").get("copy") == "one",
            f"copy modes: A {gw.device('A').get('copy')}, C {gw.device('C').get('copy')}")
    ab, cd = (sock["A"], sock["B"]), (sock["C"], sock["D"])
    shrink(gw, tool, wd, "mbuf", "A", ab, cd)
    shrink(gw, tool, wd, "one-copy", "C", cd, ab)
    t.check(gw.proc.alive(), "the gateway died")
    gw.stop()


if __name__ == "__main__":
    t.run(main)
