#!/usr/bin/env python3
"""One copy on a multi-queue xconnect: queue pair q of a goes to queue pair
q of b and back (pair q % n when b enabled n < q + 1), each pair its own
task, the tasks spread over two workers.

- Four pairs on both sides: frames sent on each transmit queue of a arrive
  byte-identical and in order on the same receive queue of b, and the other
  way round; each queue's counters moved by exactly the frames sent on it,
  nothing dropped, nothing refused; both workers carried traffic; the log
  says the link is one-copy, and no fallback warning.
- Front-ends that enable two of their four pairs (as a Linux guest with
  fewer vCPUs or `ethtool -L` does): pairs 0 and 1 carry their frames, the
  rings of pairs 2 and 3 (taken when enabled, never here) stay untouched.
- The front-ends change the pairs they use on a live connection (as
  `ethtool -L` does: the pairs dropped are disabled, the rings stay; the
  pairs added again are enabled with the indices they had): 4, 2, 4, 1,
  3 pairs in turn, frames looping on every enabled pair and on no other,
  nothing dropped or refused.
- One front-end enables two pairs, the other one: what a sends on pair 1
  goes to b's pair 0 (q % the pairs b enabled), as on the mbuf path: b's
  receive ring 0 has two writers, each holding it for its pass; every
  frame arrives, each pair's in order. The same with two writers on
  different CPUs at once: 40,000 frames over a's two pairs into b's one
  (vufront-net), every one intact.
- SEND_RARP on a (our own front-ends, vufront-net, four pairs each): b
  receives the RARP from the guest's MAC once, on pair 0 only.
- A one-copy bridge of the two (its default), four pairs each: the same
  exchange, pair q to pair q, a task per pair on two workers.
- Devices of different queue counts: an xconnect (2 and 4) and a bridge
  (2 and 1) take one copy.

Front-end: dpdk-testpmd, io forwarding, paired ports: a pcap source with
one file per queue -> virtio_user(a) ... gateway ... virtio_user(b) -> a
pcap sink with one file per queue, both ways at once.
"""
import os
import sys
import time

import vgwtest as t

Q = 4  # queue pairs configured on both devices
MAC_R = "52:54:00:12:34:56"  # the guest's, announced by SEND_RARP
N = 300  # frames per queue and direction
SIZES = [60, 64, 128, 512, 1000, 1514]


def frames(direction, q, n=N):
    """Frames of one direction and queue, each unique (its seed)."""
    src, dst = (("02:00:00:00:00:0a", "02:00:00:00:00:0b") if direction == "ab"
                else ("02:00:00:00:00:0b", "02:00:00:00:00:0a"))
    base = (0 if direction == "ab" else 1 << 20) + (q << 16)
    return [t.frame(dst, src, SIZES[(i + q) % len(SIZES)], base + i) for i in range(n)]


def queue_counts(gw, dev):
    return {q["queue"]: q for q in gw.stats(dev)["queues"]}


def busy_loops(gw):
    return [w["busy_loops"] for w in gw.ctl("stats")["workers"]]


