#!/usr/bin/env python3
"""onecopy_offload: checksum and TCP segmentation offloads on a one-copy
xconnect (lib/net/net_oc.c, doc/one-copy.rst), between two vufront-net
front-ends: the sender builds real TCP/IP frames with a virtio-net header
that asks for them (--offload csum|tso4|tso6: NEEDS_CSUM, the pseudo
header's sum in the TCP checksum field as Linux leaves it, TSO frames of up
to 64 KiB with gso_size 1448), the receiver dumps what arrives, header
included.

1. pass: the receiver takes TSO and checksums: every frame arrives whole and
   byte-identical, with the sender's header (flags, gso_type, gso_size,
   hdr_len, csum_start, csum_offset); gso_passed counts the TSO frames. Its
   mergeable buffers are Linux's smallest (1,536 bytes): a frame of 64 KiB
   takes 43 of them.
2. tso4 to a receiver with checksums but no TSO: each frame arrives as its
   segments, in order: Ethernet and IP headers as sent but for the length,
   the IPv4 identification (+1 a segment) and header checksum (valid), the
   TCP sequence (continuous), FIN/PSH only on the last segment, payloads that
   concatenate to the frame's, at most gso_size each; NEEDS_CSUM with the
   segment's own pseudo-header sum in the field.
3. tso4 and 4. tso6 to a receiver with neither: the same, with full TCP
   checksums that verify and a plain header.
5. csum to a receiver without checksums: each frame arrives whole, its TCP
   checksum done (verifies), every other byte as sent.
6. A device with "offloads": false is not offered them: a sender that asks
   for CSUM is refused by vufront-net (exit 2, feature not negotiated).
The sender's counters: segmented frames, segments and checksums done match
what arrived exactly; nothing malformed, nothing dropped.
7. Hostile headers (vufront-net --offload-bad 4): every 4th frame of 201
   asks for what the gateway must refuse (an unknown flag, a checksum past
   the frame, GSO without NEEDS_CSUM or with gso_size 0, UDP, ECN not
   negotiated, gso_size 8, IP version 5, TCP data offset 2, an ARP
   ethertype), to a receiver that takes no offload: each is refused
   (malformed and drops up by exactly 50 on the sender), the 151 others
   arrive segmented and exact, and the gateway goes on.
8. The same frames flooded on a one-copy bridge (e to f and g, f first, g
   taking TSO): f gets what b got; g gets the good frames whole and whole
   too the bad ones only a segmentation refuses (a receiver that could not
   take one did not end the flood before the next); each bad frame counts
   once in e's malformed.
"""
import os
import re
import struct
import sys

import vgwtest as t

SEED = 5
MSS = 1448
F_VERSION_1 = 1 << 32
F_PROTOCOL = 1 << 30
F_CSUM, F_GUEST_CSUM, F_GUEST_TSO4, F_GUEST_TSO6 = 1 << 0, 1 << 1, 1 << 7, 1 << 8
F_HOST_TSO4, F_HOST_TSO6, F_MRG = 1 << 11, 1 << 12, 1 << 15
BASE = F_VERSION_1 | F_PROTOCOL
NEEDS_CSUM = 1
GSO_TCPV4, GSO_TCPV6 = 1, 4


def frame_len(lo, hi, i):
    """vufront-net's length of frame i with --size lo-hi."""
    return t.vufront_frame_len(SEED, lo, hi, i)


def csum16(data):
    """The Internet checksum's ones-complement sum, folded (not
    complemented)."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def pseudo(ip, v6, tcp_len):
    if v6:
        return ip[8:40] + struct.pack("!IxxxB", tcp_len, 6)
    return ip[12:20] + struct.pack("!xBH", 6, tcp_len)


def read_dump(path):
    """[(header bytes, frame bytes)] of a --dump-hdr file."""
    out = []
    with open(path) as f:
        for line in f:
            h, fr = line.split()
            out.append((bytes.fromhex(h), bytes.fromhex(fr)))
    return out


def vhdr(h):
    """flags, gso_type, hdr_len, gso_size, csum_start, csum_offset"""
    return struct.unpack("<BBHHHH", h[:10])


class Split:
    """A TCP/IP frame's parts."""

    def __init__(self, fr):
        self.v6 = struct.unpack("!H", fr[12:14])[0] == 0x86DD
        self.l4 = 14 + (40 if self.v6 else (fr[14] & 15) * 4)
        self.hlen = self.l4 + (fr[self.l4 + 12] >> 4) * 4
        self.ip = fr[14:self.l4]
        self.tcp = fr[self.l4:self.hlen]
        self.payload = fr[self.hlen:]
        self.seq = struct.unpack("!I", self.tcp[4:8])[0]
        self.flags = self.tcp[13]


