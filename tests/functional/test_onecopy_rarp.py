#!/usr/bin/env python3
"""onecopy_rarp: SEND_RARP makes the port's link receive a RARP from the
guest's MAC, as if the guest had sent it (after a live migration QEMU sends
SEND_RARP for a guest without VIRTIO_NET_F_GUEST_ANNOUNCE, so that
switches learn where the guest now is).

On the mbuf path rte_vhost injects the frame itself (first in a burst of
rte_vhost_dequeue_burst); a one-copy port never dequeues through rte_vhost,
so lib/net/net_oc.c injects it. Six links, each on a gateway of its own,
every check the same on both paths (but the one noted):

- bridge-one, bridge-mbuf: bridge br0 of vhost-user net devices A and B
  (vufront-net front-ends) and up0, a net_tap uplink in a network namespace
  the test creates. A's front-end negotiates the RARP protocol feature and
  sends SEND_RARP with MAC R (A sends nothing else):
  1. B and the kernel on the tap each receive exactly one frame: the RARP
     (broadcast, from R, ethertype 0x8035, a reverse request with R as
     sender and target hardware address, no IP addresses, 64 bytes);
     A's rarp_sent and rx_packets are 1.
  2. The bridge learned R on A: a unicast to R from the kernel reaches A
     and not B, a unicast to R from B reaches A and not the kernel (each
     followed by a broadcast on the same path, which the other port does
     get: had the unicast been flooded, it would have arrived first).
- xconnect-one, xconnect-mbuf: A and B cross-connected, A suspended by the
  operator when its front-end sends SEND_RARP (its device does not run, as
  at a migration's destination before the incoming VM starts its rings):
  nothing is sent meanwhile; once A is resumed B receives exactly the RARP.
- xconnect-full-one, xconnect-full-mbuf: A and B cross-connected, B's
  front-end dpdk-testpmd (net_virtio_user) with its forwarding stopped: its
  port is started (256 receive buffers posted) and never polled. A first
  front-end on A sends 256 frames, which fill B's ring (every one taken:
  it exits clean); a second one sends SEND_RARP (acked), then 100 frames,
  and stays connected until B has them (on the mbuf path frames the
  gateway holds for B are dropped when their sender leaves).
  While B has no room nothing goes and nothing is dropped (on the one-copy
  path rarp_sent stays 0: the request waits in the port, and nothing is
  taken from A's ring behind it). Once testpmd forwards again B gets the
  256 frames, the RARP once, then the 100, byte-identical and in order;
  A's rx and B's tx counters are exactly those frames and bytes, the RARP
  included, and rarp_sent is 1.
The 22 bytes after the RARP header are zero on both paths (on the mbuf path
rte_vhost 22.11 leaves whatever its mbuf held there, bytes of earlier
frames; the gateway zeroes them before the frame goes anywhere).
"""
import os
import struct
import subprocess
import sys
import time

import vgwtest as t

MAC_R = "52:54:00:12:34:56"  # the migrated guest's
MAC_B, MAC_U = "02:00:00:00:00:0b", "02:00:00:00:00:77"
BCAST = "ff:ff:ff:ff:ff:ff"
IFACE = "vgwrarp0"
ETH_TYPE = 0x88B5
TIMEOUT_MS = "60000"
RING = 256  # B's receive ring (xconnect_full): testpmd posts a buffer per entry
NEXT = 100  # frames A sends after the SEND_RARP B has no room for


def rarp_frame(m):
    """rte_net_make_rarp_packet()'s frame for MAC m: its first 42 bytes."""
    r = t.mac(m)
    return (b"\xff" * 6 + r + struct.pack("!H", 0x8035) +
            struct.pack("!HHBBH", 1, 0x0800, 6, 4, 3) + r + b"\0" * 4 + r + b"\0" * 4)


def check_rarp(name, who, f, one_copy):
    want = rarp_frame(MAC_R)
    t.check(len(f) == 64 and f[:42] == want,
            f"{name}: {who} got {f.hex()}, expected the RARP {want.hex()} "
            f"and padding to 64 bytes")
    # rte_vhost 22.11 leaves its mbuf's old bytes there on the mbuf path:
    # the gateway zeroes them before the frame goes anywhere
    t.check(f[42:] == b"\0" * 22, f"{name}: {who}: the RARP's padding is not zero: "
            f"{f[42:].hex()}")