def exchange(wd, gw, name, pairs, ring=None):
    """Both front-ends in one testpmd with `pairs` queues enabled (of Q):
    per queue N frames each way, checked file by file and counter by
    counter. ring: the virtio rings' size (a bridge drops what a receive
    ring has no room for: rings larger than N never fill)."""
    a, b = gw.config["devices"][0]["socket"], gw.config["devices"][1]["socket"]
    sent = {d: [frames(d, q) for q in range(pairs)] for d in ("ab", "ba")}
    vdev = {}
    for d in ("ab", "ba"):
        args = []
        for q in range(pairs):
            src = os.path.join(wd, f"{name}-in-{d}{q}.pcap")
            t.write_pcap(src, sent[d][q])
            args.append(f"rx_pcap={src}")
        # what this pcap port's virtio_user peer received: the other way
        back = "ba" if d == "ab" else "ab"
        for q in range(pairs):
            args.append(f"tx_pcap={os.path.join(wd, f'{name}-out-{back}{q}.pcap')}")
        vdev[d] = ",".join(args)
    before = {dev: queue_counts(gw, dev) for dev in ("a", "b")}
    loops0 = busy_loops(gw)
    # ports 0 <-> 1 and 2 <-> 3: pcap0 feeds a and takes what b sent,
    # pcap1 feeds b and takes what a sent; testpmd's io streams keep the
    # queue (rx queue q of a port goes out on tx queue q of its pair)
    size = f",queue_size={ring}" if ring else ""
    rings = [f"--rxd={ring}", f"--txd={ring}"] if ring else []
    tp = t.Testpmd(wd, [f"net_pcap0,{vdev['ab']}",
                        f"net_virtio_user0,path={a},queues={Q}{size}",
                        f"net_virtio_user1,path={b},queues={Q}{size}",
                        f"net_pcap1,{vdev['ba']}"],
                   name=name, args=["--forward-mode=io", "--port-topology=paired",
                                    f"--rxq={pairs}", f"--txq={pairs}"] + rings)
    total = pairs * N
    try:
        gw.wait_ready(["a", "b"])
        tp.cmd("set fwd io retry")
        # wait up to 1 s for room: every loss counted here is the gateway's
        tp.cmd("set burst tx delay 100 retry 10000")
        tp.cmd("start")
        try:
            gw.wait_counter("b", "tx_packets", sum(q["tx_packets"] for q in before["b"].values())
                            + total)
            gw.wait_counter("a", "tx_packets", sum(q["tx_packets"] for q in before["a"].values())
                            + total)
        except t.TestFailure:
            t.log(f"a: {gw.stats('a')}\nb: {gw.stats('b')}")
            t.log(tp.cmd("show fwd stats all"))
            raise
        # and testpmd forwarded all of it into the pcap sinks (ports 0
        # and 3) before it stops
        t.wait_for("testpmd's pcap sinks to take every frame",
                   lambda: all(tp.port_stats()[p]["tx_packets"] >= total for p in (0, 3)))
        # a task per pair the front-end has, enabled or not
        active = [gw.device(dev)["active_queues"] for dev in ("a", "b")]
        tp.cmd("stop")
    finally:
        tp.quit()
    t.check(active == [Q, Q], f"active queues of a and b: {active}, expected {Q}")
    loops1 = busy_loops(gw)
    after = {dev: queue_counts(gw, dev) for dev in ("a", "b")}
    for d, (sender, receiver) in (("ab", ("a", "b")), ("ba", ("b", "a"))):
        for q in range(Q):
            tx = after[sender][q]
            rx = after[receiver][q]
            moved = {k: tx[k] - before[sender][q][k] for k in ("rx_packets", "rx_bytes")}
            got = {k: rx[k] - before[receiver][q][k] for k in ("tx_packets", "tx_bytes")}
            want = len(sent[d][q]) if q < pairs else 0
            nbytes = sum(len(f) for f in sent[d][q]) if q < pairs else 0
            t.check(moved["rx_packets"] == want and moved["rx_bytes"] == nbytes,
                    f"{sender} queue {q}: took {moved}, expected {want} frames, {nbytes} bytes")
            t.check(got["tx_packets"] == want and got["tx_bytes"] == nbytes,
                    f"{receiver} queue {q}: got {got}, expected {want} frames, {nbytes} bytes")
            for dev in (sender, receiver):
                t.check(after[dev][q]["drops"] == before[dev][q]["drops"],
                        f"{dev} queue {q}: drops {before[dev][q]['drops']} -> "
                        f"{after[dev][q]['drops']}")
        for q in range(pairs):
            got = t.read_pcap(os.path.join(wd, f"{name}-out-{d}{q}.pcap"))
            t.check(len(got) == N, f"{d} queue {q}: {len(got)} frames arrived, expected {N}")
            for i, (x, y) in enumerate(zip(sent[d][q], got)):
                t.check(x == y, f"{d} queue {q}: frame {i} differs: sent {x[:24].hex()}... "
                        f"got {y[:24].hex()}...")
    for dev in ("a", "b"):
        s = gw.stats(dev)
        t.check(s["malformed"] == 0, f"{dev}: malformed {s['malformed']}")
    t.log(f"{name}: {pairs} of {Q} pairs, {N} frames per queue each way arrived "
          f"byte-identical on the same queue, counted per queue; workers' busy loops "
          f"{loops0} -> {loops1}")
    return [y - x for x, y in zip(loops0, loops1)]


