#!/usr/bin/env python3
"""Learning bridge: unknown, broadcast and multicast destinations are flooded
to every other port; once a MAC is learned its frames go to its port only.

Three net devices A, B, C on bridge br0. Phase 1: B sends a broadcast, a
multicast and an unknown-unicast frame: A and C each get all three, and the
bridge has learned B. Phase 2: A sends frames to B (known) interleaved with
frames to an unknown MAC: B gets all of them in order, C only the unknown
ones. Both paths: the mbuf path (the default) and the one-copy bridge
(one_copy on: each frame from the sender's buffers straight into every
receiver's, lib/net/net_oc.c), each on a gateway of its own.
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


def one_path(binary, copy):
    wd = t.workdir("bridge-" + copy)
    link = {"bridge": "br0", "ports": ["A", "B", "C"]}
    if copy == "one":
        link["one_copy"] = True
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
    got = frontend(wd, gw, "phase2", "A", send, ["B", "C"])
    t.check(got["B"] == send, f"phase 2: B got {len(got['B'])} frames, expected all "
            f"{len(send)} in order")
    t.check(got["C"] == unknown, f"phase 2: C got {len(got['C'])} frames, expected only "
            f"the {len(unknown)} to the unknown MAC")
    t.check(gw.stats("A")["bridge_macs"] == 2, "phase 2: the bridge did not learn A")
    sc = gw.stats("C")
    t.check(sc["tx_packets"] == len(learn) + len(unknown),
            f"C tx_packets {sc['tx_packets']}, expected {len(learn) + len(unknown)}")
    sb = gw.stats("B")
    t.check(sb["tx_packets"] == len(send) and sb["drops"] == 0,
            f"B tx_packets {sb['tx_packets']} drops {sb['drops']}, expected {len(send)} and 0")
    sa = gw.stats("A")
    t.check(sa["rx_packets"] == len(send) and sa["drops"] == 0,
            f"A rx_packets {sa['rx_packets']} drops {sa['drops']}, expected {len(send)} and 0")
    if copy == "one":
        bad = sum(gw.stats(d)["malformed"] for d in ("A", "B", "C"))
        t.check(bad == 0, f"{bad} chains refused as malformed, expected 0")
    t.log(f"phase 2: {len(send) - len(unknown)} known-unicast frames went to B only, "
          f"{len(unknown)} unknown ones flooded to B and C")
    t.check(gw.mbufs_in_use() == 0, f"mbufs in use: {gw.mbufs_in_use()}")
    gw.stop()


if __name__ == "__main__":
    t.run(main)
