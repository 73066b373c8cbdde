#!/usr/bin/env python3
"""Learning bridge: unknown, broadcast and multicast destinations are flooded
to every other port; once a MAC is learned its frames go to its port only.

Three net devices A, B, C on bridge br0. Phase 1: B sends a broadcast, a
multicast and an unknown-unicast frame: A and C each get all three, and the
bridge has learned B. Phase 2: A sends frames to B (known) interleaved with
frames to an unknown MAC: B gets all of them in order, C only the unknown
ones. Phase 3: C sprays 40 source MACs on a table of 16 entries with a
cap of 4 learned per port: 4 learned, 36 refused (counted, a warning
logged), A's and B's entries not evicted, so phase 2 runs again with the
same outcome (without the cap, C's sources replace them and A's frames to
B are flooded to C). Both paths: the mbuf path (one_copy false) and the one-copy bridge
(the default: each frame from the sender's buffers straight into every
receiver's, lib/net/net_oc.c), each on a gateway of its own; then the
one-copy bridge on two workers, two senders into one receiver at once.
"""
import os
import sys

import vgwtest as t

MA, MB, MC, MZ = "02:00:00:00:00:0a", "02:00:00:00:00:0b", "02:00:00:00:00:0c", "02:00:00:00:00:99"


def frontend(wd, gw, name, src_dev, src_frames, sinks):
    """testpmd: pcap source -> virtio_user(src_dev); virtio_user(sink) -> pcap file."""
    src = os.path.join(wd, f"{name}-in.pcap")
    t.write_pcap(src, src_frames)
    sock = {d["name"]: d["socket"] for d in gw.config["devices"]}
    vdevs = [f"net_pcap0,rx_pcap={src}", f"net_virtio_user0,path={sock[src_dev]}"]
    outs = {}
    for i, dev in enumerate(sinks):
        outs[dev] = os.path.join(wd, f"{name}-{dev}.pcap")
        vdevs += [f"net_virtio_user{i + 1},path={sock[dev]}",
                  f"net_pcap{i + 1},tx_pcap={outs[dev]}"]
    tp = t.Testpmd(wd, vdevs, name=name, args=["--forward-mode=io", "--port-topology=paired"])
    try:
        gw.wait_ready(["A", "B", "C"])
        before = gw.stats(src_dev)["rx_packets"]
        tp.cmd("set fwd io retry")
        tp.cmd("start")
        gw.wait_counter(src_dev, "rx_packets", before + len(src_frames))
        # let the flooded copies drain into the sinks
        t.time.sleep(1)
        tp.cmd("stop")
    finally:
        tp.quit()
    return {dev: t.read_pcap(p) for dev, p in outs.items()}


def main():
    for copy in ("mbuf", "one"):
        one_path(sys.argv[1], copy)
    two_workers(sys.argv[1], os.path.abspath(sys.argv[2]))


