#!/usr/bin/env python3
"""1,000 connect/disconnect cycles of a front-end leave the gateway's file
descriptors, memory and mbufs in use where they started.

Front-end: vufront-cycle, the project's vhost-user front-end (memfd guest
memory, split rings, kick/call eventfds): each cycle connects, negotiates,
sets up and enables every ring (the device becomes ready in the gateway),
sends frames and waits until the gateway consumed them, and disconnects.
A second round stops the rings with GET_VRING_BASE first, on two queue pairs.
"""
import os
import subprocess
import sys
import time

import vgwtest as t


def cycles(tool, sock, count, *extra):
    t0 = time.time()
    r = subprocess.run([tool, "--socket", sock, "--count", str(count)] + list(extra),
                       capture_output=True, text=True, timeout=600)
    t.check_sanitizer(f"vufront-cycle {' '.join(extra)}", r.stderr)
    t.check(r.returncode == 0 and f"ok={count}" in r.stdout,
            f"vufront-cycle {extra}: exit {r.returncode}\n{r.stdout}\n{r.stderr[-2000:]}")
    t.log(f"{count} cycles {' '.join(extra)}: {r.stdout.strip()} in {time.time() - t0:.1f} s")


def snapshot(gw):
    time.sleep(0.5)
    return dict(fds=t.fd_count(gw.proc.pid), rss=t.rss_kib(gw.proc.pid),
                mbufs=gw.mbufs_in_use())


def main():
    binary, tool = sys.argv[1], os.path.abspath(sys.argv[2])
    wd = t.workdir("cycle")
    sock = os.path.join(wd, "a.sock")
    cfg = {"runtime_dir": wd,
           "devices": [{"name": "a", "type": "net", "socket": sock, "queues": 2},
                       {"name": "b", "type": "net", "socket": os.path.join(wd, "b.sock")}],
           "links": [{"xconnect": ["a", "b"]}]}
    gw = t.Gateway(binary, wd, cfg).start()
    # warm-up: first-use allocations (rte_vhost tables, log buffers) are not leaks
    cycles(tool, sock, 20, "--full")
    before = snapshot(gw)
    c0 = gw.device("a")["connects"]
    cycles(tool, sock, 1000, "--full")
    cycles(tool, sock, 200, "--graceful", "--queues", "2", "--full")
    after = snapshot(gw)
    d = gw.device("a")
    t.log(f"before {before}, after {after}")
    t.check(d["connects"] - c0 >= 1200, f"the gateway saw {d['connects'] - c0} connects")
    t.check(d["connects"] == d["disconnects"], f"connects {d['connects']} != "
            f"disconnects {d['disconnects']}")
    t.check(gw.stats("a")["rx_packets"] >= 1200 * 4, "frames were not consumed")
    t.check(after["fds"] == before["fds"], f"fds: {before['fds']} -> {after['fds']}")
    t.check(after["mbufs"] == before["mbufs"], f"mbufs in use: {before['mbufs']} -> "
            f"{after['mbufs']}")
    if t.sanitized(binary):
        # AddressSanitizer holds freed memory in its quarantine (256 MiB) and
        # keeps its shadow: RSS tells nothing; LeakSanitizer checks at the stop
        t.log(f"RSS grew by {after['rss'] - before['rss']} KiB (sanitizer build: not checked)")
    else:
        t.check(after["rss"] - before["rss"] < 4096,
                f"RSS grew by {after['rss'] - before['rss']} KiB")
    t.check(gw.proc.alive(), "the gateway died")
    gw.stop()


if __name__ == "__main__":
    t.run(main)
