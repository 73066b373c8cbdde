#!/usr/bin/env python3
"""onecopy_hostile: a guest that publishes malformed chains on its transmit
ring, on the one-copy path (lib/net/net_oc.c, lib/vhost/vring.c), is refused
chain by chain and the gateway goes on serving it and everyone else.

Two one-copy xconnects, a<->b and c<->d, each end a vufront-net (the
project's virtio-net front-end). a's sends 2,000 good frames of 60-1,514
bytes into a, each behind a hand-built bad chain (--hostile 2000: next index
out of the table, a two-descriptor loop, an address outside guest memory, a
device-writable descriptor, an indirect table of 24 bytes, an indirect
descriptor with NEXT, 8 bytes after the header, in turn), then makes its
avail index jump by more than the ring holds and publishes one more bad
chain after the gap. b's front-end checks every frame byte for byte.
Meanwhile c's sends 2,000 frames to d's. Then a new front-end on a sends
500 clean frames to b.

Then a front-end on a sends a SET_MEM_TABLE whose memory is a pipe while
the gateway holds frames of a's (b's front-end posts no receive buffer):
the gateway refuses it before rte_vhost unmaps anything (one line naming
device and region), the connection ends, the held frames are a's drops,
no fd is left behind, and the gateway lives.

What each bad chain moves, from the code: the walker refuses the next index
out of the table, the loop, the address outside memory and both indirect
ones (vgw_vring_pop: malformed + 1, returned with length 0, then a drop on
a in tx_take); the device-writable descriptor and the short frame pass the
walker and are refused by move_frame (OC_BAD: malformed + 1 and a drop on
a, returned with length 0); the jump is counted by vgw_vring_pop (malformed
+ 1, a drop on a, no used entry: nothing to return). So a's malformed and
drops counters rise by exactly 2,000 + 1 + 1, b's, c's and d's by nothing.
Every bad chain is published ahead of a good frame, so each is taken while
b's front-end is still there for the frame behind it (with b gone a short
frame would count as a drop on b instead); the chain after the jump is a
walker refusal, counted whoever is on the other side.
"""
import os
import re
import sys
import time

import vgwtest as t

N = 2000
N_CLEAN = 500
N_TINY = 20
SIZE_MIN, SIZE_MAX = 60, 1514
SEED_AB, SEED_CD, SEED_CLEAN = 11, 23, 37
KINDS = ["next index out of the table", "two-descriptor loop", "address outside guest memory",
         "device-writable descriptor", "indirect table of 24 bytes",
         "indirect descriptor with NEXT", "8 bytes after the header"]
INDIRECT_DESC = 28


def frame_len(seed, i):
    """vufront-net's length of frame i with --size SIZE_MIN-SIZE_MAX."""
    return t.vufront_frame_len(seed, SIZE_MIN, SIZE_MAX, i)


class Front(t.VufrontNet):
    """vufront-net with this test's frame sizes and patience."""

    def __init__(self, tool, wd, name, sock, *args):
        super().__init__(tool, wd, name, ["--socket", sock, "--timeout-ms", "30000",
                                          "--size", f"{SIZE_MIN}-{SIZE_MAX}"] + list(args))


def counters(gw):
    return {d: gw.stats(d) for d in "abcd"}


def settle(gw, fds0, mbufs0, timeout=10):
    """The gateway's fd count and mbufs in use, once back where they were
    (the front-ends' disconnects are handled asynchronously) or at the
    timeout."""
    deadline = time.time() + timeout
    while True:
        fds, mbufs = t.fd_count(gw.proc.pid), gw.mbufs_in_use()
        if (fds, mbufs) == (fds0, mbufs0) or time.time() > deadline:
            return fds, mbufs
        time.sleep(0.2)