def one_path(binary, copy):
    wd = t.workdir("bridge-" + copy)
    link = {"bridge": "br0", "ports": ["A", "B", "C"], "mac_table_size": 16,
            "max_macs_per_port": 4}
    if copy == "mbuf":
        link["one_copy"] = False  # (one copy is a bridge's default)
    cfg = {"runtime_dir": wd,
           "devices": [{"name": n, "type": "net", "socket": os.path.join(wd, f"{n}.sock")}
                       for n in ("A", "B", "C")],
           "links": [link]}
    gw = t.Gateway(binary, wd, cfg).start()
    t.log(f"--- {copy} copy ---")
    for dev in ("A", "B", "C"):
        got = gw.device(dev).get("copy")
        t.check(got == copy, f"device {dev}: copy {got!r}, expected {copy!r}")

    learn = [t.frame("ff:ff:ff:ff:ff:ff", MB, 60, 1),
             t.frame("01:00:5e:00:00:01", MB, 60, 2),
             t.frame(MZ, MB, 60, 3)]
    got = frontend(wd, gw, "phase1", "B", learn, ["A", "C"])
    for dev in ("A", "C"):
        t.check(got[dev] == learn, f"phase 1: {dev} got {len(got[dev])} frames, "
                f"expected the 3 flooded ones byte-identical")
    macs = gw.stats("B")["bridge_macs"]
    t.check(macs == 1, f"phase 1: bridge learned {macs} MACs, expected 1 (B)")
    t.log("phase 1: broadcast, multicast and unknown unicast flooded to A and C; B learned")

    send = []
    for i in range(250):
        send.append(t.frame(MZ if i % 5 == 4 else MB, MA, 64 + i, 100 + i))
    unknown = [f for f in send if f[:6] == t.mac(MZ)]
    phase2(gw, wd, "phase2", send, unknown, len(learn))

    spray = [t.frame(MZ, f"02:00:00:00:10:{i:02x}", 60, 600 + i) for i in range(40)]
    got = frontend(wd, gw, "phase3", "C", spray, ["A", "B"])
    for dev in ("A", "B"):
        t.check(got[dev] == spray, f"phase 3: {dev} got {len(got[dev])} frames, expected "
                f"the {len(spray)} flooded ones")
    sc = gw.stats("C")
    t.check(sc["bridge_macs_port"] == 4 and sc["bridge_macs_refused"] == 36,
            f"phase 3: C learned {sc['bridge_macs_port']} and was refused "
            f"{sc['bridge_macs_refused']}, expected 4 and 36")
    t.check(gw.stats("A")["bridge_macs_port"] == 1 and gw.stats("B")["bridge_macs_port"] == 1,
            "phase 3: A's or B's entry is gone")
    t.check(sc["bridge_macs"] == 6, f"phase 3: the table holds {sc['bridge_macs']}, expected 6")
    t.wait_for("the cap's warning",
               lambda: "port C is at its cap of learned MACs" in gw.proc.output())
    t.log("phase 3: 40 sources sprayed by C: 4 learned, 36 refused, A and B kept")
    phase2(gw, wd, "phase4", send, unknown, len(learn) + len(unknown))
    t.check(gw.mbufs_in_use() == 0, f"mbufs in use: {gw.mbufs_in_use()}")
    gw.stop()


def phase2(gw, wd, name, send, unknown, c_before):
    """A sends to B (known) and to MZ (unknown): B gets every frame, C only
    the unknown ones (c_before: what C was sent before)."""
    copy = gw.device("A").get("copy")
    a0, b0 = gw.stats("A"), gw.stats("B")
    got = frontend(wd, gw, name, "A", send, ["B", "C"])
    t.check(got["B"] == send, f"{name}: B got {len(got['B'])} frames, expected all "
            f"{len(send)} in order")
    t.check(got["C"] == unknown, f"{name}: C got {len(got['C'])} frames, expected only "
            f"the {len(unknown)} to the unknown MAC")
    t.check(gw.stats("A")["bridge_macs_port"] == 1, f"{name}: the bridge did not learn A")
    sc = gw.stats("C")
    t.check(sc["tx_packets"] == c_before + len(unknown),
            f"{name}: C tx_packets {sc['tx_packets']}, expected {c_before + len(unknown)}")
    sb = gw.stats("B")
    t.check(sb["tx_packets"] - b0["tx_packets"] == len(send) and sb["drops"] == 0,
            f"{name}: B tx_packets +{sb['tx_packets'] - b0['tx_packets']} drops "
            f"{sb['drops']}, expected +{len(send)} and 0")
    sa = gw.stats("A")
    t.check(sa["rx_packets"] - a0["rx_packets"] == len(send) and sa["drops"] == 0,
            f"{name}: A rx_packets +{sa['rx_packets'] - a0['rx_packets']} drops "
            f"{sa['drops']}, expected +{len(send)} and 0")
    if copy == "one":
        bad = sum(gw.stats(d)["malformed"] for d in ("A", "B", "C"))
        t.check(bad == 0, f"{bad} chains refused as malformed, expected 0")
    t.log(f"{name}: {len(send) - len(unknown)} known-unicast frames went to B only, "
          f"{len(unknown)} unknown ones flooded to B and C")


