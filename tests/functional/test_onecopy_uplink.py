#!/usr/bin/env python3
"""onecopy_uplink: an ethdev uplink on a one-copy bridge (lib/net/net_oc.c).

Bridge br0, one_copy on: vhost-user net devices A and B (dpdk-testpmd's
net_virtio_user) and up0, a net_tap uplink. The gateway runs inside a
network namespace this test creates, so the tap interface lives there and
never in the host's namespace.

1. A sends broadcast and unknown-unicast frames of 60-1514 bytes: B gets
   every one from A's buffers into its own (one copy), the kernel sees every
   one on the tap (from A's buffers into mbufs), byte-identical, in order.
2. The kernel sends frames to A's address (learned in 1) and broadcasts on
   the tap: A gets all of them, B only the broadcasts, byte-identical, in
   order (from the mbufs into the guests' buffers).
Counters on every port match what arrived, nothing refused as malformed,
and the mbufs in use are what they were before the traffic (the tap's
receive ring) once it is over: none lost in the staging for up0.
"""
import os
import subprocess
import sys
import time

import vgwtest as t

ETH_TYPE = 0x88B5
IFACE = "vgwoc0"
MA, MB, MU, MZ = ("02:00:00:00:00:0a", "02:00:00:00:00:0b", "02:00:00:00:00:77",
                  "02:00:00:00:00:99")
BCAST = "ff:ff:ff:ff:ff:ff"




