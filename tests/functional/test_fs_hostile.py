#!/usr/bin/env python3
"""fs_hostile: a guest that lies in FUSE requests (vufront-fs's hostile
scenario) against the real gateway's fs device, while a net pair of the
same gateway moves frames.

The share sits in a tree of its own: secret.txt and beside/ next to it,
and the share holds three symlinks planted here that lead out of it
(escape -> ../secret.txt, escape_abs -> secret.txt's absolute path,
escape_dir -> ..). vufront-fs sends bad names in every opcode that takes
one, opens and creates through the symlinks, node ids and handles never
given, FORGETs of what it does not hold and floods the request ring with
requests that have no room for a reply (see vufront_fs_hostile.c); each
gets the error reply (or the used length 0) it must, and the device goes
on serving. Here:
  - nothing in the tree changed (names, types, sizes, modes, contents,
    symlink targets), inside the share or outside it; no reply carried
    secret.txt's content (vufront-fs checks every reply);
  - the fs device's inodes and handles, and the gateway's fds, are where
    they were after INIT once vufront-fs has forgotten and released all it
    looked up and opened, and the fds are back at their start once it has
    gone;
  - the requests were errors, not malformed chains: the malformed counter
    stays, the errors counter counts them, and the gateway logs no line per
    request;
  - the net pair's frames all arrived, each as sent (vufront-net --verify).
"""
import hashlib
import os
import sys
import time

import vgwtest as t
from test_fs_ring import Front, check_alive, prepare_share, wait_disconnected

SECRET = b"vufront-fs: outside the share, never to be read\n"
TRAFFIC, RATE = 300000, 10000  # 30 s: the attack takes a few


def plant(tree):
    share = os.path.join(tree, "share")
    os.makedirs(share)
    prepare_share(share)
    secret = os.path.join(tree, "secret.txt")
    with open(secret, "wb") as f:
        f.write(SECRET)
    os.makedirs(os.path.join(tree, "beside"))
    with open(os.path.join(tree, "beside", "beside.txt"), "wb") as f:
        f.write(SECRET)
    os.symlink("../secret.txt", os.path.join(share, "escape"))
    os.symlink(secret, os.path.join(share, "escape_abs"))
    os.symlink("..", os.path.join(share, "escape_dir"))
    return share


def snapshot(tree):
    """Every entry under tree: type, mode, size, mtime, content hash, link
    target."""
    out = {}
    for root, dirs, files in os.walk(tree):
        for name in dirs + files:
            p = os.path.join(root, name)
            st = os.lstat(p)
            rel = os.path.relpath(p, tree)
            if os.path.islink(p):
                out[rel] = ("link", os.readlink(p))
            elif os.path.isdir(p):
                out[rel] = ("dir", st.st_mode)
            else:
                with open(p, "rb") as f:
                    h = hashlib.sha256(f.read()).hexdigest()
                out[rel] = ("file", st.st_mode, st.st_size, st.st_mtime_ns, h)
    return out


def xattrs(path):
    try:
        return sorted(os.listxattr(path, follow_symlinks=False))
    except OSError:
        return []


def fd_targets(pid):
    out = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out[int(fd)] = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            pass
    return out


def fd_diff(a, b):
    """The fds of b not in a, and those of a gone in b."""
    new = sorted(f"{k}:{v}" for k, v in b.items() if a.get(k) != v)
    gone = sorted(f"{k}:{v}" for k, v in a.items() if b.get(k) != v)
    return f"new {new}, gone {gone}"


def steady_fds(pid, timeout=5):
    """The fd count once two reads 0.2 s apart agree (a control socket
    client the gateway just answered is closed a moment later)."""
    deadline = time.time() + timeout
    last = t.fd_count(pid)
    while time.time() < deadline:
        time.sleep(0.2)
        now = t.fd_count(pid)
        if now == last:
            break
        last = now
    return last


def settle_fds(pid, want, timeout=10):
    deadline = time.time() + timeout
    while True:
        got = t.fd_count(pid)
        if got == want or time.time() > deadline:
            return got
        time.sleep(0.1)


def diff(before, after):
    gone = sorted(set(before) - set(after))
    new = sorted(set(after) - set(before))
    changed = sorted(k for k in before if k in after and before[k] != after[k])
    return gone, new, changed