def reconfigured(wd, gw):
    """testpmd reconfigures the queues of both ports on the same
    connection (port stop, port config all rxq/txq N, port start: the
    control queue enables N pairs and disables the others): each round,
    frames loop a -> b -> testpmd -> a on the N pairs and no other."""
    a, b = gw.config["devices"][0]["socket"], gw.config["devices"][1]["socket"]
    tp = t.Testpmd(wd, [f"net_virtio_user0,path={a},queues={Q}",
                        f"net_virtio_user1,path={b},queues={Q}"],
                   name="reconf", args=["--forward-mode=io", f"--rxq={Q}", f"--txq={Q}"])
    drops = {dev: gw.stats(dev)["drops"] for dev in ("a", "b")}
    try:
        gw.wait_ready(["a", "b"])
        for n in (Q, 2, Q, 1, 3):
            tp.cmd("port stop all")
            tp.cmd(f"port config all rxq {n}")
            tp.cmd(f"port config all txq {n}")
            tp.cmd("port start all")
            before = {dev: queue_counts(gw, dev) for dev in ("a", "b")}

            def moved():
                now = {dev: queue_counts(gw, dev) for dev in ("a", "b")}
                return {dev: [now[dev][q]["rx_packets"] - before[dev][q]["rx_packets"]
                              for q in range(Q)] for dev in ("a", "b")}
            # tx_first: a burst of 32 on each enabled queue of each port,
            # looping until stopped
            tp.cmd("start tx_first")
            t.wait_for(f"frames to loop on {n} pairs",
                       lambda: all(m >= 1000 for d in moved().values() for m in d[:n]))
            tp.cmd("stop")
            m = moved()
            t.check(all(x == 0 for d in m.values() for x in d[n:]),
                    f"{n} pairs enabled: frames taken on the others: {m}")
            t.log(f"reconfigured: {n} pairs: frames taken per pair {m}")
        # (before the front-end quits: frames a stopped device still held
        # are dropped then)
        for dev in ("a", "b"):
            s = gw.stats(dev)
            t.check(s["drops"] == drops[dev] and s["malformed"] == 0,
                    f"{dev}: drops {drops[dev]} -> {s['drops']}, malformed {s['malformed']}")
    finally:
        tp.quit()