def main():
    binary = sys.argv[1]
    wd = t.workdir("onecopy-uplink")
    ns = f"vgwoc{os.getpid()}"
    t.sh("ip", "netns", "add", ns)
    try:
        run(binary, wd, ns)
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def run(binary, wd, ns):
    for key in ("all", "default"):
        t.sh("ip", "netns", "exec", ns, "sysctl", "-qw", f"net.ipv6.conf.{key}.disable_ipv6=1")
    sock = {n: os.path.join(wd, f"{n}.sock") for n in ("A", "B")}
    cfg = {"runtime_dir": wd,
           "devices": [{"name": "A", "type": "net", "socket": sock["A"]},
                       {"name": "B", "type": "net", "socket": sock["B"]},
                       {"name": "up0", "type": "ethdev", "devargs": f"net_tap0,iface={IFACE}"}],
           "links": [{"bridge": "br0", "ports": ["A", "B", "up0"], "one_copy": True}]}
    gw = t.Gateway(binary, wd, cfg, netns=ns).start()
    t.sh("ip", "netns", "exec", ns, "ip", "link", "set", IFACE, "up")
    for dev in ("A", "B"):
        got = gw.device(dev).get("copy")
        t.check(got == "one", f"device {dev}: copy {got!r}, expected 'one'")
    mbufs_before = gw.mbufs_in_use()

    # 1: A -> B and the uplink
    out = [t.frame(BCAST if i % 3 == 0 else MZ, MA, 60 + (i * 37) % 1455, i, ETH_TYPE)
           for i in range(300)]
    out.append(t.frame(MZ, MA, 1514, 999, ETH_TYPE))
    src = os.path.join(wd, "a-in.pcap")
    b_out = os.path.join(wd, "b-out-1.pcap")
    t.write_pcap(src, out)
    cap_out = os.path.join(wd, "kernel.hex")
    cap = t.Proc("capture",
                 [sys.executable, "-c", t.PACKET_CAPTURE, IFACE, str(len(out)), cap_out, "60"],
                 wd, netns=ns)
    t.check(cap.wait_output("listening", 10), f"capture did not start: {cap.output()}")
    tp = t.Testpmd(wd, [f"net_pcap0,rx_pcap={src}", f"net_virtio_user0,path={sock['A']}",
                        f"net_virtio_user1,path={sock['B']}", f"net_pcap1,tx_pcap={b_out}"],
                   name="tp1", args=["--forward-mode=io", "--port-topology=paired"])
    try:
        gw.wait_ready(["A", "B", "up0"])
        tp.cmd("set fwd io retry")
        # testpmd's own retry budget (64 x 1 us) is shorter than a
        # scheduling hiccup of the gateway's core: let it wait up to 1 s
        # for room in A's ring, so a loss counted here is the gateway's
        tp.cmd("set burst tx delay 100 retry 10000")
        tp.cmd("start")
        try:
            gw.wait_counter("A", "rx_packets", len(out))
        except t.TestFailure:
            t.log(tp.cmd("show fwd stats all"))
            raise
        cap.wait(60)
        time.sleep(1)  # B's copies into its pcap
        tp.cmd("stop")
    finally:
        tp.quit()
    got = [bytes.fromhex(x) for x in open(cap_out).read().split()]
    t.check(got == out, f"the kernel saw {len(got)} of {len(out)} frames on {IFACE} "
            f"(or not byte-identical, in order); up0: {gw.stats('up0')}")
    got_b = t.read_pcap(b_out)
    t.check(got_b == out, f"B got {len(got_b)} of {len(out)} frames (or not identical)")
    t.log(f"1: {len(out)} frames from A reached B and the kernel on {IFACE}, byte-identical")

    # 2: the uplink -> A (learned) and both (broadcasts)
    back = []
    for i in range(200):
        dst = BCAST if i % 10 == 0 else MA
        back.append(t.frame(dst, MU, 60 + (i * 53) % 1455, 5000 + i, ETH_TYPE))
    a_out, b_out2 = os.path.join(wd, "a-out-2.pcap"), os.path.join(wd, "b-out-2.pcap")
    tp = t.Testpmd(wd, [f"net_virtio_user0,path={sock['A']}", f"net_pcap0,tx_pcap={a_out}",
                        f"net_virtio_user1,path={sock['B']}", f"net_pcap1,tx_pcap={b_out2}"],
                   name="tp2", args=["--forward-mode=io", "--port-topology=paired"])
    try:
        gw.wait_ready(["A", "B", "up0"])
        before_a = gw.stats("A")["tx_packets"]
        tp.cmd("set fwd io retry")
        tp.cmd("set burst tx delay 100 retry 10000")
        tp.cmd("start")
        hexfile = os.path.join(wd, "back.hex")
        with open(hexfile, "w") as f:
            f.writelines(x.hex() + "\n" for x in back)
        t.sh("ip", "netns", "exec", ns, sys.executable, "-c", t.PACKET_SEND, IFACE, hexfile)
        gw.wait_counter("A", "tx_packets", before_a + len(back))
        time.sleep(1)
        tp.cmd("stop")
    finally:
        tp.quit()
    bcasts = [f for f in back if f[:6] == b"\xff" * 6]
    got_a = [f for f in t.read_pcap(a_out) if f[12:14] == b"\x88\xb5"]
    got_b = [f for f in t.read_pcap(b_out2) if f[12:14] == b"\x88\xb5"]
    t.check(got_a == back, f"A got {len(got_a)} of the kernel's {len(back)} frames "
            f"(or not byte-identical, in order)")
    t.check(got_b == bcasts, f"B got {len(got_b)} frames, expected the {len(bcasts)} broadcasts")
    t.log(f"2: {len(back)} frames from the kernel reached A, the {len(bcasts)} broadcasts B")

    su, sa, sb = gw.stats("up0"), gw.stats("A"), gw.stats("B")
    t.check(su["tx_packets"] >= len(out) and su["drops"] == 0,
            f"up0 tx_packets {su['tx_packets']} drops {su['drops']}, expected {len(out)}, 0")
    t.check(su["rx_packets"] >= len(back), f"up0 rx_packets {su['rx_packets']}")
    t.check(sa["rx_packets"] == len(out) and sa["drops"] == 0,
            f"A rx_packets {sa['rx_packets']} drops {sa['drops']}")
    t.check(sb["tx_packets"] >= len(out) + len(bcasts) and sb["drops"] == 0,
            f"B tx_packets {sb['tx_packets']} drops {sb['drops']}")
    bad = sum(gw.stats(d)["malformed"] for d in ("A", "B"))
    t.check(bad == 0, f"{bad} chains refused as malformed, expected 0")
    mbufs_after = gw.mbufs_in_use()
    t.check(mbufs_after == mbufs_before,
            f"mbufs in use {mbufs_before} before the traffic, {mbufs_after} after")
    t.log(f"counters: up0 tx {su['tx_packets']} rx {su['rx_packets']}, A rx {sa['rx_packets']} "
          f"tx {sa['tx_packets']}, B tx {sb['tx_packets']}; mbufs in use {mbufs_after}")
    gw.stop()


if __name__ == "__main__":
    t.run(main)
