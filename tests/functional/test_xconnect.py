#!/usr/bin/env python3
"""xconnect: frames sent into one device arrive on its peer byte-identical,
counted on both sides; a front-end that quits and comes back is served again
while the gateway keeps running; a receiver that stops taking frames gets
back-pressure, not losses: the frames wait in the sender's ring. All of it
on the one-copy path (an xconnect's default: guest to guest,
lib/net/net_oc.c) and on the mbuf path (one_copy false). Device b
does not offer the STATUS protocol feature (disable_protocol_features).

Front-end: one dpdk-testpmd with four ports in io forwarding, paired
0<->1 and 2<->3: a pcap file source -> virtio_user(a) ... gateway a->b ...
virtio_user(b) -> a pcap file sink.
"""
import os
import sys
import time

import vgwtest as t

N = 1000


def frames():
    sizes = [60, 64, 128, 512, 1000, 1514]
    return [t.frame("02:00:00:00:00:0b", "02:00:00:00:00:0a", sizes[i % len(sizes)], i)
            for i in range(N)]


def run_frontend(wd, gw, name, sent):
    src = os.path.join(wd, "in.pcap")
    out = os.path.join(wd, f"out-{name}.pcap")
    t.write_pcap(src, sent)
    a, b = gw.config["devices"][0]["socket"], gw.config["devices"][1]["socket"]
    tp = t.Testpmd(wd, [f"net_pcap0,rx_pcap={src}",
                        f"net_virtio_user0,path={a}",
                        f"net_virtio_user1,path={b}",
                        f"net_pcap1,tx_pcap={out}"],
                   name=name, args=["--forward-mode=io", "--port-topology=paired"])
    try:
        gw.wait_ready(["a", "b"])
        pf_a, pf_b = (gw.device(d)["protocol_features"] for d in ("a", "b"))
        t.check(pf_a & (1 << 16) and not pf_b & (1 << 16),
                f"protocol feature status (16): a negotiated {pf_a:#x} (offered), "
                f"b {pf_b:#x} (disabled in the config)")
        # testpmd's virtio_user negotiates VIRTIO_F_IN_ORDER (35): on the
        # one-copy path a's transmitted frames come back as one used
        # element per burst, which its in-order transmit path relies on
        f_a, f_b = (gw.device(d)["features"] for d in ("a", "b"))
        t.check(f_a & (1 << 35) and f_b & (1 << 35),
                f"VIRTIO_F_IN_ORDER not negotiated: a {f_a:#x}, b {f_b:#x}")
        before_a = gw.stats("a")["rx_packets"]
        before_b = gw.stats("b")["tx_packets"]
        tp.cmd("set fwd io retry")
        # testpmd's own retry budget (64 x 1 us by default) is shorter than
        # a scheduling hiccup of the gateway's core: let the front-end wait
        # up to 1 s for room, so every loss counted here is the gateway's
        tp.cmd("set burst tx delay 100 retry 10000")
        tp.cmd("start")
        try:
            gw.wait_counter("b", "tx_packets", before_b + N)
        except t.TestFailure:
            t.log(f"a: {gw.stats('a')}\nb: {gw.stats('b')}")
            t.log(tp.cmd("show fwd stats all"))
            raise
        ps = tp.port_stats()
        tp.cmd("stop")
    finally:
        tp.quit()
    sa, sb = gw.stats("a"), gw.stats("b")
    t.check(sa["rx_packets"] - before_a == N,
            f"gateway a received {sa['rx_packets'] - before_a}, expected {N}")
    t.check(sb["tx_packets"] - before_b == N,
            f"gateway b sent {sb['tx_packets'] - before_b}, expected {N}")
    t.check(sa["drops"] == 0 and sb["drops"] == 0, f"drops: a={sa['drops']} b={sb['drops']}")
    nbytes = sum(len(f) for f in sent)
    t.check(sa["queues"][0]["rx_bytes"] >= nbytes, f"a rx_bytes {sa['queues'][0]['rx_bytes']}")
    t.check(ps[1]["tx_packets"] == N, f"testpmd virtio_user(a) sent {ps[1]['tx_packets']}")
    t.check(ps[2]["rx_packets"] == N, f"testpmd virtio_user(b) received {ps[2]['rx_packets']}")
    got = t.read_pcap(out)
    t.check(len(got) == N, f"{len(got)} frames arrived, expected {N}")
    for i, (x, y) in enumerate(zip(sent, got)):
        t.check(x == y, f"frame {i} differs: sent {x[:32].hex()}... got {y[:32].hex()}...")
    t.log(f"{name}: {N} frames, {nbytes} bytes arrived byte-identical, counted on both sides")