def main():
    binary, tool, net_tool = sys.argv[1], os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3])
    wd = t.workdir("fs-hostile")
    tree = os.path.join(wd, "tree")
    share = plant(tree)
    sock = os.path.join(wd, "fs1.sock")
    cfg = {"runtime_dir": wd,
           "devices": [{"name": "fs1", "type": "fs", "socket": sock, "shared_dir": share,
                        "tag": "hostile", "queues": 1, "xattr": True},
                       {"name": "c", "type": "net", "socket": os.path.join(wd, "c.sock")},
                       {"name": "d", "type": "net", "socket": os.path.join(wd, "d.sock")}],
           "links": [{"xconnect": ["c", "d"]}]}
    gw = t.Gateway(binary, wd, cfg).start()
    pid = gw.proc.pid
    before = snapshot(tree)
    xattrs0 = xattrs(share)
    fds_start = steady_fds(pid)

    rd = t.VufrontNet(net_tool, wd, "recv-d", ["--socket", os.path.join(wd, "d.sock"),
                                                "--recv", str(TRAFFIC), "--verify",
                                                "--timeout-ms", "120000"])
    rd.wait_ready()
    sc = t.VufrontNet(net_tool, wd, "send-c", ["--socket", os.path.join(wd, "c.sock"),
                                                "--send", str(TRAFFIC), "--rate", str(RATE),
                                                "--timeout-ms", "120000"])
    sc.wait_ready()
    gw.wait_ready(["c", "d"])
    st0 = gw.stats("fs1")
    c0 = gw.device("fs1")["connects"]

    fe = Front(tool, sock, "hostile", wd)
    try:
        fe.sync("counts")
        st1 = gw.stats("fs1")
        fds1 = steady_fds(pid)
        fdt1 = fd_targets(pid)
        log1 = gw.proc.output().count("\n")
        t.log(f"after INIT: inodes {st1['inodes']}, handles {st1['handles']}, fds {fds1}")
        fe.go()
        fe.sync("done", timeout=280)
        check_alive(gw, "fs1", "hostile")
        t.check(rd.proc.alive() and sc.proc.alive(),
                "the net pair finished before the attack did: it did not run alongside")
        st2 = gw.stats("fs1")
        fds2 = settle_fds(pid, fds1)
        t.log(f"at the end: inodes {st2['inodes']}, handles {st2['handles']}, fds {fds2}")
        t.log(f"stats {st2}")
        t.check(st2["inodes"] == st1["inodes"] and st2["handles"] == st1["handles"],
                f"inodes {st1['inodes']} -> {st2['inodes']}, handles {st1['handles']} -> "
                f"{st2['handles']}: the hostile requests left table entries")
        t.check(fds2 == fds1, f"gateway fds {fds1} -> {fds2} over the hostile requests: "
                f"{fd_diff(fdt1, fd_targets(pid))}")
        want_err = int(fe.info("hostile-errors") or 0)
        flood = int(fe.info("hostile-flood") or 0)
        t.check(want_err > 1000 and flood >= 5000,
                f"vufront-fs asked for {want_err} errors, flooded {flood}")
        errs = st2["errors"] - st0["errors"]
        t.check(errs >= want_err, f"errors counted {errs}, vufront-fs asked for {want_err}")
        # counted, not logged: no line per request
        logged = gw.proc.output().count("\n") - log1
        t.check(logged < 10, f"the gateway logged {logged} lines over the hostile requests:\n"
                f"{gw.proc.output()[-2000:]}")
        t.check(st2["malformed"] == st0["malformed"],
                f"malformed {st0['malformed']} -> {st2['malformed']}: well formed chains "
                f"counted as malformed")
        fe.go()
        fe.finish()
    finally:
        fe.kill()
    wait_disconnected(gw, "fs1", c0 + 1)
    out_d, out_c = rd.finish(), sc.finish()
    wait_disconnected(gw, "c", 1)
    wait_disconnected(gw, "d", 1)
    fds3 = settle_fds(pid, fds_start)
    t.log(f"gateway fds: {fds_start} before the front-ends, {fds3} after they left")
    t.check(fds3 == fds_start, f"gateway fds {fds_start} -> {fds3} after the front-ends left")

    t.check(sc.field(out_c, "sent") == TRAFFIC and rd.field(out_d, "received") == TRAFFIC and
            rd.field(out_d, "bad") == 0,
            f"d received {rd.field(out_d, 'received')} of {TRAFFIC} frames, "
            f"{rd.field(out_d, 'bad')} bad, while fs1 was attacked")
    t.log(f"net pair: {TRAFFIC} frames, each as sent, while fs1 was attacked")

    after = snapshot(tree)
    gone, new, changed = diff(before, after)
    t.check(not gone and not new and not changed,
            f"the tree changed: gone {gone}, new {new}, changed {changed}")
    t.check(xattrs(share) == xattrs0, f"share xattrs {xattrs0} -> {xattrs(share)}")
    with open(os.path.join(tree, "secret.txt"), "rb") as f:
        t.check(f.read() == SECRET, "secret.txt changed")
    t.log(f"the tree is as it was: {len(after)} entries, inside and outside the share")
    t.check(gw.proc.alive(), "the gateway died")
    gw.stop()


if __name__ == "__main__":
    t.run(main)