def check_segments(what, sent, got, rx_csum):
    """Each sent frame arrived as its segments (got, in order)."""
    k = 0
    n_segs = 0
    for i, (sh, sf) in enumerate(sent):
        s = Split(sf)
        flags, gso, _, gso_size, _, _ = vhdr(sh)
        off = 0
        while True:
            t.check(k < len(got), f"{what}: frame {i}: segment at payload {off} missing "
                    f"({len(got)} frames arrived)")
            gh, gf = got[k]
            k += 1
            n_segs += 1
            g = Split(gf)
            where = f"{what}: frame {i} ({len(sf)} bytes), segment at payload {off}"
            t.check(gf[:14] == sf[:14], f"{where}: Ethernet header differs")
            seg = len(g.payload)
            t.check(0 < seg <= (gso_size if gso else len(s.payload)),
                    f"{where}: {seg} payload bytes, gso_size {gso_size}")
            t.check(g.payload == s.payload[off:off + seg], f"{where}: payload differs")
            t.check(g.seq == (s.seq + off) & 0xFFFFFFFF,
                    f"{where}: sequence {g.seq}, not {s.seq + off}")
            last = off + seg == len(s.payload)
            want_flags = s.flags if last else s.flags & ~0x09
            t.check(g.flags == want_flags, f"{where}: TCP flags {g.flags:#x}, not {want_flags:#x}")
            t.check(g.tcp[:4] == s.tcp[:4] and g.tcp[8:13] == s.tcp[8:13] and
                    g.tcp[14:16] == s.tcp[14:16] and g.tcp[18:] == s.tcp[18:],
                    f"{where}: TCP header fields changed")
            tcp_len = len(g.tcp) + seg
            if s.v6:
                t.check(g.ip[:4] == s.ip[:4] and g.ip[6:] == s.ip[6:] and
                        struct.unpack("!H", g.ip[4:6])[0] == tcp_len,
                        f"{where}: IPv6 header wrong")
            else:
                t.check(struct.unpack("!H", g.ip[2:4])[0] == len(g.ip) + tcp_len,
                        f"{where}: IPv4 total length wrong")
                nseg_before = off // gso_size if gso else 0
                t.check(struct.unpack("!H", g.ip[4:6])[0] ==
                        (struct.unpack("!H", s.ip[4:6])[0] + nseg_before) & 0xFFFF,
                        f"{where}: IPv4 identification wrong")
                t.check(csum16(g.ip) == 0xFFFF, f"{where}: IPv4 header checksum wrong")
                t.check(g.ip[:2] == s.ip[:2] and g.ip[6:10] == s.ip[6:10] and
                        g.ip[12:] == s.ip[12:], f"{where}: IPv4 header fields changed")
            gflags, ggso, _, _, cstart, coff = vhdr(gh)
            t.check(ggso == 0, f"{where}: gso_type {ggso} in a segment")
            ph = csum16(pseudo(g.ip, g.v6, tcp_len))
            field = struct.unpack("!H", g.tcp[16:18])[0]
            if rx_csum:
                t.check(gflags == NEEDS_CSUM and cstart == g.l4 and coff == 16,
                        f"{where}: header {vhdr(gh)}, not NEEDS_CSUM at {g.l4}+16")
                t.check(field == ph, f"{where}: checksum field {field:#x}, "
                        f"not the pseudo header's sum {ph:#x}")
            else:
                t.check(gflags == 0, f"{where}: header flags {gflags}, not 0")
                total = csum16(pseudo(g.ip, g.v6, tcp_len) + g.tcp + g.payload)
                t.check(total == 0xFFFF, f"{where}: TCP checksum {field:#x} does not verify")
            off += seg
            if off >= len(s.payload):
                break
    t.check(k == len(got), f"{what}: {len(got) - k} frames more than the segments")
    return n_segs