def backpressure(wd, gw, sent):
    """b's front-end takes nothing for a while: b's receive ring fills, the
    gateway holds one burst and takes nothing more from a, a's ring fills and
    its front-end waits. Once b reads again, every frame arrives, none lost."""
    src = os.path.join(wd, "in-bp.pcap")
    out = os.path.join(wd, "out-bp.pcap")
    t.write_pcap(src, sent)
    a, b = gw.config["devices"][0]["socket"], gw.config["devices"][1]["socket"]
    tpb = t.Testpmd(wd, [f"net_virtio_user0,path={b}", f"net_pcap0,tx_pcap={out}"],
                    name="tpb", args=["--forward-mode=io", "--port-topology=paired"])
    tpa = t.Testpmd(wd, [f"net_pcap0,rx_pcap={src}", f"net_virtio_user0,path={a}"],
                    name="tpa", args=["--forward-mode=io", "--port-topology=paired"])
    try:
        gw.wait_ready(["a", "b"])
        before_a = gw.stats("a")["rx_packets"]
        before_b = gw.stats("b")["tx_packets"]
        tpa.cmd("set fwd io retry")
        tpa.cmd("set burst tx delay 1000 retry 60000")  # wait up to 60 s for room
        tpa.cmd("start")
        # b's front-end does not poll: its ring (256 buffers) fills
        gw.wait_counter("b", "tx_packets", before_b + 256)
        time.sleep(1)
        sa, sb = gw.stats("a"), gw.stats("b")
        held = (sa["rx_packets"] - before_a) - (sb["tx_packets"] - before_b)
        t.log(f"b stalled: a took {sa['rx_packets'] - before_a}, b got "
              f"{sb['tx_packets'] - before_b}, {held} held in the gateway")
        t.check(sb["tx_packets"] - before_b < N, "b's front-end took frames it never polled for")
        t.check(sb["drops"] == 0 and sa["drops"] == 0,
                f"frames dropped while b was stalled: a={sa['drops']} b={sb['drops']}")
        if gw.device("a")["copy"] == "one":
            # one copy: nothing taken that b has no room for, a's
            # descriptors wait in a's ring
            t.check(held == 0, f"{held} frames held in the gateway, expected 0 (one copy)")
        else:
            t.check(0 < held <= 32, f"{held} frames held in the gateway, expected 1-32")
        tpb.cmd("start")
        gw.wait_counter("b", "tx_packets", before_b + N)
        tpb.cmd("stop")
        tpa.cmd("stop")
    finally:
        tpa.quit()
        tpb.quit()
    sa, sb = gw.stats("a"), gw.stats("b")
    t.check(sa["drops"] == 0 and sb["drops"] == 0, f"drops: a={sa['drops']} b={sb['drops']}")
    got = t.read_pcap(out)
    t.check(len(got) == N, f"{len(got)} frames arrived after the stall, expected {N}")
    for i, (x, y) in enumerate(zip(sent, got)):
        t.check(x == y, f"frame {i} differs after the stall")
    t.log(f"back-pressure: {N} frames arrived in order across the stall, 0 drops")


def main():
    binary = sys.argv[1]
    # the one-copy path (the default) and the mbuf path (one_copy false):
    # the same checks
    for copy in ("one", "mbuf"):
        one_path(binary, copy)


def one_path(binary, copy):
    wd = t.workdir("xconnect-" + copy)
    link = {"xconnect": ["a", "b"]}
    if copy == "mbuf":
        link["one_copy"] = False
    cfg = {"runtime_dir": wd,
           "devices": [{"name": "a", "type": "net", "socket": os.path.join(wd, "a.sock")},
                       {"name": "b", "type": "net", "socket": os.path.join(wd, "b.sock"),
                        "disable_protocol_features": ["status"]}],
           "links": [link]}
    gw = t.Gateway(binary, wd, cfg).start()
    t.log(f"--- {copy} copy ---")
    for dev in ("a", "b"):
        got = gw.device(dev).get("copy")
        t.check(got == copy, f"device {dev}: copy {got!r}, expected {copy!r}")
    sent = frames()
    run_frontend(wd, gw, "tp1", sent)
    pid = gw.proc.pid
    # the front-end quit; a new one is served by the same gateway process
    run_frontend(wd, gw, "tp2", sent)
    t.check(gw.proc.alive() and gw.proc.pid == pid, "the gateway did not keep running")
    d = gw.device("a")
    t.check(d["connects"] == 2 and d["disconnects"] == 2,
            f"device a: connects {d['connects']}, disconnects {d['disconnects']}")
    t.check(gw.mbufs_in_use() == 0, f"mbufs in use after traffic: {gw.mbufs_in_use()}")
    backpressure(wd, gw, sent)
    t.check(gw.mbufs_in_use() == 0, f"mbufs in use after the stall: {gw.mbufs_in_use()}")
    gw.stop()


if __name__ == "__main__":
    t.run(main)
