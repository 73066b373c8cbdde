#!/usr/bin/env python3
"""Client mode: the front-end (virtio_user server=1) owns the sockets. The
gateway is killed with SIGKILL in the middle of traffic and started again:
traffic resumes without touching the front-end.

Front-end: one dpdk-testpmd, io forwarding, ports paired 0<->1, 2<->3: an
endless pcap source -> virtio_user(a) ... gateway a->b ... virtio_user(b) ->
a null sink.
"""
import os
import sys
import time

import vgwtest as t


def main():
    binary = sys.argv[1]
    wd = t.workdir("client")
    a, b = os.path.join(wd, "a.sock"), os.path.join(wd, "b.sock")
    src = os.path.join(wd, "in.pcap")
    t.write_pcap(src, [t.frame("02:00:00:00:00:0b", "02:00:00:00:00:0a", 256, i)
                       for i in range(64)])
    cfg = {"runtime_dir": wd,
           "devices": [{"name": "a", "type": "net", "socket": a, "mode": "client"},
                       {"name": "b", "type": "net", "socket": b, "mode": "client"}],
           "links": [{"xconnect": ["a", "b"]}]}
    # virtio_user in server mode waits in its probe for the back-end: a.sock
    # appears first, b.sock only once the gateway connected to a
    tp = t.Testpmd(wd, [f"net_pcap0,rx_pcap={src},infinite_rx=1",
                        f"net_virtio_user0,path={a},server=1",
                        f"net_virtio_user1,path={b},server=1",
                        "net_null0,no-rx=1"],
                   args=["--forward-mode=io", "--port-topology=paired"], wait=False)
    deadline = time.time() + 20
    while not os.path.exists(a) and time.time() < deadline:
        time.sleep(0.1)
    gw = t.Gateway(binary, wd, cfg).start()
    tp.wait_prompt()
    gw.wait_ready(["a", "b"])
    tp.cmd("start")
    gw.wait_counter("b", "tx_packets", 100000)
    tp_pid = tp.proc.pid

    gw.kill9()
    t.log("gateway killed with SIGKILL mid-traffic")
    time.sleep(1)
    before = tp.port_stats()[2]["rx_packets"]
    t0 = time.time()
    gw.start()
    gw.wait_ready(["a", "b"])
    gw.wait_counter("b", "tx_packets", 100000)
    gap = time.time() - t0
    after = tp.port_stats()[2]["rx_packets"]
    t.check(tp.proc.alive() and tp.proc.pid == tp_pid, "the front-end did not survive")
    t.check(after - before >= 100000,
            f"front-end b received {after - before} frames after the restart")
    t.log(f"traffic resumed {gap:.2f} s after the restart; front-end b received "
          f"{after - before} more frames; the front-end was not touched")
    tp.quit()
    gw.stop()


if __name__ == "__main__":
    t.run(main)