class Pair:
    def __init__(self, gw, tool, wd, a, b):
        self.gw, self.tool, self.wd, self.a, self.b = gw, tool, wd, a, b
        self.sock = {d: os.path.join(wd, f"{d}.sock") for d in (a, b)}

    def run(self, name, mode, n, lo, hi, tx_feat, rx_feat, expect_bytes, expect_frames=None,
            extra=()):
        """A receiver on b, then a sender of n frames on a; the dumps."""
        rx_dump = os.path.join(self.wd, f"{name}.rx")
        tx_dump = os.path.join(self.wd, f"{name}.tx")
        rx_args = ["--socket", self.sock[self.b], "--features", hex(rx_feat),
                   "--recv-bytes", str(expect_bytes), "--dump", rx_dump, "--dump-hdr",
                   # with mergeable buffers, Linux's smallest (1,518 bytes and
                   # the header, cache-line aligned): a whole 64 KiB TSO frame
                   # takes 43 of them
                   "--buf-size", "1536" if rx_feat & F_MRG else "70000",
                   "--timeout-ms", "20000"]
        rx = t.Proc(f"{name}-rx", [self.tool] + rx_args, self.wd)
        t.check(rx.wait_output(r"(?m)^ready$", 30), f"{name}: receiver not ready:\n"
                f"{rx.output()[-2000:]}")
        tx = t.Proc(f"{name}-tx", [self.tool, "--socket", self.sock[self.a], "--features",
                                   hex(tx_feat), "--offload", mode, "--mss", str(MSS),
                                   "--send", str(n), "--size", f"{lo}-{hi}", "--seed",
                                   str(SEED), "--buf-size", "70000", "--dump-sent", tx_dump,
                                   "--dump-hdr", "--timeout-ms", "20000"] + list(extra), self.wd)
        for p, what in ((tx, "sender"), (rx, "receiver")):
            rc = p.wait(60)
            out = p.output()
            p.stop()
            p.check_sanitizer()
            t.check(rc == 0, f"{name}: the {what} exited with {rc}:\n{out[-2000:]}")
        sent, got = read_dump(tx_dump), read_dump(rx_dump)
        t.check(len(sent) == n, f"{name}: {len(sent)} frames sent, not {n}")
        t.check([len(f) for _, f in sent] == [frame_len(lo, hi, i) for i in range(n)],
                f"{name}: the sender's lengths are not the generator's")
        if expect_frames is not None:
            t.check(len(got) == expect_frames, f"{name}: {len(got)} frames arrived, "
                    f"not {expect_frames}")
        return sent, got


def seg_bytes(lens, hlen, gso):
    """Bytes and frames a receiver gets when frames of these lengths are
    segmented (gso: those with more payload than MSS)."""
    b = f = 0
    for n in lens:
        p = n - hlen
        k = (p + MSS - 1) // MSS if gso and p > MSS else 1
        b += p + k * hlen
        f += k
    return b, f


