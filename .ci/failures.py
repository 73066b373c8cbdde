#!/usr/bin/env python3
"""The end of each failed test's output, from meson's testlog.json files:
CI keeps only the last part of what it prints, and meson prints a failed
test's output where it failed, far above the summary.

    failures.py BUILD_DIR... [--lines N]
"""
import json
import os
import sys


def main():
    args = sys.argv[1:]
    lines = 40
    if "--lines" in args:
        i = args.index("--lines")
        lines = int(args[i + 1])
        del args[i:i + 2]
    for build in args:
        path = os.path.join(build, "meson-logs", "testlog.json")
        if not os.path.exists(path):
            continue
        with open(path) as f:
            for raw in f:
                try:
                    t = json.loads(raw)
                except ValueError:
                    continue
                if t.get("result") in ("OK", "EXPECTEDFAIL", "SKIP"):
                    continue
                out = (t.get("stdout") or "").rstrip("\n").split("\n")
                print(f"=== {build}: {t['name']} {t['result']} after "
                      f"{t.get('duration', 0):.1f} s; the last {min(lines, len(out))} "
                      f"line(s) of its output:")
                for line in out[-lines:]:
                    print("  " + line[:300])
    return 0


if __name__ == "__main__":
    sys.exit(main())