def main():
    binary, tool = sys.argv[1], os.path.abspath(sys.argv[2])
    wd = t.workdir("onecopy_hostile")
    sock = {d: os.path.join(wd, f"{d}.sock") for d in "abcd"}
    cfg = {"runtime_dir": wd,
           "devices": [{"name": d, "type": "net", "socket": sock[d]} for d in "abcd"],
           "links": [{"xconnect": ["a", "b"], "one_copy": True},
                     {"xconnect": ["c", "d"], "one_copy": True}]}
    gw = t.Gateway(binary, wd, cfg).start()
    pid = gw.proc.pid
    for d in "abcd":
        got = gw.device(d).get("copy")
        t.check(got == "one", f"device {d}: copy {got!r}, expected 'one'")
    time.sleep(0.5)
    fds0, mbufs0 = t.fd_count(pid), gw.mbufs_in_use()
    before = counters(gw)
    t.log(f"start: {fds0} fds, {mbufs0} mbufs in use")

    # receivers first: a frame for a peer that is not there is dropped
    rb = Front(tool, wd, "recv-b", sock["b"], "--recv", str(N), "--verify",
               "--seed", str(SEED_AB))
    rd = Front(tool, wd, "recv-d", sock["d"], "--recv", str(N), "--verify",
               "--seed", str(SEED_CD))
    rb.wait_ready()
    rd.wait_ready()
    gw.wait_ready(["b", "d"])
    t0 = time.time()
    sa = Front(tool, wd, "send-a", sock["a"], "--send", str(N), "--seed", str(SEED_AB),
               "--hostile", str(N))
    sc = Front(tool, wd, "send-c", sock["c"], "--send", str(N), "--seed", str(SEED_CD))
    out = {f.name: f.finish() for f in (sa, sc, rb, rd)}
    t.log(f"traffic done in {time.time() - t0:.1f} s")
    for name, o in out.items():
        t.log(f"{name}: {' '.join(o.split()[1:])}")

    # the front-ends' own account
    feats = sa.field(out["send-a"], "features")
    t.check(feats & (1 << INDIRECT_DESC),
            f"send-a negotiated {feats:#x}: no INDIRECT_DESC, the indirect chains would be "
            f"refused for that alone")
    t.check(sa.field(out["send-a"], "sent") == N and sc.field(out["send-c"], "sent") == N,
            "a sender did not send every frame")
    hostile, returned = sa.field(out["send-a"], "hostile"), sa.field(out["send-a"], "returned")
    jumps = sa.field(out["send-a"], "avail_jumps")
    t.check(hostile == N + 1, f"send-a published {hostile} bad chains, expected {N + 1}")
    t.check(returned == hostile, f"{returned} of {hostile} bad chains came back with length 0")
    t.check(jumps == 1, f"avail index jumps taken in: {jumps}, expected 1")
    for f in (rb, rd):
        o = out[f.name]
        t.check(f.field(o, "received") == N and f.field(o, "bad") == 0,
                f"{f.name}: {o.strip().splitlines()[-1]}")

    # the gateway's account
    after = counters(gw)

    def delta(d, key):
        return after[d][key] - before[d][key]

    per_kind = [sum(1 for i in range(N) if i % len(KINDS) == k) for k in range(len(KINDS))]
    t.log("bad chains: " + ", ".join(f"{n} {k}" for k, n in zip(KINDS, per_kind)) +
          ", 1 after the jump (next index out of the table), 1 jump")
    refused = N + 1 + 1
    t.check(delta("a", "malformed") == refused,
            f"a: malformed rose by {delta('a', 'malformed')}, expected {refused}")
    t.check(delta("a", "drops") == refused,
            f"a: drops rose by {delta('a', 'drops')}, expected {refused}")
    for d in "bcd":
        t.check(delta(d, "malformed") == 0 and delta(d, "drops") == 0,
                f"{d}: malformed +{delta(d, 'malformed')}, drops +{delta(d, 'drops')}")
    ab_bytes = sum(frame_len(SEED_AB, i) for i in range(N))
    cd_bytes = sum(frame_len(SEED_CD, i) for i in range(N))
    for src, dst, nbytes in (("a", "b", ab_bytes), ("c", "d", cd_bytes)):
        t.check(delta(src, "rx_packets") == N and delta(dst, "tx_packets") == N,
                f"{src}->{dst}: {src} took {delta(src, 'rx_packets')}, {dst} got "
                f"{delta(dst, 'tx_packets')}, expected {N}")
        t.check(delta(src, "rx_bytes") == nbytes and delta(dst, "tx_bytes") == nbytes,
                f"{src}->{dst}: {delta(src, 'rx_bytes')} / {delta(dst, 'tx_bytes')} bytes, "
                f"expected {nbytes}")
    t.check(gw.proc.alive() and gw.proc.pid == pid, "the gateway did not keep running")
    t.log(f"a: {refused} chains refused (malformed and drops), {N} frames "
          f"({ab_bytes} bytes) to b byte-identical; c->d {N} frames ({cd_bytes} bytes)")

    # a receiver whose buffers cannot hold the virtio-net header (8 bytes
    # each, mergeable): every frame for it is dropped, each buffer refused
    # and returned, nothing written past one
    rd = t.Proc("recv-d-tiny", [tool, "--socket", sock["d"], "--mrg-rxbuf", "--buf-size", "8",
                                "--recv", "1", "--timeout-ms", "60000"], wd)
    t.check(rd.wait_output(r"(?m)^ready$", 30), f"recv-d-tiny not ready:\n{rd.output()[-2000:]}")
    gw.wait_ready(["d"])
    sc = Front(tool, wd, "send-c-tiny", sock["c"], "--send", str(N_TINY), "--seed", "3",
               "--size", "60")  # 9 buffers of 8 bytes would hold one
    sc.finish()
    tiny = counters(gw)
    rd.stop()
    rd.check_sanitizer()
    t.check(tiny["d"]["malformed"] - after["d"]["malformed"] == N_TINY and
            tiny["d"]["drops"] - after["d"]["drops"] == N_TINY and
            tiny["d"]["tx_packets"] == after["d"]["tx_packets"],
            f"d with 8-byte buffers: malformed {after['d']['malformed']} -> "
            f"{tiny['d']['malformed']}, drops {after['d']['drops']} -> {tiny['d']['drops']}, "
            f"tx {after['d']['tx_packets']} -> {tiny['d']['tx_packets']}; {N_TINY} frames sent")
    t.check(gw.proc.alive() and gw.proc.pid == pid, "the gateway did not keep running")
    t.log(f"d with 8-byte receive buffers: {N_TINY} frames dropped, their buffers refused")
    after = tiny

    # a front-end whose new memory table cannot be mapped (a pipe for the
    # memory's fd) while the gateway holds frames of its (its peer posts no
    # receive buffer): rte_vhost would unmap a's memory first, fail, leave
    # the rings pointing into nothing (stopping a then wrote through them:
    # the gateway died) and leak the fd. The gateway refuses the table
    # before anything is unmapped, with one line that names device and
    # region; the connection ends (no reply asked); the held frames go back
    # to a's ring, counted as drops; no fd is left behind (the end's check)
    idle = Front(tool, wd, "idle-b", sock["b"], "--send", "0", "--idle-ms", "6000")
    idle.wait_ready()
    gw.wait_ready(["b"])
    held0 = counters(gw)
    ra = Front(tool, wd, "remap-a", sock["a"], "--send", "64", "--seed", "5", "--size", "60",
               "--bad-remap")
    o = ra.finish()
    inflight = ra.field(o, "inflight")
    t.check(inflight > 0, f"remap-a: nothing in flight at its bad remap:\n{o[-1000:]}")
    deadline = time.time() + 20
    while gw.device("a")["disconnects"] < 2 and time.time() < deadline:
        time.sleep(0.1)
    t.check(gw.proc.alive() and gw.proc.pid == pid,
            f"the gateway did not live through a's failed remap:\n{gw.proc.output()[-3000:]}")
    t.check(re.search(r"a: vid \d+: SET_MEM_TABLE refused: region 0 \(guest 0x0, \d+ bytes\): "
                      r"its fd is not a file of memory; the memory mapped before stays",
                      gw.proc.output()),
            f"no refusal of a's memory table in the log:\n{gw.proc.output()[-2000:]}")
    da = gw.device("a")
    t.check(da["disconnects"] == 2, f"device a after its failed remap: {da}")
    held = counters(gw)
    dropped = held["a"]["drops"] - held0["a"]["drops"]
    t.check(1 <= dropped <= min(inflight, 32) and held["a"]["rx_packets"] == held0["a"]["rx_packets"],
            f"a: drops {held0['a']['drops']} -> {held['a']['drops']}, rx_packets "
            f"{held0['a']['rx_packets']} -> {held['a']['rx_packets']}; {inflight} in flight "
            f"at the remap: the frames the gateway held are its drops")
    idle.finish()
    t.log(f"a's failed remap with {dropped} frames held (b posted no buffer): counted as "
          f"drops, the gateway lives")
    after = counters(gw)

    # a new front-end on a is served as before
    rb = Front(tool, wd, "recv-b2", sock["b"], "--recv", str(N_CLEAN), "--verify",
               "--seed", str(SEED_CLEAN))
    rb.wait_ready()
    gw.wait_ready(["b"])
    sa = Front(tool, wd, "send-a2", sock["a"], "--send", str(N_CLEAN), "--seed", str(SEED_CLEAN))
    out = {f.name: f.finish() for f in (sa, rb)}
    t.check(rb.field(out["recv-b2"], "received") == N_CLEAN and
            rb.field(out["recv-b2"], "bad") == 0, f"recv-b2: {out['recv-b2'].strip()}")
    last = counters(gw)
    t.check(last["a"]["rx_packets"] - after["a"]["rx_packets"] == N_CLEAN and
            last["b"]["tx_packets"] - after["b"]["tx_packets"] == N_CLEAN,
            "the clean front-end's frames were not all counted")
    for d in "abcd":
        t.check(last[d]["drops"] == after[d]["drops"],
                f"{d}: drops {after[d]['drops']} -> {last[d]['drops']} in a clean run")
    t.check(gw.device("a")["connects"] == 3 and gw.device("a")["disconnects"] == 3,
            f"device a: {gw.device('a')}")
    t.log(f"a new front-end on a: {N_CLEAN} frames to b byte-identical")

    fds, mbufs = settle(gw, fds0, mbufs0)
    t.check(fds == fds0, f"gateway fds: {fds0} at the start, {fds} at the end")
    t.check(mbufs == mbufs0, f"mbufs in use: {mbufs0} at the start, {mbufs} at the end")
    t.check(gw.proc.alive() and gw.proc.pid == pid, "the gateway did not keep running")
    t.log(f"end: {fds} fds, {mbufs} mbufs in use, gateway pid {pid} alive")
    gw.stop()


if __name__ == "__main__":
    t.run(main)