def main():
    binary, tool = sys.argv[1], os.path.abspath(sys.argv[2])
    wd = t.workdir("onecopy_offload")
    devs = ["a", "b", "c", "d", "e", "f", "g"]
    cfg = {"runtime_dir": wd,
           "devices": [dict({"name": d, "type": "net", "socket": os.path.join(wd, f"{d}.sock")},
                            **({"offloads": False} if d == "c" else {})) for d in devs],
           "links": [{"xconnect": ["a", "b"], "one_copy": True},
                     {"xconnect": ["c", "d"], "one_copy": True},
                     {"bridge": "br0", "ports": ["e", "f", "g"], "one_copy": True}]}
    gw = t.Gateway(binary, wd, cfg).start()
    ab = Pair(gw, tool, wd, "a", "b")
    tx4 = BASE | F_CSUM | F_HOST_TSO4
    tx6 = BASE | F_CSUM | F_HOST_TSO6
    hl4, hl6 = 14 + 20 + 20, 14 + 40 + 20

    def counters():
        return gw.stats("a")["offload"], gw.stats("a"), gw.stats("b")

    # 1. passed whole
    n, lo, hi = 300, 60, 65000
    lens = [frame_len(lo, hi, i) for i in range(n)]
    ol0, a0, b0 = counters()
    sent, got = ab.run("pass", "tso4", n, lo, hi, tx4,
                       BASE | F_GUEST_CSUM | F_GUEST_TSO4 | F_MRG, sum(lens), n)
    for i, ((sh, sf), (gh, gf)) in enumerate(zip(sent, got)):
        t.check(gf == sf, f"pass: frame {i} ({len(sf)} bytes) differs")
        t.check(vhdr(gh) == vhdr(sh), f"pass: frame {i}: header {vhdr(gh)}, sent {vhdr(sh)}")
    n_gso = sum(1 for h, _ in sent if vhdr(h)[1] != 0)
    ol1, a1, b1 = counters()
    t.check(n_gso > n // 2, f"pass: only {n_gso} of {n} frames were TSO frames")
    t.check(ol1["gso_passed"] - ol0["gso_passed"] == n_gso and
            ol1["gso_segmented"] == ol0["gso_segmented"] and ol1["csum_done"] == ol0["csum_done"],
            f"pass: offload counters {ol0} -> {ol1}, {n_gso} TSO frames passed")
    t.log(f"passed whole: {n} frames of {lo}-{hi} bytes ({n_gso} TSO) byte-identical, "
          f"headers as sent")

    # 2-4. segmented here
    cases = [("seg4-csum", "tso4", tx4, BASE | F_GUEST_CSUM | F_MRG, hl4, True),
             ("seg4", "tso4", tx4, BASE | F_MRG, hl4, False),
             ("seg6", "tso6", tx6, BASE, hl6, False)]
    for name, mode, txf, rxf, hl, rx_csum in cases:
        n, lo, hi = 120, hl + 1, 65000
        lens = [frame_len(lo, hi, i) for i in range(n)]
        want_bytes, want_frames = seg_bytes(lens, hl, True)
        ol0, a0, b0 = counters()
        sent, got = ab.run(name, mode, n, lo, hi, txf, rxf, want_bytes, want_frames)
        segs = check_segments(name, sent, got, rx_csum)
        n_gso = sum(1 for h, _ in sent if vhdr(h)[1] != 0)
        ol1, a1, b1 = counters()
        d = {k: ol1[k] - ol0[k] for k in ol1}
        t.check(d["gso_segmented"] == n_gso and d["gso_passed"] == 0 and
                d["segments"] == segs - (n - n_gso) and
                d["csum_done"] == (0 if rx_csum else n - n_gso),
                f"{name}: offload counters moved {d}: {n_gso} TSO frames, "
                f"{segs} frames arrived")
        t.check(b1["tx_packets"] - b0["tx_packets"] == want_frames and
                a1["rx_packets"] - a0["rx_packets"] == n,
                f"{name}: a counted {a1['rx_packets'] - a0['rx_packets']} frames in, b "
                f"{b1['tx_packets'] - b0['tx_packets']} out; {n} and {want_frames} expected")
        t.log(f"{name}: {n} frames ({n_gso} TSO) of {lo}-{hi} bytes arrived as {segs} "
              f"segments, headers, sequence, payload and checksums exact")

    # 5. the checksum done here
    n, lo, hi = 300, hl4 + 1, 9000
    lens = [frame_len(lo, hi, i) for i in range(n)]
    ol0, a0, b0 = counters()
    sent, got = ab.run("csum", "csum", n, lo, hi, BASE | F_CSUM, BASE | F_MRG, sum(lens), n)
    check_segments("csum", sent, got, False)
    ol1, _, _ = counters()
    t.check(ol1["csum_done"] - ol0["csum_done"] == n,
            f"csum: csum_done moved {ol1['csum_done'] - ol0['csum_done']}, not {n}")
    for i, ((_, sf), (_, gf)) in enumerate(zip(sent, got)):
        t.check(gf[:50] == sf[:50] and gf[52:] == sf[52:],
                f"csum: frame {i} differs beyond its checksum")
    t.log(f"csum: {n} frames whole, their TCP checksums done in the gateway")

    # 6. not offered where offloads is false
    dev = gw.device("c")
    t.check(dev.get("offloads") is False, f"c: offloads {dev.get('offloads')!r}")
    p = t.Proc("refused", [tool, "--socket", os.path.join(wd, "c.sock"), "--features",
                           hex(tx4), "--offload", "tso4", "--send", "1", "--size", "100",
                           "--timeout-ms", "5000"], wd)
    rc = p.wait(30)
    out = p.output()
    p.stop()
    t.check(rc == 2 and re.search(r"feature (CSUM|HOST_TSO4) not negotiated", out),
            f"a sender asking for TSO on c: exit {rc}:\n{out[-1500:]}")
    for d in ("a", "b"):
        st = gw.stats(d)
        t.check(st["malformed"] == 0 and st["drops"] == 0,
                f"{d}: malformed {st['malformed']}, drops {st['drops']}")
    t.log("offloads false: not offered (CSUM and HOST_TSO4 not negotiated)")

    # 7. hostile headers, refused one by one
    # the last frame good: the receiver waits for it, so every bad one is
    # taken while it is there (with the receiver gone a frame counts as a
    # drop on it, whatever it holds)
    n, lo, hi, bad_every = 201, 3000, 30000, 4
    bad = {i for i in range(n) if i % bad_every == bad_every - 1}
    lens = [frame_len(lo, hi, i) for i in range(n) if i not in bad]
    want_bytes, want_frames = seg_bytes(lens, hl4, True)
    ol0, a0, b0 = counters()
    sent, got = ab.run("hostile", "tso4", n, lo, hi, tx4, BASE | F_MRG, want_bytes, want_frames,
                       extra=["--offload-bad", str(bad_every)])
    good = [x for i, x in enumerate(sent) if i not in bad]
    segs = check_segments("hostile", good, got, False)
    ol1, a1, b1 = counters()
    t.check(a1["malformed"] - a0["malformed"] == len(bad) and
            a1["drops"] - a0["drops"] == len(bad) and b1["drops"] == b0["drops"],
            f"hostile: a's malformed {a0['malformed']} -> {a1['malformed']}, drops "
            f"{a0['drops']} -> {a1['drops']}, b's drops {b0['drops']} -> {b1['drops']}; "
            f"{len(bad)} bad frames")
    t.check(ol1["gso_segmented"] - ol0["gso_segmented"] == len(good),
            f"hostile: {ol1['gso_segmented'] - ol0['gso_segmented']} frames segmented, "
            f"{len(good)} good ones sent")
    t.log(f"hostile: {len(bad)} frames with headers to refuse (10 kinds) refused one by "
          f"one; {len(good)} good ones arrived as {segs} exact segments")

    # 8. the same frames flooded on a one-copy bridge to f (no offload,
    # before g) and g (TSO)
    flood(gw, tool, wd, n, lo, hi, bad_every, tx4, hl4)
    gw.stop()


def flood(gw, tool, wd, n, lo, hi, bad_every, tx4, hl4):
    """Case 8: e floods the hostile frames of case 7 (to a MAC nobody has)
    on the bridge e, f, g. f takes no offload: it gets the good frames
    segmented, as b did. g takes TSO: it gets them whole, and whole too the
    bad frames only a receiver that segments must refuse (gso_size 8, IP
    version 5, TCP data offset 2, an ARP ethertype: their headers are not
    parsed when nothing is segmented), as it would alone on an xconnect.
    f refusing one does not end the flood before g. A bridge drops what a
    receiver has no room for (no frame waits in e's ring for one port of a
    flood): each receiver posts 4,096 buffers, more than it needs, so
    that nothing depends on how fast it takes them."""
    bad = [i for i in range(n) if i % bad_every == bad_every - 1]
    # vufront-net's kind of bad frame j (0..): j % 10; 6..9 only fail a
    # segmentation
    seg_only = {i for j, i in enumerate(bad) if j % 10 >= 6}
    good = [i for i in range(n) if i not in bad]
    lens = [frame_len(lo, hi, i) for i in range(n)]
    f_bytes, f_frames = seg_bytes([lens[i] for i in good], hl4, True)
    g_idx = sorted(set(good) | seg_only)
    g_bytes = sum(lens[i] for i in g_idx)
    e0, f0, g0 = (gw.stats(d) for d in ("e", "f", "g"))
    rx = {}
    for d, feat, want in (("f", BASE | F_MRG, f_bytes),
                          ("g", BASE | F_GUEST_CSUM | F_GUEST_TSO4 | F_MRG, g_bytes)):
        rx[d] = t.Proc(f"flood-{d}", [tool, "--socket", os.path.join(wd, f"{d}.sock"),
                                      "--features", hex(feat), "--recv-bytes", str(want),
                                      "--dump", os.path.join(wd, f"flood.{d}"), "--dump-hdr",
                                      "--buf-size", "1536", "--ring-size", "4096",
                                      "--timeout-ms", "20000"], wd)
        t.check(rx[d].wait_output(r"(?m)^ready$", 30),
                f"flood: receiver {d} not ready:\n{rx[d].output()[-2000:]}")
    tx_dump = os.path.join(wd, "flood.e")
    tx = t.Proc("flood-e", [tool, "--socket", os.path.join(wd, "e.sock"), "--features",
                            hex(tx4), "--offload", "tso4", "--mss", str(MSS), "--send", str(n),
                            "--size", f"{lo}-{hi}", "--seed", str(SEED), "--buf-size", "70000",
                            "--dump-sent", tx_dump, "--dump-hdr", "--timeout-ms", "20000",
                            "--offload-bad", str(bad_every)], wd)
    for p, what in ((tx, "sender e"), (rx["f"], "receiver f"), (rx["g"], "receiver g")):
        rc = p.wait(60)
        out = p.output()
        p.stop()
        p.check_sanitizer()
        t.check(rc == 0, f"flood: {what} exited with {rc}:\n{out[-2000:]}")
    sent = read_dump(tx_dump)
    t.check(len(sent) == n, f"flood: {len(sent)} frames sent, not {n}")
    got_f = read_dump(os.path.join(wd, "flood.f"))
    segs = check_segments("flood f", [sent[i] for i in good], got_f, False)
    t.check(segs == f_frames, f"flood: f got {segs} segments, not {f_frames}")
    got_g = read_dump(os.path.join(wd, "flood.g"))
    t.check(len(got_g) == len(g_idx), f"flood: g got {len(got_g)} frames, not {len(g_idx)}")
    for k, i in enumerate(g_idx):
        t.check(got_g[k][1] == sent[i][1] and vhdr(got_g[k][0]) == vhdr(sent[i][0]),
                f"flood: g's frame {k} is not e's frame {i} whole")
    e1, f1, g1 = (gw.stats(d) for d in ("e", "f", "g"))
    t.check(e1["malformed"] - e0["malformed"] == len(bad) and
            f1["drops"] == f0["drops"] and g1["drops"] == g0["drops"] and
            g1["tx_packets"] - g0["tx_packets"] == len(g_idx),
            f"flood: e's malformed {e0['malformed']} -> {e1['malformed']}, f's drops "
            f"{f0['drops']} -> {f1['drops']}, g's {g0['drops']} -> {g1['drops']}, g's "
            f"tx_packets {g0['tx_packets']} -> {g1['tx_packets']}; {len(bad)} bad frames, "
            f"{len(g_idx)} for g")
    t.log(f"flood: {len(good)} good frames to f as {segs} segments, and to g whole with the "
          f"{len(seg_only)} only a segmentation refuses; each of {len(bad)} bad frames "
          f"counted malformed once")


if __name__ == "__main__":
    t.run(main)