def two_workers(binary, tool):
    """A one-copy bridge on two workers, one on each CPU: each port has a
    task of its own, so A's and B's run on different workers and write
    into C's receive ring at the same time (C not learned: every frame is
    flooded, so each task also holds the other sender's receive side).
    Two vufront-net senders at a pace C's ring of 4,096 buffers absorbs
    (200 ms of a stalled receiver); C gets every frame of each,
    byte-identical, in its sender's order."""
    wd = t.workdir("bridge-2w")
    sock = {n: os.path.join(wd, f"{n}.sock") for n in ("A", "B", "C")}
    cfg = {"runtime_dir": wd,
           "devices": [{"name": n, "type": "net", "socket": sock[n]} for n in ("A", "B", "C")],
           "links": [{"bridge": "br0", "ports": ["A", "B", "C"], "one_copy": True}]}
    gw = t.Gateway(binary, wd, cfg, lcores="0@0,1@0,2@1").start()
    t.log("--- one copy, two workers ---")
    n, lo, hi = 20000, 60, 1514
    dump = os.path.join(wd, "C.hex")
    rc = t.VufrontNet(tool, wd, "2w-recv-C", [
        "--socket", sock["C"], "--recv", str(2 * n), "--ring-size", "4096",
        "--mrg-rxbuf", "--timeout-ms", "20000", "--dump", dump])
    rc.wait_ready()
    loops0 = [w["busy_loops"] for w in gw.ctl("stats")["workers"]]
    senders = {}
    for seed, (src, smac) in enumerate((("A", MA), ("B", MB)), 1):
        senders[src] = t.VufrontNet(tool, wd, f"2w-send-{src}", [
            "--socket", sock[src], "--send", str(n), "--rate", "10000", "--size",
            f"{lo}-{hi}", "--seed", str(seed), "--src", smac, "--dst", MC,
            "--timeout-ms", "20000"])
    for f in senders.values():
        f.wait_ready()
    out_c = rc.finish()
    for f in senders.values():
        f.finish()
    loops1 = [w["busy_loops"] for w in gw.ctl("stats")["workers"]]
    busy = [b - a for a, b in zip(loops0, loops1)]
    t.check(len(busy) == 2 and all(b > 0 for b in busy),
            f"busy loops per worker {busy}: the ports' tasks did not run on both workers")
    t.check(rc.field(out_c, "received") == 2 * n,
            f"C received {rc.field(out_c, 'received')} frames, expected {2 * n}")
    with open(dump) as fh:
        got = [bytes.fromhex(line.strip()) for line in fh if line.strip()]
    for seed, (src, smac) in enumerate((("A", MA), ("B", MB)), 1):
        mine = [f for f in got if f[6:12] == t.mac(smac)]
        want = [t.vufront_frame(seed, lo, hi, i, dst=MC, src=smac) for i in range(n)]
        first = next((i for i, (a, b) in enumerate(zip(mine, want)) if a != b), None)
        t.check(mine == want, f"C got {len(mine)} frames from {src}, expected {n} "
                f"byte-identical in order (first difference at {first})")
    sc = gw.stats("C")
    t.check(sc["drops"] == 0 and sc["tx_packets"] == 2 * n,
            f"C: tx_packets {sc['tx_packets']} drops {sc['drops']}, expected {2 * n} and 0")
    bad = sum(gw.stats(d)["malformed"] for d in ("A", "B", "C"))
    t.check(bad == 0, f"{bad} chains refused as malformed, expected 0")
    t.log(f"two workers (busy loops {busy}): C got all {2 * n} frames of A and B "
          f"intact, each sender's in order")
    gw.stop()


if __name__ == "__main__":
    t.run(main)
