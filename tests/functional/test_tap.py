#!/usr/bin/env python3
"""A net_tap uplink: the kernel interface sees the front-end's frames, and
frames the kernel sends on it reach the front-end.

The gateway runs inside a network namespace this test creates, so the tap
interface (10.200.0.1/24) lives there and never in the host's namespace.
"""
import os
import subprocess
import sys
import time

import vgwtest as t

N = 200
ETH_TYPE = 0x88B5



def main():
    binary = sys.argv[1]
    wd = t.workdir("tap")
    ns = f"vgwtap{os.getpid()}"
    sock = os.path.join(wd, "vm.sock")
    t.sh("ip", "netns", "add", ns)
    try:
        run(binary, wd, ns, sock)
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def run(binary, wd, ns, sock):
    for key in ("all", "default"):
        t.sh("ip", "netns", "exec", ns, "sysctl", "-qw", f"net.ipv6.conf.{key}.disable_ipv6=1")
    cfg = {"runtime_dir": wd,
           "devices": [{"name": "vm", "type": "net", "socket": sock},
                       {"name": "up0", "type": "ethdev", "devargs": "net_tap0,iface=vgwtap0"}],
           "links": [{"xconnect": ["vm", "up0"]}]}
    gw = t.Gateway(binary, wd, cfg, netns=ns).start()
    t.sh("ip", "netns", "exec", ns, "ip", "addr", "add", "10.200.0.1/24", "dev", "vgwtap0")
    t.sh("ip", "netns", "exec", ns, "ip", "link", "set", "vgwtap0", "up")

    sent = [t.frame("02:00:00:00:00:0b", "02:00:00:00:00:0a", 60 + 7 * i, i, ETH_TYPE)
            for i in range(N)]
    back = [t.frame("02:00:00:00:00:0a", "02:00:00:00:00:0b", 100 + i, 1000 + i, ETH_TYPE)
            for i in range(20)]
    src, back_out = os.path.join(wd, "in.pcap"), os.path.join(wd, "back.pcap")
    t.write_pcap(src, sent)
    cap_out = os.path.join(wd, "kernel.hex")
    cap = t.Proc("capture",
                 [sys.executable, "-c", t.PACKET_CAPTURE, "vgwtap0", str(N), cap_out, "30"],
                 wd, netns=ns)
    t.check(cap.wait_output("listening", 10), f"capture did not start: {cap.output()}")
    tp = t.Testpmd(wd, [f"net_pcap0,rx_pcap={src},tx_pcap={back_out}",
                        f"net_virtio_user0,path={sock}"],
                   args=["--forward-mode=io", "--port-topology=paired"])
    try:
        gw.wait_ready(["vm", "up0"])
        tp.cmd("set fwd io retry")
        tp.cmd("start")
        cap.wait(30)
        got = [bytes.fromhex(x) for x in open(cap_out).read().split()]
        t.check(len(got) == N, f"the kernel saw {len(got)} of {N} frames on vgwtap0; "
                f"gateway up0: {gw.stats('up0')}")
        for i, (x, y) in enumerate(zip(sent, got)):
            t.check(x == y, f"frame {i} differs on the tap: {x[:20].hex()} vs {y[:20].hex()}")
        t.log(f"the kernel saw all {N} frames on vgwtap0, byte-identical")
        hexfile = os.path.join(wd, "back.hex")
        with open(hexfile, "w") as f:
            f.writelines(x.hex() + "\n" for x in back)
        t.sh("ip", "netns", "exec", ns, sys.executable, "-c", t.PACKET_SEND, "vgwtap0", hexfile)
        gw.wait_counter("vm", "tx_packets", len(back))
        time.sleep(0.5)
        tp.cmd("stop")
    finally:
        tp.quit()
    got = [f for f in t.read_pcap(back_out) if f[12:14] == b"\x88\xb5"]
    t.check(got == back, f"the front-end got {len(got)} of the kernel's {len(back)} frames")
    st = gw.stats("up0")
    t.check(st["tx_packets"] >= N, f"up0 tx_packets {st['tx_packets']}")
    t.log(f"the front-end got the kernel's {len(back)} frames; up0 counters: "
          f"tx {st['tx_packets']} rx {st['rx_packets']}")
    gw.stop()


if __name__ == "__main__":
    t.run(main)