def mismatched(wd, gw):
    """a enables two pairs, b one: what a sends on pair 1 goes to b's pair
    0 (1 % 1), as on the mbuf path, b's receive ring 0 then written by
    both of a's pair tasks (on two workers), each holding it for its
    pass: every frame of both pairs arrives in b's ring 0, each pair's in
    its order, byte-identical, nothing dropped, and b's pair 1 untouched."""
    a, b = gw.config["devices"][0]["socket"], gw.config["devices"][1]["socket"]
    sent = [frames("ab", q, 200) for q in range(2)]
    srcs = []
    for q in range(2):
        srcs.append(os.path.join(wd, f"mm-in{q}.pcap"))
        t.write_pcap(srcs[q], sent[q])
    out = os.path.join(wd, "mm-out.pcap")
    before = {dev: queue_counts(gw, dev) for dev in ("a", "b")}
    tpb = t.Testpmd(wd, [f"net_virtio_user0,path={b},queues={Q}", f"net_pcap0,tx_pcap={out}"],
                    name="tpb", args=["--forward-mode=io", "--port-topology=paired",
                                      "--rxq=1", "--txq=1"])
    # (a pcap port of two rx queues needs as many tx queues: two sinks)
    tpa = t.Testpmd(wd, [f"net_pcap0,rx_pcap={srcs[0]},rx_pcap={srcs[1]},"
                         f"tx_pcap={os.path.join(wd, 'mm-a0.pcap')},"
                         f"tx_pcap={os.path.join(wd, 'mm-a1.pcap')}",
                         f"net_virtio_user0,path={a},queues={Q}"],
                    name="tpa", args=["--forward-mode=io", "--port-topology=paired",
                                      "--rxq=2", "--txq=2"])
    total = len(sent[0]) + len(sent[1])
    try:
        gw.wait_ready(["a", "b"])
        tpb.cmd("start")
        tpa.cmd("set fwd io retry")
        tpa.cmd("start")
        gw.wait_counter("b", "tx_packets",
                        sum(q["tx_packets"] for q in before["b"].values()) + total)
        t.wait_for("b's pcap sink to take a's frames",
                   lambda: tpb.port_stats()[1]["tx_packets"] >= total)
        tpa.cmd("stop")
        tpb.cmd("stop")
    finally:
        tpa.quit()
        tpb.quit()
    after = {dev: queue_counts(gw, dev) for dev in ("a", "b")}
    d = {dev: {q: {k: after[dev][q][k] - before[dev][q][k] for k in after[dev][q]
                   if isinstance(after[dev][q][k], int)} for q in after[dev]}
         for dev in ("a", "b")}
    for q in range(2):
        t.check(d["a"][q]["rx_packets"] == len(sent[q]) and d["a"][q]["drops"] == 0,
                f"a's pair {q}: took {d['a'][q]}, expected {len(sent[q])} frames, no drop")
    t.check(d["b"][0]["tx_packets"] == total and d["b"][0]["drops"] == 0,
            f"b's pair 0: got {d['b'][0]}, expected {total} frames, no drop")
    t.check(d["b"][1]["tx_packets"] == 0 and d["b"][1]["drops"] == 0,
            f"b's pair 1 (disabled) moved or dropped frames: {d['b'][1]}")
    got = t.read_pcap(out)
    t.check(len(got) == total, f"b received {len(got)} frames, expected {total}")
    for q in range(2):
        mine = [f for f in got if f in set(sent[q])]
        t.check(mine == sent[q], f"b received {len(mine)} of a's pair {q} frames, expected "
                f"its {len(sent[q])} in order, byte-identical")
    t.log(f"mismatched: a's pairs 0 and 1 ({len(sent[0])} frames each) both went into b's "
          f"pair 0, each in order, nothing dropped")


def rarp(wd, gw, tool):
    """SEND_RARP on a: its RARP goes to b on pair 0, once, and on no
    other pair."""
    a, b = gw.config["devices"][0]["socket"], gw.config["devices"][1]["socket"]
    before = {dev: queue_counts(gw, dev) for dev in ("a", "b")}
    sent0 = gw.stats("a")["rarp_sent"]
    b_hex = os.path.join(wd, "rarp-b.hex")
    fb = t.VufrontNet(tool, wd, "rarp-b", ["--socket", b, "--queues", str(Q), "--recv", "1",
                                           "--dump", b_hex, "--timeout-ms", "60000"])
    fb.wait_ready()
    # (a waits for a frame that never comes: connected until stopped)
    fa = t.VufrontNet(tool, wd, "rarp-a", ["--socket", a, "--queues", str(Q), "--rarp", MAC_R,
                                           "--recv", "1", "--timeout-ms", "60000"])
    try:
        fa.wait_ready()
        t.check(fa.proc.wait_output(r"(?m)^rarp$", 30),
                f"a's front-end sent no SEND_RARP:\n{fa.proc.output()[-2000:]}")
        gw.wait_counter("a", "rarp_sent", sent0 + 1)
        fb.finish()
    finally:
        fa.proc.stop()
        fb.proc.stop()
    fa.proc.check_sanitizer()
    with open(b_hex) as f:
        got = [bytes.fromhex(x) for x in f.read().split()]
    r = t.mac(MAC_R)
    t.check(len(got) == 1 and len(got[0]) == 64 and
            got[0][:14] == b"\xff" * 6 + r + b"\x80\x35",
            f"b got {[g.hex() for g in got]}, expected one RARP from {MAC_R}")
    after = {dev: queue_counts(gw, dev) for dev in ("a", "b")}
    for q in range(Q):
        took = after["a"][q]["rx_packets"] - before["a"][q]["rx_packets"]
        gave = after["b"][q]["tx_packets"] - before["b"][q]["tx_packets"]
        want = 1 if q == 0 else 0
        t.check(took == want and gave == want,
                f"pair {q}: a took {took}, b got {gave}, expected {want}")
    t.check(gw.stats("a")["rarp_sent"] == sent0 + 1, "rarp_sent moved by more than 1")
    t.log(f"rarp: b got the RARP from {MAC_R} once, on pair 0")


