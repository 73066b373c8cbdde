#!/usr/bin/env python3
"""keeper_fschurn: an fs workload under vhostgw-keeper while the gateway is
killed. vufront-fs (our own front-end, FUSE on the rings) runs its churn
scenario: rounds of MKDIR, CREATE O_EXCL, WRITE, SETATTR, LINK, SYMLINK,
RENAME, UNLINK, RMDIR and an append to a log through one O_APPEND handle,
every reply checked (an operation done twice would be EEXIST or ENOENT, an
append done twice a line twice).

Part 1: the gateway is SIGKILLed 20 times at random points of the workload.
After each kill the next gateway is replayed, the workload goes on, and the
host tree of every round done so far is checked here: each even round's
directory holds its file (content, mode 0600, one link) and symlink, each
odd round's is gone, and the log holds each round's line once, in order.
One front-end connection, no failed operation, the tree exact.

Parts 2 and 3: the gateway kills itself after every 7th recorded outcome,
after the host operation and before the used entry (fs-crash-every), or
before the record (fs-crash-unrecorded-every), 30 rounds each: every
request taken again is answered once, the tree is exact, and the tables
taken over do not grow (a lookup or handle counted twice stays).
Part 4 (unlinked): files unlinked while open give their space back to a
small tmpfs share once the guest lets them go.
A fourth argument runs one part: kills, orphan, unlinked, fs-crash-every
or fs-crash-unrecorded-every.
"""
import os
import random
import re
import stat
import subprocess
import sys
import threading
import time

import vgwtest as t
from test_fs_ring import pattern

KILLS = 20
FAULT_EVERY = 7
FAULT_ROUNDS = 30
MAX_INODES = 6
MAX_HANDLES = 4
LOG = "churn.log"


def file_len(r):
    return 1024 + (r * 131) % 3072


class Churn:
    """One vufront-fs churn run; its stdout read by a thread."""

    def __init__(self, tool, sock, wd, name, rounds=None, pace_ms=1, scenario="churn",
                 extra=()):
        argv = [tool, "--socket", sock, "--scenario", scenario, "--pace-ms", str(pace_ms)]
        if rounds is not None:
            argv += ["--rounds", str(rounds)]
        argv += list(extra)
        self.outpath = os.path.join(wd, f"{name}.out")
        self.errf = open(os.path.join(wd, f"{name}.err"), "wb")
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=self.errf, cwd=wd)
        self.lines = []
        self.done = -1
        self.synced = threading.Event()
        self.th = threading.Thread(target=self._read, daemon=True)
        self.th.start()

    def _read(self):
        with open(self.outpath, "w") as out:
            for raw in self.p.stdout:
                line = raw.decode(errors="replace").rstrip("\n")
                out.write(line + "\n")
                out.flush()
                self.lines.append(line)
                m = re.match(r"info churn round=(\d+) done$", line)
                if m:
                    self.done = int(m.group(1))
                elif line == "SYNC done":
                    self.synced.set()

    def tail(self, n=15):
        return "\n".join(self.lines[-n:])

    def failures(self):
        return [l for l in self.lines if ": FAIL" in l]

    def wait_round(self, r, timeout=30, what=""):
        deadline = time.time() + timeout
        while self.done < r:
            t.check(not self.failures(), f"{what}: the workload failed:\n{self.tail()}")
            t.check(self.p.poll() is None and not self.synced.is_set(),
                    f"{what}: the workload ended at round {self.done}:\n{self.tail()}")
            t.check(time.time() < deadline,
                    f"{what}: round {r} not done in {timeout} s (at {self.done}):\n{self.tail()}")
            time.sleep(0.005)

    def finish(self, kp, stop=True, timeout=60):
        """Stop it (or let it end its --rounds); its exit code. The keeper
        kp must have kept its one connection until then."""
        if stop:
            self.p.stdin.write(b"stop\n")
            self.p.stdin.flush()
        t.check(self.synced.wait(timeout), f"the workload did not end:\n{self.tail()}")
        connection_kept(kp)
        self.p.stdin.write(b"GO\n")
        self.p.stdin.flush()
        rc = self.p.wait(timeout=20)
        self.th.join(5)
        return rc


