#!/usr/bin/env python3
"""The binary's handling of configurations: a bad one exits with status 2
and one line per problem naming the JSON path, and starts nothing (no socket
file, no hugepage file); the shipped samples are valid; --help names the
runtime directory."""
import glob
import json
import os
import shutil
import subprocess
import sys

import vgwtest as t

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


PREFIX = f"vgwtcfg{os.getpid()}"


def gateway(binary, *args):
    """Run the gateway to its exit (a refusal, --check-config): it starts
    no EAL; what it would have left is removed all the same."""
    try:
        r = subprocess.run([binary, "--no-pci", f"--file-prefix={PREFIX}", "-m", "64",
                            "--"] + list(args), capture_output=True, text=True, timeout=30)
    finally:
        shutil.rmtree(t.dpdk_runtime_dir(PREFIX), ignore_errors=True)
    t.check_sanitizer(f"vhostgw {' '.join(args)}", r.stderr)
    return r


def main():
    binary = os.path.abspath(sys.argv[1])
    wd = t.workdir("config")
    bad = {"runtime_dir": wd,
           "devices": [{"name": "a", "type": "net", "socket": "a.sock", "queues": "2"},
                       {"name": "b", "type": "nett", "socket": "b.sock"},
                       {"name": "c", "type": "net", "socket": "a.sock", "sokcet": 1},
                       {"name": "f", "type": "fs", "socket": "f.sock", "shared_dir": "/srv",
                        "tag": "t", "cache": "sometimes", "xattr": "yes"}],
           "links": [{"xconnect": ["a", "nope"]}]}
    path = os.path.join(wd, "bad.json")
    with open(path, "w") as f:
        json.dump(bad, f)
    r = gateway(binary, "--config", path)
    t.check(r.returncode == 2, f"bad config: exit {r.returncode}, expected 2\n{r.stderr}")
    lines = [x for x in r.stderr.splitlines() if x.startswith("vhostgw: ")]
    want = [f"vhostgw: {path}: devices[0].queues: expected an integer, got string",
            f"vhostgw: {path}: devices[1].type: expected one of net, fs, ethdev, got \"nett\"",
            f"vhostgw: {path}: devices[2]: unknown key \"sokcet\"",
            f"vhostgw: {path}: links[0].xconnect[1]: no device named \"nope\"",
            f"vhostgw: {path}: devices[3].cache: expected one of auto, none, always, "
            f"got \"sometimes\"",
            f"vhostgw: {path}: devices[3].xattr: expected a boolean, got string"]
    for w in want:
        t.check(w in lines, f"missing line: {w}\ngot:\n{r.stderr}")
    t.check(lines[-1].endswith("nothing started"), f"last line: {lines[-1]}")
    left = [n for n in os.listdir(wd) if n.endswith(".sock")]
    t.check(not left, f"a bad config left socket files: {left}")
    t.check(not glob.glob(f"/dev/hugepages/{PREFIX}*"), "a bad config left hugepage files")
    t.log(f"bad config: exit 2, {len(lines)} lines, nothing started")

    with open(path, "w") as f:
        f.write('{"devices": [\n  {"name": "a",}\n]}\n')
    r = gateway(binary, "--config", path)
    t.check(r.returncode == 2 and f"{path}:2:" in r.stderr and "invalid JSON" in r.stderr,
            f"invalid JSON: exit {r.returncode}: {r.stderr}")
    r = gateway(binary, "--config", os.path.join(wd, "missing.json"))
    t.check(r.returncode == 2 and "cannot read" in r.stderr, f"missing file: {r.stderr}")
    r = gateway(binary, "--bogus")
    t.check(r.returncode == 2 and "unknown option" in r.stderr, f"bad option: {r.stderr}")

    # every gateway configuration in config/ (grafana-*.json are dashboards,
    # functional/dashboard checks them)
    samples = [p for p in sorted(glob.glob(os.path.join(ROOT, "config", "*.json")))
               if not os.path.basename(p).startswith("grafana-")]
    t.check(len(samples) >= 3, f"only {len(samples)} sample configurations found")
    for sample in samples:
        r = gateway(binary, "--config", sample, "--check-config")
        t.check(r.returncode == 0, f"{sample} is not valid: {r.stderr}")
    r = subprocess.run([binary, "--help"], capture_output=True, text=True)
    t.check_sanitizer("vhostgw --help", r.stderr)
    t.check(r.returncode == 0 and "/run/vhostgw" in r.stdout, f"--help: {r.stdout}")
    t.log("invalid JSON, missing file, bad option refused; samples valid; --help ok")


if __name__ == "__main__":
    t.run(main)