def read_hex(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [bytes.fromhex(x) for x in f.read().split()]


def start_link(binary, name, devs, link, netns=None):
    wd = t.workdir("onecopy_rarp-" + name)
    sock = {d: os.path.join(wd, f"{d}.sock") for d in ("A", "B")}
    devices = [{"name": d, "type": "net", "socket": sock[d]} for d in ("A", "B")]
    if "up0" in devs:
        devices.append({"name": "up0", "type": "ethdev",
                        "devargs": f"net_tap0,iface={IFACE}"})
    cfg = {"runtime_dir": wd, "devices": devices, "links": [link]}
    gw = t.Gateway(binary, wd, cfg, netns=netns).start()
    copy = "one" if link.get("one_copy") else "mbuf"
    for d in ("A", "B"):
        got = gw.device(d).get("copy")
        t.check(got == copy, f"{name}: device {d}: copy {got!r}, expected {copy!r}")
    return wd, sock, gw


def announce(gw, tool, wd, name, sock, recv, suspended=False):
    """A's front-end: SEND_RARP with MAC_R once ready, then receive recv
    frames; returns it once the gateway sent the RARP. suspended: A is
    suspended by the operator meanwhile (its device does not run): the
    RARP waits for the resume."""
    a = t.VufrontNet(tool, wd, f"{name}-a", ["--socket", sock, "--rarp", MAC_R, "--recv",
                                             str(recv), "--dump", os.path.join(wd, "a.hex"),
                                             "--timeout-ms", TIMEOUT_MS])
    a.wait_ready()
    # (acked: the gateway handled the message)
    t.check(a.proc.wait_output(r"(?m)^rarp$", 30),
            f"{name}: A's front-end sent no SEND_RARP:\n{a.proc.output()[-2000:]}")
    if suspended:
        sa = gw.stats("A")
        t.check(sa["rarp_sent"] == 0 and sa["rx_packets"] == 0,
                f"{name}: a RARP sent for A while it is suspended: {sa}")
        r = gw.ctl("resume", device="A")
        t.check(r["ok"], f"{name}: resume A: {r}")
    gw.wait_counter("A", "rarp_sent", 1)
    return a


def check_counters(gw, name, expect_tx_b):
    sa, sb = gw.stats("A"), gw.stats("B")
    t.check(sa["rarp_sent"] == 1, f"{name}: A's rarp_sent {sa['rarp_sent']}, expected 1")
    t.check(sa["rx_packets"] == 1 and sa["rx_bytes"] == 64,
            f"{name}: A took {sa['rx_packets']} frames ({sa['rx_bytes']} bytes) from its "
            f"guest, expected the RARP alone (1, 64 bytes)")
    t.check(sb["rarp_sent"] == 0, f"{name}: B's rarp_sent {sb['rarp_sent']}")
    t.check(sb["tx_packets"] == expect_tx_b and sb["drops"] == 0,
            f"{name}: B got {sb['tx_packets']} frames, {sb['drops']} dropped, "
            f"expected {expect_tx_b}, 0")
    for d, s in (("A", sa), ("B", sb)):
        t.check(s.get("malformed", 0) == 0, f"{name}: {d} counted malformed chains: {s}")
    return sa, sb


def xconnect(binary, tool, name, one_copy):
    link = {"xconnect": ["A", "B"], "one_copy": one_copy}
    wd, sock, gw = start_link(binary, name, ("A", "B"), link)
    # A's device does not run when SEND_RARP comes (as at a migration's
    # destination, where it may come before the incoming VM starts)
    r = gw.ctl("suspend", device="A")
    t.check(r["ok"], f"{name}: suspend A: {r}")
    b_hex = os.path.join(wd, "b.hex")
    # B first sends 200 frames of 128 bytes toward A, which has no
    # front-end yet: dropped, and the gateway's buffers that held them
    # (mbufs on the mbuf path) go back to its pool, where the RARP's buffer
    # is taken from: padding left as the buffer held it would show here
    b = t.VufrontNet(tool, wd, f"{name}-b", ["--socket", sock["B"], "--send", "200",
                                             "--size", "128", "--recv", "1",
                                             "--dump", b_hex, "--timeout-ms", TIMEOUT_MS])
    b.wait_ready()
    gw.wait_counter("A", "drops", 200)  # on both paths: dropped toward A
    # (A waits for a frame that never comes: connected until stopped)
    a = announce(gw, tool, wd, name, sock["A"], 1, suspended=True)
    b.finish()
    got = read_hex(b_hex)
    t.check(len(got) == 1, f"{name}: B got {len(got)} frames, expected the RARP")
    check_rarp(name, "B", got[0], one_copy)
    check_counters(gw, name, 1)
    a.proc.stop()
    a.proc.check_sanitizer()
    t.log(f"{name}: SEND_RARP on A while suspended: nothing sent; once resumed B got the "
          f"RARP from {MAC_R}, A's rarp_sent 1")
    gw.stop()


def xconnect_full(binary, tool, name, one_copy):
    """A RARP that B's full receive ring holds back: delivered once B makes
    room, after the frames that filled the ring and ahead of A's next ones,
    nothing lost or repeated."""
    link = {"xconnect": ["A", "B"], "one_copy": one_copy}
    wd, sock, gw = start_link(binary, name, ("A", "B"), link)
    out = os.path.join(wd, "b.pcap")
    # B: dpdk-testpmd, its forwarding stopped: the port is started (RING
    # receive buffers posted) and never polled, so its ring fills
    tpb = t.Testpmd(wd, [f"net_virtio_user0,path={sock['B']},queue_size={RING}",
                         f"net_pcap0,tx_pcap={out}"],
                    name="tpb" + ("one" if one_copy else "mbuf"),
                    args=["--forward-mode=io", "--port-topology=paired", f"--rxd={RING}",
                          f"--txd={RING}"])
    try:
        gw.wait_ready(["B"])
        a2 = full_stalled(gw, tool, wd, name, sock["A"], one_copy)
        tpb.cmd("start")  # B polls again: its ring drains
        gw.wait_counter("B", "tx_packets", RING + 1 + NEXT)
        tpb.cmd("stop")
    finally:
        tpb.quit()
    a2.proc.stop()
    a2.proc.check_sanitizer()
    got = t.read_pcap(out)
    a1 = read_hex(os.path.join(wd, "a1.hex"))
    # A's second front-end was stopped, not left to finish: its frames as
    # vufront-net makes them (the first front-end's dump checks the recipe)
    t.check(a1 == [t.vufront_frame(3, 60, 1514, i) for i in range(RING)],
            f"{name}: A's first front-end did not send vufront-net's frames of --seed 3")
    a2 = [t.vufront_frame(4, 60, 1514, i) for i in range(NEXT)]
    want = len(a1) + 1 + len(a2)
    t.check(len(got) == want, f"{name}: B got {len(got)} frames, expected {want} (the "
            f"{len(a1)} that filled its ring, the RARP, A's {len(a2)} next)")
    for i, (x, y) in enumerate(zip(a1, got[:len(a1)])):
        t.check(x == y, f"{name}: B's frame {i} is not A's frame {i} before the RARP: "
                f"{y[:32].hex()}..., expected {x[:32].hex()}...")
    check_rarp(name, f"B (frame {len(a1)})", got[len(a1)], one_copy)
    for i, (x, y) in enumerate(zip(a2, got[len(a1) + 1:])):
        t.check(x == y, f"{name}: B's frame {len(a1) + 1 + i} is not A's frame {i} after "
                f"the RARP: {y[:32].hex()}..., expected {x[:32].hex()}...")
    rarps = [i for i, f in enumerate(got) if f[12:14] == b"\x80\x35"]
    t.check(rarps == [len(a1)], f"{name}: RARPs at {rarps}, expected one at {len(a1)}")
    sa, sb = gw.stats("A"), gw.stats("B")
    nbytes = sum(len(f) for f in a1 + a2) + 64
    t.check(sa["rarp_sent"] == 1, f"{name}: A's rarp_sent {sa['rarp_sent']}, expected 1")
    t.check(sa["rx_packets"] == want and sa["rx_bytes"] == nbytes,
            f"{name}: A took {sa['rx_packets']} frames ({sa['rx_bytes']} bytes), expected "
            f"{want} ({nbytes})")
    t.check(sb["tx_packets"] == want and sb["tx_bytes"] == nbytes,
            f"{name}: B got {sb['tx_packets']} frames ({sb['tx_bytes']} bytes), expected "
            f"{want} ({nbytes})")
    for d, st in (("A", sa), ("B", sb)):
        t.check(st["drops"] == 0 and st.get("malformed", 0) == 0,
                f"{name}: {d} dropped {st['drops']}, refused {st.get('malformed', 0)}: {st}")
    t.log(f"{name}: SEND_RARP while B's ring was full ({len(a1)} frames): held, then B "
          f"got the RARP once, after those and before A's {len(a2)} next, none lost")
    gw.stop()


def full_stalled(gw, tool, wd, name, sock_a, one_copy):
    """B's ring filled by a first front-end on A; a second one sends
    SEND_RARP and more frames, which wait; returns the second, running."""
    # A's first front-end: exactly RING frames, all taken into B's ring (it
    # exits once every one is consumed: the gateway holds none)
    a1 = t.VufrontNet(tool, wd, f"{name}-a1",
                      ["--socket", sock_a, "--send", str(RING), "--size", "60-1514", "--seed",
                       "3", "--dump-sent", os.path.join(wd, "a1.hex"), "--timeout-ms",
                       TIMEOUT_MS])
    a1.wait_ready()
    a1.finish()
    gw.wait_counter("B", "tx_packets", RING)
    sa, sb = gw.stats("A"), gw.stats("B")
    t.check(sb["tx_packets"] == RING and sa["drops"] == 0 and sb["drops"] == 0,
            f"{name}: B got {sb['tx_packets']} frames, drops A {sa['drops']} B {sb['drops']}, "
            f"expected {RING} (its ring full), 0, 0")
    # A's second front-end: SEND_RARP (acked), then frames B has no room
    # for. It stays connected until stopped (it waits for a frame that never
    # comes): on the mbuf path its descriptors come back once the gateway
    # copied the frames into mbufs, and frames the gateway still held for B
    # when A's front-end left would be dropped
    a2 = t.VufrontNet(tool, wd, f"{name}-a2",
                      ["--socket", sock_a, "--rarp", MAC_R, "--send", str(NEXT), "--size",
                       "60-1514", "--seed", "4", "--recv", "1", "--timeout-ms", TIMEOUT_MS])
    a2.wait_ready()
    t.check(a2.proc.wait_output(r"(?m)^rarp$", 30),
            f"{name}: A's front-end sent no SEND_RARP:\n{a2.proc.output()[-2000:]}")
    time.sleep(1)  # thousands of passes of the gateway
    sa, sb = gw.stats("A"), gw.stats("B")
    t.check(sb["tx_packets"] == RING and sb["drops"] == 0 and sa["drops"] == 0,
            f"{name}: while B's ring is full B got {sb['tx_packets']} frames (expected "
            f"{RING}), drops A {sa['drops']} B {sb['drops']} (expected 0)")
    if one_copy:
        # the request waits in the port, not sent and not dropped (the mbuf
        # path counts rte_vhost's RARP once it dequeued it)
        t.check(sa["rarp_sent"] == 0, f"{name}: A's rarp_sent {sa['rarp_sent']} while B "
                f"has no room, expected 0 (held)")
    t.check(a2.proc.alive(), f"{name}: A's second front-end exited while B had no room:\n"
            f"{a2.proc.output()[-2000:]}")
    t.log(f"{name}: B's ring full ({RING} frames); SEND_RARP and {NEXT} frames on A wait "
          f"(rarp_sent {sa['rarp_sent']})")
    return a2


def bridge(binary, tool, name, one_copy):
    ns = f"vgwrarp{os.getpid()}"
    t.sh("ip", "netns", "add", ns)
    try:
        bridge_ns(binary, tool, name, one_copy, ns)
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def bridge_ns(binary, tool, name, one_copy, ns):
    for key in ("all", "default"):
        t.sh("ip", "netns", "exec", ns, "sysctl", "-qw", f"net.ipv6.conf.{key}.disable_ipv6=1")
    link = {"bridge": "br0", "ports": ["A", "B", "up0"], "one_copy": one_copy}
    wd, sock, gw = start_link(binary, name, ("A", "B", "up0"), link, netns=ns)
    t.sh("ip", "netns", "exec", ns, "ip", "link", "set", IFACE, "up")
    gw.wait_ready(["up0"])
    # the kernel: the RARP, then B's broadcast (and nothing between)
    k_hex = os.path.join(wd, "kernel.hex")
    cap = t.Proc("capture", [sys.executable, "-c", t.PACKET_CAPTURE, IFACE, "2", k_hex, "120",
                             "8035,88b5"], wd,
                 netns=ns)
    t.check(cap.wait_output("listening", 10), f"capture did not start: {cap.output()}")
    # B: the RARP, then the kernel's broadcast (not its unicast to R)
    b_hex = os.path.join(wd, "b.hex")
    b = t.VufrontNet(tool, wd, f"{name}-b", ["--socket", sock["B"], "--recv", "2",
                                             "--dump", b_hex, "--timeout-ms", TIMEOUT_MS])
    b.wait_ready()
    # A: the kernel's unicast and broadcast, then B's
    a = announce(gw, tool, wd, name, sock["A"], 4)
    t.wait_for(f"{name}: the RARP on {IFACE}", lambda: len(read_hex(k_hex)) >= 1, 30)
    check_rarp(name, f"the kernel on {IFACE}", read_hex(k_hex)[0], one_copy)
    t.check(gw.stats("up0")["tx_packets"] == 1,
            f"{name}: up0 sent {gw.stats('up0')['tx_packets']} frames, expected the RARP")

    # 2a: the kernel -> R: to A only
    from_k = [t.frame(MAC_R, MAC_U, 100, 1, ETH_TYPE), t.frame(BCAST, MAC_U, 100, 2, ETH_TYPE)]
    send_hex = os.path.join(wd, "send.hex")
    with open(send_hex, "w") as f:
        f.writelines(x.hex() + "\n" for x in from_k)
    t.sh("ip", "netns", "exec", ns, sys.executable, "-c", t.PACKET_SEND, IFACE, send_hex)
    b.finish()
    got_b = read_hex(b_hex)
    t.check(len(got_b) == 2, f"{name}: B got {len(got_b)} frames, expected 2")
    check_rarp(name, "B", got_b[0], one_copy)
    t.check(got_b[1] == from_k[1], f"{name}: B's second frame {got_b[1].hex()}, expected the "
            f"kernel's broadcast (its unicast to {MAC_R} is A's alone)")

    # 2b: B -> R: to A only; then a broadcast the kernel gets
    sent = []
    for i, dst in enumerate((MAC_R, BCAST)):
        sent_hex = os.path.join(wd, f"b-sent-{i}.hex")
        s = t.VufrontNet(tool, wd, f"{name}-b-send-{i}",
                         ["--socket", sock["B"], "--send", "1", "--size", "80", "--seed",
                          str(10 + i), "--src", MAC_B, "--dst", dst, "--dump-sent", sent_hex,
                          "--timeout-ms", TIMEOUT_MS])
        s.wait_ready()
        s.finish()
        sent += read_hex(sent_hex)
    t.check(len(sent) == 2, f"{name}: B's front-ends sent {len(sent)} frames, expected 2")
    a.finish()
    got_a = read_hex(os.path.join(wd, "a.hex"))
    t.check(got_a == from_k + sent,
            f"{name}: A got {[f.hex()[:28] for f in got_a]}, expected the kernel's unicast "
            f"and broadcast, then B's (dst, src: "
            f"{[f.hex()[:28] for f in from_k + sent]})")
    t.check(cap.wait(30) is not None, f"{name}: the kernel got {len(read_hex(k_hex))} of 2 "
            f"frames: {[f.hex()[:28] for f in read_hex(k_hex)]}")
    got_k = read_hex(k_hex)
    t.check(len(got_k) == 2 and got_k[1] == sent[1],
            f"{name}: the kernel's second frame {got_k[-1].hex()[:28]}, expected B's "
            f"broadcast (its unicast to {MAC_R} is A's alone)")
    sa, sb = check_counters(gw, name, 2)
    su = gw.stats("up0")
    t.check(su["tx_packets"] == 2 and su["drops"] == 0,
            f"{name}: up0 sent {su['tx_packets']} frames, dropped {su['drops']}, expected 2, 0")
    t.check(sa["tx_packets"] == 4, f"{name}: A got {sa['tx_packets']} frames, expected 4")
    t.log(f"{name}: SEND_RARP on A: B and the kernel got the RARP from {MAC_R}; the bridge "
          f"learned it on A (unicasts from the kernel and from B reached A alone); "
          f"A's rarp_sent 1")
    gw.stop()


def main():
    binary, tool = sys.argv[1], os.path.abspath(sys.argv[2])
    for one_copy in (True, False):
        suffix = "one" if one_copy else "mbuf"
        xconnect(binary, tool, f"xconnect-{suffix}", one_copy)
        xconnect_full(binary, tool, f"xconnect-full-{suffix}", one_copy)
        bridge(binary, tool, f"bridge-{suffix}", one_copy)


if __name__ == "__main__":
    t.run(main)
