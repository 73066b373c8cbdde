#!/usr/bin/env python3
"""socket_owner: a server socket gets the owner, group and mode its device
asks for ("socket_owner", "socket_group", "socket_mode") before a front-end
may connect, so a front-end that is not root (QEMU under libvirt runs as
libvirt-qemu) connects without anybody running chmod.

Two net devices cross-connected: a with socket_owner "nobody", socket_group
"nogroup", socket_mode "0660"; b without the keys. stat() of each socket:
a is nobody:nogroup 0660, b root's with the mode the umask gave it (no
write permission for others). vufront-net (the project's front-end) run as
nobody:nogroup without supplementary groups (setpriv) receives N frames on
a, checked byte for byte, that a front-end run as root sends on b; the same
unprivileged front-end on b is refused (connect: Permission denied): the
control that shows the keys, not the test's set-up, let it in.

The same after the gateway is killed and started again (a socket of a new
inode, given the keys again); then under vhostgw-keeper, which owns the
front-end sockets: the keeper's socket has them, the gateway's own behind
it (in the keeper's private directory) does not need them, and after the
keeper restarts a killed gateway the socket still has them and a new
unprivileged front-end connects through it.

Last, a socket the keys cannot be applied to is not served: the gateway,
and the keeper, in a user namespace where nobody's uid has no mapping
(chown fails with EINVAL) exit 1 with one line naming the device, the
socket and why, and leave no socket behind.
"""
import grp
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import time

import vgwtest as t

N = 2000
SEED = 9
NOBODY = pwd.getpwnam("nobody").pw_uid
NOGROUP = grp.getgrnam("nogroup").gr_gid
# an unprivileged front-end: nobody:nogroup, no supplementary groups (root's
# would otherwise stay), no capabilities (dropped by setresuid)
UNPRIV = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


def config(sock):
    return {"runtime_dir": os.path.dirname(sock["a"]),
            "devices": [{"name": "a", "type": "net", "socket": sock["a"],
                         "socket_owner": "nobody", "socket_group": "nogroup",
                         "socket_mode": "0660"},
                        {"name": "b", "type": "net", "socket": sock["b"]}],
            "links": [{"xconnect": ["a", "b"]}]}