class Tree:
    """The host side of the churn rounds, checked as they complete."""

    def __init__(self, share):
        self.share = share
        self.checked = 0  # rounds [0, checked) verified

    def check_rounds(self, upto):
        for r in range(self.checked, upto + 1):
            d = os.path.join(self.share, f"c{r}")
            if r % 2:
                t.check(not os.path.lexists(d), f"round {r}: {d} is still there")
                continue
            names = sorted(os.listdir(d))
            t.check(names == ["f", "s"], f"round {r}: {d} holds {names}, not f and s")
            st = os.lstat(os.path.join(d, "f"))
            t.check(stat.S_IMODE(st.st_mode) == 0o600 and st.st_nlink == 1,
                    f"round {r}: f has mode {stat.S_IMODE(st.st_mode):o}, {st.st_nlink} links")
            with open(os.path.join(d, "f"), "rb") as f:
                data = f.read()
            t.check(data == pattern(1000 + r, file_len(r)),
                    f"round {r}: f holds {len(data)} bytes, not its {file_len(r)} of pattern")
            t.check(os.readlink(os.path.join(d, "s")) == "f", f"round {r}: symlink s")
        self.checked = max(self.checked, upto + 1)

    def check_log(self, lo, hi=None):
        """The log holds rounds 0..k-1, once each, in order, lo <= k (and
        k <= hi when the workload has ended). While it runs there is no
        upper bound to check: the rounds it reported done lag behind what
        it did (its output passes a pipe and a reader thread: 4 rounds
        behind were seen on a busy machine), and a line doubled shows in
        the order anyway."""
        with open(os.path.join(self.share, LOG)) as f:
            lines = f.read().split("\n")
        t.check(lines[-1] == "", f"the log ends in a partial line: {lines[-1]!r}")
        lines = lines[:-1]
        want = [f"round={i:06d}" for i in range(len(lines))]
        bad = [(i, a) for i, (a, b) in enumerate(zip(lines, want)) if a != b]
        t.check(not bad, f"the log differs at line {bad[:1]}: a line lost or doubled")
        t.check(lo <= len(lines) and (hi is None or len(lines) <= hi),
                f"the log holds {len(lines)} lines, {lo}..{hi or ''} expected")
        return len(lines)

    def check_all(self, rounds):
        self.check_rounds(rounds - 1)
        extra = sorted(set(os.listdir(self.share)) - {LOG} -
                       {f"c{r}" for r in range(0, rounds, 2)})
        t.check(not extra, f"the share holds what no round made: {extra[:10]}")
        self.check_log(rounds, rounds)


def wait_replayed(kp, n, what):
    deadline = time.time() + 20
    while len(kp.replays("fs1")) <= n:
        t.check(kp.proc.alive(), f"{what}: the keeper died:\n{kp.proc.output()[-2000:]}")
        t.check(time.time() < deadline,
                f"{what}: no replay in 20 s:\n{kp.proc.output()[-2000:]}")
        time.sleep(0.01)


def connection_kept(kp):
    out = kp.proc.output()
    t.check(out.count("device fs1: front-end connected (") == 1 and
            "front-end connection closed" not in out,
            "the front-end connection was not kept:\n" +
            "\n".join(l for l in out.splitlines() if "front-end" in l))


def taken_again(kp):
    return sum(int(x) for x in re.findall(r"(\d+) request\(s\) left in flight",
                                          kp.proc.output()))


def config(wd, share, sock):
    return {"runtime_dir": wd,
            "devices": [{"name": "fs1", "type": "fs", "socket": sock, "shared_dir": share,
                         "tag": "myfs", "queues": 1}]}


