#!/usr/bin/env python3
"""bench_fsring: a smoke run of `usertools/vhostgw-bench fs-ring`.

One round, a short time per operation and a small read file, vhostgw against
the C virtiofsd (--peers c), --json. Asserts outcomes only, never timings:
the run completes (exit 0), both back-ends report every operation with
ops > 0 and no error, every back-end thread was seen pinned to the back-end
CPU, and the summary has a vhostgw / C virtiofsd ratio for every operation.

The benchmark takes the machine lock itself (/tmp/vhostgw-machine.lock), so
this test does not hold it (vgwtest.run would).
"""
import json
import os
import subprocess
import sys

import vgwtest as t

OPS = ["lookup:16", "create:16", "unlink:16", "randread:1", "randread:16", "randread:64",
       "seqread:4", "seqwrite:4"]


def main():
    vhostgw, vufront_fs = sys.argv[1], sys.argv[2]
    bench = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                         "usertools", "vhostgw-bench")
    wd = t.workdir("bench_fsring")
    argv = [sys.executable, bench, "fs-ring", "--rounds", "1", "--seconds", "0.3",
            "--file-mib", "8", "--peers", "c", "--vhostgw", vhostgw,
            "--vufront-fs", vufront_fs, "--build-dir", wd, "--json"]
    t.log(" ".join(argv))
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=240)
    sys.stderr.write(r.stderr[-4000:])
    t.check(r.returncode == 0, f"vhostgw-bench fs-ring exited with {r.returncode}")
    doc = json.loads(r.stdout)
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
    t.log(f"PASS: {len(OPS)} operations, ratios " + ", ".join(
        f"{op} {doc['summary'][op]['ratios']['c']['median']:.2f}" for op in OPS))


if __name__ == "__main__":
    try:
        main()
    except t.TestFailure as e:
        t.log(f"FAIL: {e}")
        sys.exit(1)
    sys.exit(0)
