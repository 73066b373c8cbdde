#!/usr/bin/env python3
"""onecopy_log: while a front-end has dirty logging on (a live migration's
first phase), every page the gateway writes into its guest memory is
logged: each receive buffer a frame went into and the used ring entries of
both rings. A page written and not logged would reach a migration's
destination stale.

Three links, each on a gateway of its own: a one-copy xconnect (the frames
moved by lib/net/net_oc.c from the sender's buffers into the receiver's),
a one-copy bridge of three ports (the bridge tasks of net_oc.c), and the
same bridge on the mbuf path (rte_vhost's own enqueue and dequeue, the
control). On each, two vufront-net front-ends (the project's own) turn
logging on as QEMU does for a migration (SET_LOG_BASE, SET_FEATURES with
LOG_ALL, the rings' log flag) before any frame moves: b receives N frames of
60-1,514 bytes into 512-byte mergeable buffers (a frame spans up to 3) and
checks each byte for byte; a sends them. Both stop their rings
(GET_VRING_BASE, as QEMU does before its last log sync) and then compare:
every page of every used receive buffer (as long as the device said it
wrote) and of the used entries must be dirty in the log (log_missing=0);
pages dirty outside them are counted as stray and must be none on the
receiver. The device reports the phase "logging" meanwhile, and its
counters moved by N.
"""
import os
import sys

import vgwtest as t

N = 3000
SIZE = "60-1514"
SEED = 5
LINKS = {
    "xconnect-one": {"xconnect": ["a", "b"], "one_copy": True},
    "bridge-one": {"bridge": "br0", "ports": ["a", "b", "c"], "one_copy": True},
    "bridge-mbuf": {"bridge": "br0", "ports": ["a", "b", "c"], "one_copy": False},
}
# vufront-net's default addresses: a sends to b's MAC, b's first frame is
# never sent, so the bridge floods a's frames to b and c (c has no
# front-end: its copies are dropped)
MAC_A, MAC_B = "02:00:00:00:00:01", "02:00:00:00:00:02"


def one_link(binary, tool, name, link):
    wd = t.workdir("onecopy_log-" + name)
    devs = ["a", "b", "c"] if "bridge" in link else ["a", "b"]
    sock = {d: os.path.join(wd, f"{d}.sock") for d in devs}
    cfg = {"runtime_dir": wd,
           "devices": [{"name": d, "type": "net", "socket": sock[d]} for d in devs],
           "links": [link]}
    gw = t.Gateway(binary, wd, cfg).start()
    copy = "one" if link.get("one_copy") else "mbuf"
    for d in devs:
        got = gw.device(d).get("copy")
        t.check(got == copy, f"{name}: device {d}: copy {got!r}, expected {copy!r}")
    before = {d: gw.stats(d) for d in ("a", "b")}

    common = ["--timeout-ms", "20000", "--size", SIZE, "--seed", str(SEED), "--log-check",
              "--src", MAC_A, "--dst", MAC_B]
    rb = t.VufrontNet(tool, wd, f"{name}-recv-b", ["--socket", sock["b"], "--recv", str(N),
                                                   "--verify", "--mrg-rxbuf", "--buf-size",
                                                   "512"] + common)
    rb.wait_ready()
    # a bridge drops what a receiver has no room for, as a switch port does
    # (an xconnect holds it back): b's ring holds about 128 of these frames,
    # 128 ms of a stalled receiver at 1,000 frames/s
    rate = "5000" if "xconnect" in link else "1000"
    sa = t.VufrontNet(tool, wd, f"{name}-send-a", ["--socket", sock["a"], "--send", str(N),
                                                   "--rate", rate] + common)
    sa.wait_ready()
    for d in ("a", "b"):
        phase = gw.device(d).get("phase")
        t.check(phase == "logging", f"{name}: device {d} in phase {phase!r} while its "
                f"front-end logs, expected 'logging'")
    try:
        out_b, out_a = rb.finish(), sa.finish()
    except t.TestFailure:
        t.log(f"{name}: gateway b: {gw.stats('b')}")
        raise
    t.log(f"{name}: receiver: {' '.join(out_b.split()[1:])}")
    t.log(f"{name}: sender: {' '.join(out_a.split()[1:])}")

    t.check(rb.field(out_b, "received") == N and rb.field(out_b, "bad") == 0,
            f"{name}: b received {rb.field(out_b, 'received')} frames "
            f"({rb.field(out_b, 'bad')} bad), expected {N} intact")
    for f, out, who in ((rb, out_b, "receiver"), (sa, out_a, "sender")):
        missing, pages = f.field(out, "log_missing"), f.field(out, "log_pages")
        t.check(missing == 0, f"{name}: the {who}'s log lacks {missing} of the {pages} "
                f"pages the device wrote")
    # the receiver's buffers: 256 of 512 bytes (32 pages), the used ring
    pages = rb.field(out_b, "log_pages")
    t.check(pages >= 32, f"{name}: only {pages} pages written into the receiver")
    stray = rb.field(out_b, "log_stray")
    t.check(stray == 0, f"{name}: {stray} pages of the receiver logged that the device "
            f"did not write")

    after = {d: gw.stats(d) for d in ("a", "b")}
    rx_a = after["a"]["rx_packets"] - before["a"]["rx_packets"]
    tx_b = after["b"]["tx_packets"] - before["b"]["tx_packets"]
    t.check(rx_a == N and tx_b == N, f"{name}: a took {rx_a} frames from its guest, "
            f"b gave {tx_b} to its guest, expected {N} each")
    for d in ("a", "b"):
        # (one-copy ports count the chains they refuse; the mbuf path
        # leaves that to rte_vhost)
        t.check(after[d].get("malformed", 0) == before[d].get("malformed", 0),
                f"{name}: device {d} counted malformed chains: {after[d]}")
    gw.stop()


def main():
    binary, tool = sys.argv[1], os.path.abspath(sys.argv[2])
    for name, link in LINKS.items():
        one_link(binary, tool, name, link)


if __name__ == "__main__":
    t.run(main)