def part_kills(binary, tool, keeper, wd):
    share = os.path.join(wd, "share1")
    os.makedirs(share)
    sock = os.path.join(wd, "fs1.sock")
    # kills come faster than --stable-ms: not a crash loop here
    kp = t.Keeper(keeper, binary, wd, config(wd, share, sock), name="kill",
                  keeper_args=["--stable-ms", "0"]).start()
    tree = Tree(share)
    ch = Churn(tool, sock, wd, "churn-kills")
    ch.wait_round(3, what="before the first kill")
    rnd = random.Random(os.getpid())
    for i in range(KILLS):
        ch.wait_round(ch.done + 2, what=f"before kill {i}")
        time.sleep(rnd.uniform(0, 0.004))
        n = len(kp.replays("fs1"))
        kp.kill_gateway()
        wait_replayed(kp, n, f"kill {i}")
        before = ch.done
        ch.wait_round(before + 2, what=f"after kill {i}")
        tree.check_rounds(before)
        tree.check_log(before + 1)
        # (every reply is checked by the front-end; the gateway's error
        # counter moves for a RELEASE redone, answered EBADF)
        t.check(kp.device("fs1")["phase"] in ("resumed", "recovering"),
                f"kill {i}: fs1 is {kp.device('fs1')['phase']}")
    rc = ch.finish(kp)
    t.check(rc == 0 and ch.lines[-1] == "RESULT ok",
            f"the workload failed (exit {rc}):\n{ch.tail()}")
    m = re.search(r"info churn rounds=(\d+) failed=0", "\n".join(ch.lines))
    t.check(m is not None, f"no churn summary:\n{ch.tail()}")
    rounds = int(m.group(1))
    tree.check_all(rounds)
    t.check(kp.ctl("keeper")["keeper"]["restarts"] == KILLS, "restarts counted")
    again = taken_again(kp)
    rec = kp.replays("fs1")
    t.log(f"{KILLS} kills over {rounds} rounds: every round's tree and log line exact; "
          f"{again} request(s) in flight at the kills taken again; kill to replay median "
          f"{sorted(rec)[len(rec) // 2]:.0f} ms, max {max(rec):.0f} ms")
    kp.stop()


def part_fault(binary, tool, keeper, wd, fault):
    name = fault.split("=")[0]
    share = os.path.join(wd, name)
    os.makedirs(share)
    sock = os.path.join(wd, f"{name}.sock")
    os.environ["VHOSTGW_TEST_FAULT"] = f"{fault}={FAULT_EVERY}"
    try:
        kp = t.Keeper(keeper, binary, wd, config(wd, share, sock), name=name,
                      keeper_args=["--stable-ms", "0"]).start()
    finally:
        del os.environ["VHOSTGW_TEST_FAULT"]
    ch = Churn(tool, sock, wd, f"churn-{name}", rounds=FAULT_ROUNDS, pace_ms=0)
    rc = ch.finish(kp, stop=False, timeout=120)
    t.check(rc == 0 and ch.lines[-1] == "RESULT ok",
            f"the workload failed (exit {rc}):\n{ch.tail()}")
    t.check(f"info churn rounds={FAULT_ROUNDS} failed=0" in ch.lines,
            f"not all rounds done:\n{ch.tail()}")
    out = kp.proc.output()
    crashes = len(re.findall(r"gateway \d+ \(pid \d+\) killed by signal 9", out))
    again = taken_again(kp)
    # 11 or 14 recorded operations a round, a crash every 7th: about 50
    t.check(crashes >= FAULT_ROUNDS,
            f"only {crashes} crashes in {FAULT_ROUNDS} rounds: the fault did not fire")
    t.check(again >= crashes - 1, f"requests taken again: {again} for {crashes} crashes")
    Tree(share).check_all(FAULT_ROUNDS)
    # a round holds at most root, log, c<r>, f, s and the handles of the
    # log, f and its read-back: a lookup or handle counted again by a
    # request taken again would stay, one more per crash
    sizes = [(int(a), int(b)) for a, b in
             re.findall(r"session taken over \((\d+) inode\(s\), (\d+) handle\(s\)", out)]
    t.check(len(sizes) >= crashes - 1,
            f"{len(sizes)} sessions taken over for {crashes} crashes")
    t.check(max(a for a, _ in sizes) <= MAX_INODES and max(b for _, b in sizes) <= MAX_HANDLES,
            f"the tables grew across take-overs (inodes, handles): {sizes}")
    where = "its record" if "unrecorded" in fault else "its used entry"
    t.log(f"{fault}={FAULT_EVERY}: {crashes} crashes between a host operation and {where}, "
          f"{again} request(s) taken again, each answered once: {FAULT_ROUNDS} rounds exact; "
          f"at most {max(a for a, _ in sizes)} inodes and {max(b for _, b in sizes)} handles "
          f"taken over")
    kp.stop()


