#!/usr/bin/env python3
"""Multiqueue: two queue pairs per device, every queue polled and counted;
a front-end that enables fewer queue pairs than it has (as a one-vCPU Linux
guest does) gets every frame on the pairs it enabled, none lost. On the
mbuf path (one_copy false); onecopy_multiqueue runs the one-copy path.

Front-end: dpdk-testpmd with two net_virtio_user ports of two queue pairs,
io forwarding, `start tx_first`: the packets loop a -> gateway -> b ->
testpmd -> a on both queues.
"""
import os
import sys
import time

import vgwtest as t


def main():
    binary = sys.argv[1]
    wd = t.workdir("mq")
    a, b = os.path.join(wd, "a.sock"), os.path.join(wd, "b.sock")
    cfg = {"runtime_dir": wd,
           "devices": [{"name": "a", "type": "net", "socket": a, "queues": 2},
                       {"name": "b", "type": "net", "socket": b, "queues": 2}],
           "links": [{"xconnect": ["a", "b"], "one_copy": False}]}
    gw = t.Gateway(binary, wd, cfg).start()
    tp = t.Testpmd(wd, [f"net_virtio_user0,path={a},queues=2",
                        f"net_virtio_user1,path={b},queues=2"],
                   args=["--forward-mode=io", "--rxq=2", "--txq=2"])
    try:
        gw.wait_ready(["a", "b"])
        deadline = time.time() + 10
        while gw.device("a")["active_queues"] < 2 and time.time() < deadline:
            time.sleep(0.1)
        t.check(gw.device("a")["active_queues"] == 2,
                f"active queues: {gw.device('a')['active_queues']}")
        tp.cmd("start tx_first")
        time.sleep(2)
        tp.cmd("stop")
    finally:
        tp.quit()
    for dev in ("a", "b"):
        qs = gw.stats(dev)["queues"]
        for q in qs:
            t.check(q["rx_packets"] > 1000 and q["tx_packets"] > 1000,
                    f"{dev} queue {q['queue']}: {q}")
        t.log(f"{dev}: " + ", ".join(f"q{q['queue']} rx {q['rx_packets']} tx {q['tx_packets']}"
                                     for q in qs))
    fewer_pairs(wd, gw, a, b)
    gw.stop()


def fewer_pairs(wd, gw, a, b):
    """a sends on both of its pairs; b has two pairs but enabled one: what a
    sends on its second pair goes to b's first, none is held or dropped."""
    before = {d: gw.stats(d) for d in ("a", "b")}
    tpa = t.Testpmd(wd, [f"net_virtio_user0,path={a},queues=2"], name="tpa",
                    args=["--forward-mode=io", "--port-topology=loop", "--rxq=2", "--txq=2"])
    tpb = t.Testpmd(wd, [f"net_virtio_user0,path={b},queues=2"], name="tpb",
                    args=["--forward-mode=io", "--port-topology=loop", "--rxq=1", "--txq=1"])
    try:
        gw.wait_ready(["a", "b"])
        tpb.cmd("start")
        tpa.cmd("start tx_first")
        time.sleep(2)
        tpa.cmd("stop")
        tpb.cmd("stop")
    finally:
        tpa.quit()
        tpb.quit()
    sa, sb = gw.stats("a"), gw.stats("b")
    a1 = sa["queues"][1]["rx_packets"] - before["a"]["queues"][1]["rx_packets"]
    b0 = sb["queues"][0]["tx_packets"] - before["b"]["queues"][0]["tx_packets"]
    t.log(f"fewer pairs: a took {a1} frames on its pair 1, b received {b0} on its pair 0")
    # tx_first puts a burst on each of a's pairs; what comes back arrives
    # on a's pair 0 (b answers on its only pair)
    t.check(a1 >= 32, f"a's pair 1 carried {a1} frames, expected its tx_first burst")
    t.check(b0 > a1, f"b's pair 0 received {b0}, fewer than a sent on pair 1 ({a1})")
    t.check(sb["queues"][1]["tx_packets"] == before["b"]["queues"][1]["tx_packets"],
            "frames were sent into b's pair 1, which its front-end never enabled")
    t.check(sa["drops"] == before["a"]["drops"] and sb["drops"] == before["b"]["drops"],
            f"drops: a {sa['drops']}, b {sb['drops']}")
    t.check(gw.mbufs_in_use() == 0, f"mbufs in use: {gw.mbufs_in_use()}")


if __name__ == "__main__":
    t.run(main)
