#!/usr/bin/env python3
"""fs_budget: the fs devices share the gateway's fds; a guest that looks up
and opens more files than its device's share is answered ENFILE, and the
other devices go on working.

The gateway runs with RLIMIT_NOFILE 2048 (prlimit) and without
CAP_SYS_RESOURCE (setpriv: out of the bounding set), so that it cannot
raise the limit, with two fs devices. At start-up each device's share is
logged (lib/fs/fs_vhost.c, fd_share_init): what the limit leaves after the
fds open then and a reserve for the rest, split in two, and that split
between inodes and open files in the tables' proportion (4 to 1). Here:
  - vufront-fs's budget scenario on fs1 looks up 2,500 files (more than
    the whole limit) and opens each node it got: exactly the device's share
    of lookups (the root is one of its inodes) and of opens succeed, every
    other one is answered ENFILE (not EMFILE, no timeout), the root still
    answers, and the gateway logs a warning or two, not a line per request;
  - while fs1 holds all that, a second front-end connects to fs2 (its
    eventfds and memory table are fds the gateway must still be able to
    receive) and runs the basic scenario;
  - once fs1's front-end has released and forgotten everything, a refused
    name can be looked up (its tables hold the root and that one), and the
    gateway stops cleanly.
"""
import os
import re
import sys

import vgwtest as t
from test_fs_ring import Front, check_alive, prepare_share

NOFILE = 2048
FILES = 2500


class LimitedGateway(t.Gateway):
    """The gateway under RLIMIT_NOFILE NOFILE, unable to raise it."""

    def argv(self):
        return (["setpriv", "--bounding-set", "-sys_resource",
                 "prlimit", f"--nofile={NOFILE}:{NOFILE}"] + super().argv())


def share_of(out, name):
    m = re.search(rf"{name}: its share of the process's open files is (\d+) fds: up to "
                  rf"(\d+) inodes and (\d+) open files", out)
    t.check(m is not None, f"no share logged for {name}:\n{out[-3000:]}")
    return tuple(int(x) for x in m.groups())


def main():
    binary, tool = sys.argv[1], os.path.abspath(sys.argv[2])
    wd = t.workdir("fs-budget")
    share1, share2 = os.path.join(wd, "share1"), os.path.join(wd, "share2")
    os.makedirs(share1)
    for i in range(FILES):
        with open(os.path.join(share1, f"lk-{i:05d}"), "w") as f:
            f.write("x")
    os.makedirs(share2)
    prepare_share(share2)
    sock1, sock2 = os.path.join(wd, "fs1.sock"), os.path.join(wd, "fs2.sock")
    cfg = {"runtime_dir": wd,
           "devices": [{"name": "fs1", "type": "fs", "socket": sock1, "shared_dir": share1,
                        "tag": "budget1", "queues": 1},
                       {"name": "fs2", "type": "fs", "socket": sock2, "shared_dir": share2,
                        "tag": "budget2", "queues": 1}]}
    gw = LimitedGateway(binary, wd, cfg).start()
    pid = gw.proc.pid
    with open(f"/proc/{pid}/limits") as f:
        lim = [ln.split()[3:5] for ln in f if ln.startswith("Max open files")][0]
    t.check(lim == [str(NOFILE), str(NOFILE)], f"the gateway's fd limit is {lim}")
    out = gw.proc.output()
    m = re.search(r"open files: (\d+), (\d+) open and (\d+) kept for the rest; (\d+) for each "
                  r"of 2 fs device", out)
    t.check(m is not None, f"no fd budget logged:\n{out[-3000:]}")
    limit, open_now, reserve, each = (int(x) for x in m.groups())
    t.log(f"RLIMIT_NOFILE {limit}: {open_now} open at start-up, {reserve} kept, "
          f"{each} for each fs device")
    t.check(limit == NOFILE and each == (limit - open_now - reserve) // 2,
            f"share {each} of {limit} - {open_now} - {reserve}")
    fds1, inodes, handles = share_of(out, "fs1")
    t.check(share_of(out, "fs2") == (fds1, inodes, handles) and fds1 == each and
            inodes + handles == fds1 and inodes == fds1 * 4 // 5,
            f"fs1's share {fds1}: {inodes} inodes, {handles} handles")
    t.check(inodes < FILES, f"{inodes} inodes: the test would not go beyond them")
    log0 = gw.proc.output().count("\n")

    fe = Front(tool, sock1, "budget", wd, extra=["--lookup-files", str(FILES)])
    try:
        fe.sync("held", timeout=240)
        ok, enfile = int(fe.info("budget-ok")), int(fe.info("budget-enfile"))
        opened, open_enfile = int(fe.info("budget-opened")), int(fe.info("budget-open-enfile"))
        t.log(f"fs1: {ok} lookups succeeded, {enfile} ENFILE; {opened} opens succeeded, "
              f"{open_enfile} ENFILE")
        t.check(ok == inodes - 1 and enfile == FILES - ok,
                f"{ok} lookups succeeded and {enfile} got ENFILE: {inodes - 1} and "
                f"{FILES - inodes + 1} expected")
        t.check(opened == handles and open_enfile == ok - handles,
                f"{opened} opens succeeded and {open_enfile} got ENFILE: {handles} and "
                f"{ok - handles} expected")
        check_alive(gw, "fs1", "budget")
        st = gw.stats("fs1")
        t.check(st["inodes"] == inodes and st["handles"] == handles,
                f"fs1 holds {st['inodes']} inodes and {st['handles']} handles")
        nfd = t.fd_count(pid)
        t.log(f"gateway fds with fs1 at its share: {nfd} of {NOFILE}")
        t.check(nfd < NOFILE - reserve // 2, f"{nfd} fds open of {NOFILE}")
        warned = [ln for ln in gw.proc.output().splitlines()[log0:]
                  if "share of the process's fds" in ln]
        t.check(1 <= len(warned) <= 3 and all("fs1:" in ln for ln in warned),
                f"{len(warned)} warnings for {enfile + open_enfile} refusals: {warned[:5]}")

        # the other device connects and serves while fs1 holds its share
        fe2 = Front(tool, sock2, "basic", wd)
        try:
            fe2.sync("done")
            check_alive(gw, "fs2", "basic beside a full fs1")
            fe2.go()
            fe2.finish()
        finally:
            fe2.kill()
        t.log("fs2: the basic scenario passed with fs1 at its share")

        fe.go()
        fe.sync("done", timeout=120)
        # the root, and the once refused name vufront-fs looked up at last
        st = gw.stats("fs1")
        t.check(st["inodes"] == 2 and st["handles"] == 0,
                f"after the release and forgets fs1 holds {st['inodes']} inodes and "
                f"{st['handles']} handles")
        fe.go()
        fe.finish()
    finally:
        fe.kill()
    t.check(gw.proc.alive(), "the gateway died")
    gw.stop()


if __name__ == "__main__":
    t.run(main)