def wait_line(ch, line, what, timeout=30):
    deadline = time.time() + timeout
    while line not in ch.lines:
        t.check(not ch.failures(), f"{what}: the workload failed:\n{ch.tail()}")
        t.check(ch.p.poll() is None, f"{what}: the workload ended:\n{ch.tail()}")
        t.check(time.time() < deadline, f"{what}: no {line!r} in {timeout} s:\n{ch.tail()}")
        time.sleep(0.005)


def part_orphan(binary, tool, keeper, wd):
    """A file unlinked while open and one a RENAME replaced (vufront-fs
    --scenario orphan): the gateway killed twice while the front-end holds
    them; they read back whole through their handles (and a new OPEN), the
    write between the kills included. The replaced file is released and
    forgotten after the first kill: a sweep of the vault lets its fd go
    before the second kill, whose take-over finds the one left and gives
    it back."""
    share = os.path.join(wd, "orphan")
    os.makedirs(share)
    sock = os.path.join(wd, "orphan.sock")
    kp = t.Keeper(keeper, binary, wd, config(wd, share, sock), name="orphan",
                  keeper_args=["--stable-ms", "0"]).start()
    ch = Churn(tool, sock, wd, "orphan", scenario="orphan")
    for tag in ("orphan1", "orphan2"):
        wait_line(ch, f"SYNC {tag}", f"before the kill at {tag}")
        # the replacing file keeps the name "victim"
        t.check(os.listdir(share) == ["victim"], f"{tag}: the share holds {os.listdir(share)}")
        if tag == "orphan2":
            # the replaced file, released and forgotten, leaves the vault
            # before the kill: a sweep lets its fd go
            t.wait_for("the forgotten file's fd let go",
                       lambda: kp.stats("fs1")["vault"]["released"] == 1 and
                       kp.stats("fs1")["vault"]["parked"] == 1)
        n = len(kp.replays("fs1"))
        kp.kill_gateway()
        wait_replayed(kp, n, f"kill at {tag}")
        deadline = time.time() + 10
        while kp.proc.output().count("session taken over") < n + 1:
            t.check(time.time() < deadline, f"{tag}: no take-over line:\n"
                    f"{kp.proc.output()[-1500:]}")
            time.sleep(0.01)
        last = kp.proc.output().split("session taken over")[-1].split("\n")[0]
        want = "2 unlinked file(s) of 2" if tag == "orphan1" else "1 unlinked file(s) of 1"
        t.check(f"{want} parked given back" in last,
                f"{tag}: the take-over did not give the unlinked file back: {last}")
        ch.p.stdin.write(b"GO\n")
        ch.p.stdin.flush()
    rc = ch.finish(kp, stop=False)
    t.check(rc == 0 and ch.lines[-1] == "RESULT ok",
            f"the workload failed (exit {rc}):\n{ch.tail()}")
    t.log("a file unlinked while open: read, written and read again through its handle "
          "across 2 kills, its fd given back at each take-over")
    kp.stop()


UNLINKED_ROUNDS = 12
UNLINKED_FILE = 4 << 20
UNLINKED_SHARE = 16 << 20


def share_used(path):
    st = os.statvfs(path)
    return (st.f_blocks - st.f_bfree) * st.f_frsize


