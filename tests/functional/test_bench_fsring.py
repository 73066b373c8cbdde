#!/usr/bin/env python3
"""bench_fsring: a smoke run of `usertools/vhostgw-bench fs-ring`.

One round, a short time per operation and a small read file, vhostgw against
the C virtiofsd (--peers c), --json, the share a fresh ext4 image per
measurement (the default --share-fs). Asserts outcomes only, never timings:
the run completes (exit 0), both back-ends report every operation with
ops > 0 and no error, every back-end thread was seen pinned to the back-end
CPU, and the summary has a vhostgw / C virtiofsd ratio for every operation.
Then a short run with --share-fs dir (one directory for the run, its files
made through the first back-end and found by the second) that completes,
and a run with --share-fs tmpfs stopped by SIGINT once its first share is
mounted: exit 130. After each run nothing is left in --share-dir and
nothing mounted under it.

The benchmark takes the machine lock itself (/tmp/vhostgw-machine.lock), so
this test does not hold it (vgwtest.run would).
"""
import json
import os
import signal
import subprocess
import sys
import time

import vgwtest as t

OPS = ["lookup:16", "create:16", "unlink:16", "randread:1", "randread:16", "randread:64",
       "seqread:4", "seqwrite:4"]


def mounts_under(d):
    with open("/proc/mounts") as f:
        return [line.split()[1] for line in f if line.split()[1].startswith(d + "/")]


def check_clean(shares):
    t.check(not mounts_under(shares), f"left mounted: {mounts_under(shares)}")
    t.check(not os.listdir(shares), f"left in {shares}: {os.listdir(shares)}")


def run_json(bench, args, common, what):
    """vhostgw-bench fs-ring ARGS --json: its document, once it exited 0."""
    argv = [sys.executable, bench, "fs-ring"] + args + ["--json"] + common
    t.log(" ".join(argv))
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=240)
    sys.stderr.write(r.stderr[-4000:])
    t.check(r.returncode == 0, f"{what} exited with {r.returncode}")
    return json.loads(r.stdout)


def one_dir(bench, common, shares):
    """--share-fs dir: both back-ends in one directory, the run completes."""
    doc = run_json(bench, ["--rounds", "1", "--seconds", "0.2", "--share-fs", "dir", "--ops",
                           "lookup:16,create:16"], common, "fs-ring --share-fs dir")
    t.check(doc["config"]["share_fs"] == "dir" and doc["complete"] and doc["errors"] == 0,
            f"--share-fs dir: {doc['config']['share_fs']}, complete {doc['complete']}, "
            f"errors {doc['errors']}")
    t.check(len(doc["measurements"]) == 2, f"--share-fs dir: {len(doc['measurements'])} "
            "measurements")
    check_clean(shares)


def interrupted(bench, common, shares):
    """--share-fs tmpfs, SIGINT once the first share is mounted."""
    argv = [sys.executable, bench, "fs-ring", "--rounds", "2", "--seconds", "2",
            "--share-fs", "tmpfs", "--ops", "create:16,seqwrite:4"] + common
    t.log(" ".join(argv))
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not mounts_under(shares) and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    t.check(p.poll() is None, f"fs-ring exited ({p.returncode}) before a share was mounted")
    t.check(mounts_under(shares), "no share mounted in 120 s")
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    sys.stderr.write(err[-2000:])
    t.check(p.returncode == 130, f"fs-ring after SIGINT exited with {p.returncode}")
    check_clean(shares)


def main():
    vhostgw, vufront_fs = sys.argv[1], sys.argv[2]
    bench = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                         "usertools", "vhostgw-bench")
    wd = t.workdir("bench_fsring")
    shares = os.path.join(wd, "shares")
    os.mkdir(shares)
    common = ["--file-mib", "8", "--peers", "c", "--vhostgw", vhostgw,
              "--vufront-fs", vufront_fs, "--build-dir", wd, "--share-dir", shares]
    doc = run_json(bench, ["--rounds", "1", "--seconds", "0.3"], common, "vhostgw-bench fs-ring")
    t.check(doc["config"]["share_fs"] == "ext4", f"share_fs {doc['config']['share_fs']}")
    check_clean(shares)
    t.check(doc["complete"] and not doc["failures"] and doc["errors"] == 0,
            f"incomplete: failures {doc['failures']}, errors {doc['errors']}")
    for kind in ("vhostgw", "c"):
        ms = [m for m in doc["measurements"] if m["backend"] == kind]
        t.check(len(ms) == 1, f"{kind}: {len(ms)} measurements")
        for op in OPS:
            o = ms[0]["ops"].get(op)
            t.check(o is not None, f"{kind}: {op} not reported")
            t.check(o["ops"] > 0 and o["errors"] == 0, f"{kind}: {op}: {o}")
            if op.startswith(("randread", "seqread", "seqwrite")):
                t.check(o["bytes"] == o["ops"] * o["req_size"] and o["req_size"] > 0,
                        f"{kind}: {op}: bytes {o['bytes']}, {o['ops']} x {o['req_size']}")
        p = doc["pinning"].get(kind)
        t.check(p is not None and p["cpus"] == [str(doc["config"]["backend_cpu"])],
                f"{kind}: pinning {p}")
    for op in OPS:
        s = doc["summary"].get(op)
        t.check(s is not None and "c" in s["ratios"] and s["ratios"]["c"]["median"] > 0,
                f"summary {op}: {s}")
    ratios = ", ".join(f"{op} {doc['summary'][op]['ratios']['c']['median']:.2f}" for op in OPS)
    one_dir(bench, common, shares)
    interrupted(bench, common, shares)
    t.log(f"PASS: {len(OPS)} operations on fresh ext4 shares, ratios {ratios}; one "
          "directory shared by both; tmpfs shares removed after SIGINT")


if __name__ == "__main__":
    try:
        main()
    except t.TestFailure as e:
        t.log(f"FAIL: {e}")
        sys.exit(1)
    sys.exit(0)