def bridge(binary):
    """The same exchange through a one-copy bridge of a and b on two
    workers: a task per pair of each port; pair q of the sender goes to
    pair q of the receiver (q % the receiver's pairs); every frame
    byte-identical on its queue, counters per queue, nothing dropped (rings
    of 1,024: N frames per queue never fill one)."""
    wd = t.workdir("ocmq-bridge")
    cfg = {"runtime_dir": wd,
           "devices": [{"name": n, "type": "net", "socket": os.path.join(wd, f"{n}.sock"),
                        "queues": Q} for n in ("a", "b")],
           "links": [{"bridge": "br0", "ports": ["a", "b"]}]}
    gw = t.Gateway(binary, wd, cfg, lcores="0@0,1@1,2@1").start()
    for dev in ("a", "b"):
        got = gw.device(dev)["copy"]
        t.check(got == "one", f"bridge: device {dev}: copy {got!r}, expected 'one'")
    busy = exchange(wd, gw, "bridge", Q, ring=1024)
    t.check(len(busy) == 2 and all(b > 0 for b in busy),
            f"bridge: busy loops per worker {busy}: the pairs' tasks did not run on both "
            f"workers")
    exchange(wd, gw, "bridge-some", 2, ring=1024)
    t.check(gw.mbufs_in_use() == 0, f"mbufs in use: {gw.mbufs_in_use()}")
    gw.stop()


def spread(binary, tool):
    """An xconnect of a (two pairs) and b (one): a's two pair tasks, on
    workers on different CPUs, both write b's receive ring 0 at once,
    each holding it for its pass. vufront-net sends N frames over a's two
    pairs; b gets every one, intact (checked against the generator), and
    the counters add up: nothing dropped, nothing refused."""
    wd = t.workdir("ocmq-spread")
    sock = {n: os.path.join(wd, f"{n}.sock") for n in ("a", "b")}
    cfg = {"runtime_dir": wd,
           "devices": [{"name": "a", "type": "net", "socket": sock["a"], "queues": 2},
                       {"name": "b", "type": "net", "socket": sock["b"]}],
           "links": [{"xconnect": ["a", "b"]}]}
    gw = t.Gateway(binary, wd, cfg, lcores="0@0,1@0,2@1").start()
    n = 40000
    common = ["--size", "60-1514", "--seed", "3", "--timeout-ms", "20000"]
    rb = t.VufrontNet(tool, wd, "spread-recv-b", ["--socket", sock["b"], "--recv", str(n),
                                                  "--verify", "--ring-size", "4096"] + common)
    rb.wait_ready()
    loops0 = busy_loops(gw)
    sa = t.VufrontNet(tool, wd, "spread-send-a", ["--socket", sock["a"], "--queues", "2",
                                                  "--send", str(n), "--rate", "40000"] + common)
    out_b, out_a = rb.finish(), sa.finish()
    busy = [y - x for x, y in zip(loops0, busy_loops(gw))]
    t.check(rb.field(out_b, "received") == n and rb.field(out_b, "bad") == 0,
            f"b received {rb.field(out_b, 'received')} frames ({rb.field(out_b, 'bad')} bad), "
            f"expected {n} intact")
    qa, qb = queue_counts(gw, "a"), queue_counts(gw, "b")
    took = [qa[q]["rx_packets"] for q in range(2)]
    t.check(sum(took) == n and all(x > 0 for x in took),
            f"a's pairs took {took}, expected {n} over both")
    t.check(qb[0]["tx_packets"] == n and qb[0]["drops"] == 0 and qa[0]["drops"] == 0
            and qa[1]["drops"] == 0, f"b's pair 0: {qb[0]}; a: {qa}")
    t.check(len(busy) == 2 and all(b > 0 for b in busy),
            f"busy loops per worker {busy}: a's pair tasks did not run on both workers")
    bad = sum(gw.stats(d)["malformed"] for d in ("a", "b"))
    t.check(bad == 0, f"{bad} chains refused as malformed")
    gw.stop()
    t.log(f"spread: a's pairs took {took} frames, all {n} arrived intact in b's pair 0 "
          f"(busy loops {busy})")