def holders(pid, share):
    """What the process's fds point to under share (a failure's detail)."""
    found = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith(share):
            found.append(f"fd {fd} -> {target}")
    return ", ".join(found) or "no fd there"


def part_unlinked(binary, tool, keeper, wd):
    """Files unlinked while open give their space back to the host once the
    guest lets them go (vufront-fs --scenario unlinked): 12 rounds of a
    4 MiB file written, unlinked, read through its handle, released and
    forgotten, on a 16 MiB tmpfs share. Parked in the vault at each UNLINK
    (the keeper runs the gateway), each fd is let go by a sweep once the
    inode is forgotten: every WRITE succeeds (with the fds kept until a
    take-over, the fifth round ran out of space), the counters say 12
    parked and 12 let go, the share is empty again."""
    share = os.path.join(wd, "unlinked")
    os.makedirs(share)
    t.sh("mount", "-t", "tmpfs", "-o", f"size={UNLINKED_SHARE}", "vgw-unlinked", share)
    try:
        sock = os.path.join(wd, "unlinked.sock")
        kp = t.Keeper(keeper, binary, wd, config(wd, share, sock), name="unlinked").start()
        ch = Churn(tool, sock, wd, "unlinked", scenario="unlinked", rounds=UNLINKED_ROUNDS,
                   extra=["--file-size", str(UNLINKED_FILE)])
        wait_line(ch, "SYNC unlinked", "the unlinked rounds", timeout=120)
        t.check(f"info unlinked round={UNLINKED_ROUNDS - 1} done" in ch.lines,
                f"not every round was done:\n{ch.tail()}")
        t.wait_for("every parked fd let go",
                   lambda: kp.stats("fs1")["vault"] == {"parked": 0, "kept": UNLINKED_ROUNDS,
                                                        "released": UNLINKED_ROUNDS,
                                                        "full": 0})
        used = share_used(share)
        if used >= UNLINKED_FILE:
            # the counter moves once the close is given to the kernel;
            # the space is back when the kernel's last reference goes
            t.log(f"the share uses {used} bytes at released={UNLINKED_ROUNDS}: waiting")
            try:
                t.wait_for("the share's space", lambda: share_used(share) < UNLINKED_FILE,
                           timeout=10)
            except t.TestFailure:
                pass  # (the check below says what holds it)
            used = share_used(share)
        t.check(used < UNLINKED_FILE,
                f"the share still uses {used} bytes; the gateway holds "
                f"{holders(kp.gateway_pids()[-1], share)}")
        ch.p.stdin.write(b"GO\n")
        ch.p.stdin.flush()
        rc = ch.finish(kp, stop=False)
        t.check(rc == 0 and ch.lines[-1] == "RESULT ok",
                f"the workload failed (exit {rc}):\n{ch.tail()}")
        t.log(f"{UNLINKED_ROUNDS} files of {UNLINKED_FILE >> 20} MiB unlinked while open on a "
              f"{UNLINKED_SHARE >> 20} MiB share: each one's space given back, the share "
              f"uses {used} bytes")
        kp.stop()
    finally:
        subprocess.run(["umount", "-l", share], check=False)


def main():
    """The kills, the orphan, the unlinked files, then both faults; with a
    fourth argument (a part's name) that part only."""
    binary, tool, keeper = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3]
    wd = t.workdir("keeper-fschurn")
    parts = sys.argv[4:] or ["kills", "orphan", "unlinked", "fs-crash-every",
                             "fs-crash-unrecorded-every"]
    for part in parts:
        if part == "kills":
            part_kills(binary, tool, keeper, wd)
        elif part == "orphan":
            part_orphan(binary, tool, keeper, wd)
        elif part == "unlinked":
            part_unlinked(binary, tool, keeper, wd)
        else:
            t.check(part in ("fs-crash-every", "fs-crash-unrecorded-every"),
                    f"unknown part {part!r}")
            part_fault(binary, tool, keeper, wd, part)


if __name__ == "__main__":
    t.run(main)