def check_sockets(what, sock):
    """stat() of both sockets; a's inode."""
    st = os.stat(sock["a"])
    t.check(stat.S_ISSOCK(st.st_mode), f"{what}: {sock['a']} is not a socket")
    t.check((st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (NOBODY, NOGROUP, 0o660),
            f"{what}: a's socket is {st.st_uid}:{st.st_gid} {stat.S_IMODE(st.st_mode):04o}, "
            f"expected {NOBODY}:{NOGROUP} 0660")
    umask = os.umask(0)
    os.umask(umask)
    st_b = os.stat(sock["b"])
    mode_b = stat.S_IMODE(st_b.st_mode)
    t.check((st_b.st_uid, st_b.st_gid, mode_b) == (os.getuid(), os.getgid(), 0o777 & ~umask),
            f"{what}: b's socket is {st_b.st_uid}:{st_b.st_gid} {mode_b:04o}, expected "
            f"{os.getuid()}:{os.getgid()} {0o777 & ~umask:04o} (as created)")
    # else the control below proves nothing
    t.check(mode_b & 0o002 == 0, f"{what}: b's socket is writable by others ({mode_b:04o}): "
            f"run the test with a umask that keeps o+w off (022)")
    t.log(f"{what}: a {st.st_uid}:{st.st_gid} {stat.S_IMODE(st.st_mode):04o}, "
          f"b {st_b.st_uid}:{st_b.st_gid} {mode_b:04o}")
    return st.st_ino


def euid_of(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[2])
    return None


def exchange(what, gw, tool, wd, sock):
    """N frames from a root front-end on b to an unprivileged one on a."""
    common = ["--timeout-ms", "20000", "--seed", str(SEED), "--size", "60-1514"]
    before = gw.stats("a")["tx_packets"]
    ra = t.VufrontNet("setpriv", wd, f"{what}-recv-a-nobody",
                      UNPRIV + [tool, "--socket", sock["a"], "--recv", str(N), "--verify"] +
                      common)
    ra.wait_ready()
    euid = euid_of(ra.proc.pid)
    t.check(euid == NOBODY, f"{what}: the front-end on a runs as uid {euid}, not nobody")
    sb = t.VufrontNet(tool, wd, f"{what}-send-b-root",
                      ["--socket", sock["b"], "--send", str(N), "--rate", "5000"] + common)
    out_a, out_b = ra.finish(), sb.finish()
    got, bad = ra.field(out_a, "received"), ra.field(out_a, "bad")
    t.check(got == N and bad == 0, f"{what}: the unprivileged front-end on a received "
            f"{got} frames ({bad} bad), expected {N} intact")
    t.check(sb.field(out_b, "sent") == N, f"{what}: b sent {sb.field(out_b, 'sent')}")
    moved = gw.stats("a")["tx_packets"] - before
    t.check(moved == N, f"{what}: the gateway gave {moved} frames to a's guest, expected {N}")
    t.log(f"{what}: {N} frames to the unprivileged front-end on a")


def denied(what, tool, wd, sock):
    """The unprivileged front-end on b: refused by the socket's mode."""
    p = t.VufrontNet("setpriv", wd, f"{what}-b-nobody",
                     UNPRIV + [tool, "--socket", sock["b"], "--recv", "1", "--timeout-ms",
                               "3000"])
    rc = p.proc.wait(30)
    out = p.proc.output()
    p.proc.stop()
    want = f"vufront-net: connect {sock['b']}: Permission denied"
    t.check(rc == 1 and want in out, f"{what}: the unprivileged front-end on b exited "
            f"with {rc}, expected 1 and {want!r}:\n{out[-2000:]}")


def setup_dir(name, tool):
    """A work directory nobody can enter (t.workdir makes it 0755, in /tmp),
    with a copy of vufront-net in it: the build tree may be where nobody
    cannot reach (a home directory), and then nobody's front-end would fail
    for that reason, not for the socket's."""
    wd = t.workdir(name)
    st = os.stat(wd)
    t.check(stat.S_IMODE(st.st_mode) & 0o005 == 0o005, f"{wd}: not reachable by others")
    copy = os.path.join(wd, "vufront-net")
    shutil.copy(tool, copy)
    os.chmod(copy, 0o755)
    r = subprocess.run(UNPRIV + [copy, "--help"], capture_output=True, text=True, timeout=10)
    t.check(r.returncode == 0 and "usage: vufront-net" in r.stdout + r.stderr,
            f"nobody cannot run {copy} ({r.returncode}): {r.stdout}{r.stderr}")
    return wd, copy, {d: os.path.join(wd, f"{d}.sock") for d in ("a", "b")}


def plain(binary, tool):
    wd, tool, sock = setup_dir("socket_owner", tool)
    gw = t.Gateway(binary, wd, config(sock)).start()
    check_sockets("gateway", sock)
    denied("gateway", tool, wd, sock)
    exchange("gateway", gw, tool, wd, sock)
    # killed and started again: the stale socket replaced by a new one,
    # given the keys again (the stale one made root's first, so that what
    # the check below sees can only come from the new gateway)
    gw.kill9()
    t.check(os.path.exists(sock["a"]), "the killed gateway's socket a is gone")
    os.chown(sock["a"], os.getuid(), os.getgid())
    os.chmod(sock["a"], 0o755)
    gw = t.Gateway(binary, wd, config(sock)).start()
    check_sockets("gateway restarted", sock)
    denied("gateway restarted", tool, wd, sock)
    exchange("gateway restarted", gw, tool, wd, sock)
    gw.stop()


def keeper(binary, tool, keeper_binary):
    wd, tool, sock = setup_dir("socket_owner-keeper", tool)
    kp = t.Keeper(keeper_binary, binary, wd, config(sock)).start()
    ino = check_sockets("keeper", sock)
    # the gateway's own socket behind the keeper: the keeper connects to
    # it as root, in a directory of its own; left as created
    st = os.stat(os.path.join(kp.dir, "a.sock"))
    t.check(st.st_uid == os.getuid() and stat.S_IMODE(os.stat(kp.dir).st_mode) == 0o700,
            f"keeper: the gateway's socket a is {st.st_uid}:{st.st_gid}, its directory "
            f"{stat.S_IMODE(os.stat(kp.dir).st_mode):04o}")
    denied("keeper", tool, wd, sock)
    exchange("keeper", kp, tool, wd, sock)
    pid = kp.kill_gateway()
    deadline = time.time() + 30
    r = None
    while time.time() < deadline:
        try:
            r = kp.ctl("keeper")
            if r.get("ok") and r["keeper"]["restarts"] == 1:
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    t.check(r is not None and r.get("ok") and r["keeper"]["restarts"] == 1,
            f"keeper: no new gateway after gateway {pid} was killed: {r}")
    t.check(check_sockets("keeper, gateway restarted", sock) == ino,
            "keeper: socket a is not the one the keeper listened on")
    denied("keeper, gateway restarted", tool, wd, sock)
    exchange("keeper, gateway restarted", kp, tool, wd, sock)
    kp.stop()


def not_applied(binary, keeper_binary):
    """chown refused: the device is not served, its socket not left; the
    gateway (start-up fails) and the keeper (it exits) alike."""
    wd = t.workdir("socket_owner-fail")
    sock = {d: os.path.join(wd, f"{d}.sock") for d in ("a", "b")}
    gw = t.Gateway(binary, wd, config(sock))
    with open(gw.cfg_path, "w") as f:
        json.dump(gw.config, f)
    # root mapped to root, nobody's uid unmapped: chown(65534) is EINVAL
    userns = ["unshare", "--user", "--map-root-user"]
    why = (f"cannot chown socket {sock['a']} (owner {NOBODY}, group {NOGROUP}, mode 0660): "
           f"Invalid argument")
    runs = (("gateway", gw.argv(), f"vhostgw: a: {why}; not served"),
            ("keeper", [os.path.abspath(keeper_binary), "--dir", os.path.join(wd, "keeper"),
                        "--"] + gw.argv(), f"vhostgw-keeper: device a: {why}"))
    for what, argv, want in runs:
        try:
            r = subprocess.run(userns + argv, capture_output=True, text=True, timeout=60,
                               cwd=wd)
        finally:
            for prefix in t.keeper_prefixes(gw.prefix):
                t.remove_dpdk_files(prefix)
        out = r.stdout + r.stderr
        t.check_sanitizer(what, out)
        t.check(r.returncode == 1 and want in out.splitlines(),
                f"{what} in a user namespace exited with {r.returncode}, expected 1 and "
                f"{want!r}:\n{out[-3000:]}")
        t.check(not os.path.exists(sock["a"]), f"{what}: {sock['a']} left behind")
        t.log(f"{what}: chown refused: exit 1, socket a removed")


def main():
    binary, tool, keeper_binary = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3]
    plain(binary, tool)
    keeper(binary, tool, keeper_binary)
    not_applied(binary, keeper_binary)


if __name__ == "__main__":
    t.run(main)
