#!/usr/bin/env python3
"""Multiqueue: two queue pairs per device, every queue polled and counted.

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
           "links": [{"xconnect": ["a", "b"]}]}
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
    gw.stop()


if __name__ == "__main__":
    t.run(main)