def uneven(binary):
    """Devices of different queue counts: an xconnect (2 and 4 pairs) and
    a bridge (2 and 1) both take one copy, and say so."""
    wd = t.workdir("ocmq-uneven")
    sock = lambda n: os.path.join(wd, f"{n}.sock")
    cfg = {"runtime_dir": wd,
           "devices": [{"name": "c", "type": "net", "socket": sock("c"), "queues": 2},
                       {"name": "d", "type": "net", "socket": sock("d"), "queues": 4},
                       {"name": "e", "type": "net", "socket": sock("e"), "queues": 2},
                       {"name": "f", "type": "net", "socket": sock("f")}],
           "links": [{"xconnect": ["c", "d"], "one_copy": True},
                     {"bridge": "br0", "ports": ["e", "f"], "one_copy": True}]}
    gw = t.Gateway(binary, wd, cfg).start()
    out = gw.proc.output()
    t.check("xconnect0: c <-> d in one copy, 2 and 4 queue pairs" in out,
            f"c/d not in one copy:\n{out[-2000:]}")
    t.check("br0: bridge in one copy" in out and "one_copy needs" not in out,
            f"br0 not in one copy, or a fallback:\n{out[-2000:]}")
    for dev in ("c", "d", "e", "f"):
        got = gw.device(dev)["copy"]
        t.check(got == "one", f"device {dev}: copy {got!r}, expected 'one'")
    gw.stop()
    t.log("uneven: an xconnect of 2 and 4 pairs and a bridge of 2 and 1 take one copy")


def main():
    binary, tool = sys.argv[1], os.path.abspath(sys.argv[2])
    wd = t.workdir("ocmq")
    cfg = {"runtime_dir": wd,
           "devices": [{"name": "a", "type": "net", "socket": os.path.join(wd, "a.sock"),
                        "queues": Q},
                       {"name": "b", "type": "net", "socket": os.path.join(wd, "b.sock"),
                        "queues": Q}],
           "links": [{"xconnect": ["a", "b"], "one_copy": True}]}
    # two workers: the pairs' tasks are placed on both
    gw = t.Gateway(binary, wd, cfg, lcores="0@0,1@1,2@1").start()
    out = gw.proc.output()
    t.check(f"xconnect0: a <-> b in one copy, {Q} queue pair(s)" in out,
            f"the log does not say the link is one-copy:\n{out[-2000:]}")
    t.check("one_copy needs" not in out, f"fallback warning in the log:\n{out[-2000:]}")
    for dev in ("a", "b"):
        got = gw.device(dev)["copy"]
        t.check(got == "one", f"device {dev}: copy {got!r}, expected 'one'")
    busy = exchange(wd, gw, "all", Q)
    t.check(len(busy) == 2 and all(b > 0 for b in busy),
            f"busy loops per worker {busy}: the pairs' tasks did not run on both workers")
    exchange(wd, gw, "some", 2)
    reconfigured(wd, gw)
    mismatched(wd, gw)
    rarp(wd, gw, tool)
    t.check(gw.mbufs_in_use() == 0, f"mbufs in use: {gw.mbufs_in_use()}")
    out = gw.proc.output()
    t.check("cannot be taken for one copy" not in out, f"a ring was refused:\n{out[-2000:]}")
    gw.stop()
    bridge(binary)
    spread(binary, tool)
    uneven(binary)


if __name__ == "__main__":
    t.run(main)
