#!/usr/bin/env python3
"""The control socket under many clients.

1,000 idle connections held open while a fresh client and every 10th of
them are answered; 100 pipelined requests answered whole and in order; a
client that pipelines thousands of requests and never reads is dropped at
its output cap while others are still answered; a request line over 64 KiB
is refused and its connection closed; every file descriptor comes back
when the clients close. The gateway is started with a soft RLIMIT_NOFILE of
1024, so 1,000 clients only fit if it raises that to the hard limit.

No front-end: net devices that nobody connects to.
"""
import json
import os
import resource
import socket
import sys
import time

import vgwtest as t

N_IDLE = 1000
OUTQ_CAP = 1 << 20          # CTL_OUTQ_MAX in lib/ctl/ctl.c
LINE_MAX = 65535            # CTL_LINE_MAX - 1: the longest request line
LIVE_S = 30                 # a liveness bound, not a timing assertion


class Client:
    """One control connection; replies read line by line."""

    def __init__(self, path, timeout=LIVE_S):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        deadline = time.time() + timeout
        while True:
            try:
                self.s.connect(path)
                break
            except BlockingIOError:     # the listen backlog is full
                t.check(time.time() < deadline, f"cannot connect to {path} for {timeout} s")
                time.sleep(0.01)
        self.buf = b""
        self.eof = None     # "EOF" or the error that ended the stream

    def send(self, data):
        self.s.sendall(data)

    def request(self, cmd, **kw):
        self.send((json.dumps(dict(cmd=cmd, **kw)) + "\n").encode())

    def lines(self, n, timeout=LIVE_S):
        """Up to n reply lines, parsed; fewer if the stream ends first."""
        out, deadline = [], time.time() + timeout
        while len(out) < n and time.time() < deadline:
            if b"\n" in self.buf:
                line, _, self.buf = self.buf.partition(b"\n")
                out.append(json.loads(line))
                continue
            if self.eof or not self._recv(deadline):
                break
        return out

    def _recv(self, deadline):
        self.s.settimeout(max(0.01, deadline - time.time()))
        try:
            chunk = self.s.recv(1 << 20)
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError) as e:
            self.eof = type(e).__name__
            return False
        if not chunk:
            self.eof = "EOF"
            return False
        self.buf += chunk
        return True

    def drain(self, timeout=LIVE_S):
        """Read until the stream ends; return the complete lines read."""
        n, deadline = 0, time.time() + timeout
        while not self.eof and time.time() < deadline:
            if self._recv(deadline):
                n += self.buf.count(b"\n")
                self.buf = self.buf[self.buf.rfind(b"\n") + 1:]
        return n

    def close(self):
        self.s.close()


def wait_fds(pid, cond, what, timeout=LIVE_S):
    deadline = time.time() + timeout
    while time.time() < deadline:
        n = t.fd_count(pid)
        if cond(n):
            return n
        time.sleep(0.05)
    raise t.TestFailure(f"gateway fd count {t.fd_count(pid)}: expected {what}")


def check_ok(r, what):
    t.check(isinstance(r, dict) and r.get("ok") is True, f"{what}: {r}")


def check_answers(gw, what):
    devs = gw.ctl("devices")
    check_ok(devs, f"devices ({what})")
    t.check(sorted(d["name"] for d in devs["devices"]) == ["a", "b", "up"],
            f"devices ({what}): {devs}")
    check_ok(gw.ctl("stats"), f"stats ({what})")


def start_gateway(binary, wd):
    """Start the gateway with a soft fd limit of 1024 (the usual default)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    t.check(hard == resource.RLIM_INFINITY or hard >= N_IDLE + 200,
            f"hard RLIMIT_NOFILE {hard} is too low for {N_IDLE} clients (ulimit -Hn)")
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard))
    cfg = {"runtime_dir": wd,
           "devices": [{"name": "a", "type": "net", "socket": os.path.join(wd, "a.sock")},
                       {"name": "b", "type": "net", "socket": os.path.join(wd, "b.sock")},
                       {"name": "up", "type": "ethdev", "devargs": "net_null0,no-rx=1"}],
           "links": [{"xconnect": ["a", "b"]}]}
    try:
        gw = t.Gateway(binary, wd, cfg).start()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with open(f"/proc/{gw.proc.pid}/limits") as f:
        lim = [ln.split()[3:5] for ln in f if ln.startswith("Max open files")][0]
    t.check(lim[0] == lim[1], f"the gateway kept a soft fd limit of {lim[0]} (hard {lim[1]})")
    return gw


def idle_clients(gw, base):
    idle = [Client(gw.ctl_path) for _ in range(N_IDLE)]
    n = wait_fds(gw.proc.pid, lambda n: n >= base + N_IDLE, f">= {base} + {N_IDLE}")
    t.log(f"{N_IDLE} idle clients connected: gateway fds {base} -> {n}")
    check_answers(gw, f"a fresh client with {N_IDLE} others open")
    some = idle[::10]
    for c in some:
        c.request("devices")
    for i, c in enumerate(some):
        r = c.lines(1)
        t.check(len(r) == 1, f"idle client {i * 10}: no reply ({c.eof})")
        check_ok(r[0], f"idle client {i * 10}")
        t.check(len(r[0]["devices"]) == 3, f"idle client {i * 10}: {r[0]}")
    t.log(f"{len(some)} of the idle clients answered")
    return idle


def pipelined(gw):
    """100 requests in one send: 100 replies, in order."""
    c = Client(gw.ctl_path)
    kinds = ["devices", "stats", "help", "nope"]
    c.send(b"".join((json.dumps({"cmd": kinds[i % 4], "i": i}) + "\n").encode()
                    for i in range(100)))
    r = c.lines(100)
    t.check(len(r) == 100, f"pipelined: {len(r)} replies of 100 ({c.eof})")
    for i, x in enumerate(r):
        want = {"devices": "devices", "stats": "devices", "help": "commands"}.get(kinds[i % 4])
        t.check(x["ok"] is (want is not None) and (want is None or want in x),
                f"pipelined reply {i} ({kinds[i % 4]}): {str(x)[:200]}")
    c.close()
    t.log("100 pipelined requests answered in order")


def flood(gw):
    """A client that sends many requests and never reads is dropped."""
    probe = Client(gw.ctl_path)
    probe.request("stats")
    size = len(json.dumps(probe.lines(1)[0], separators=(",", ":"))) + 1
    probe.close()
    n = max(2000, 4 * OUTQ_CAP // size + 1)
    c = Client(gw.ctl_path)
    try:
        c.send(b'{"cmd": "stats"}\n' * n)
        how = "sent"
    except (BrokenPipeError, ConnectionResetError) as e:
        how = f"send failed with {type(e).__name__}"
    t.log(f"flood: {n} stats requests ({n * size} reply bytes) {how}, never read")
    check_answers(gw, "while a client floods")
    rx = rf"dropped client \d+ \(pid {os.getpid()}\): it does not read"
    t.check(gw.proc.wait_output(rx, LIVE_S),
            f"no drop line for the flooding client:\n{gw.proc.output()[-2000:]}")
    got = c.drain()
    t.check(c.eof is not None, "the flooding client's connection is still open")
    t.check(got < n, f"the flooding client got all {n} replies: not dropped")
    t.log(f"flood: dropped after {got} of {n} replies read ({c.eof})")
    c.close()
    check_answers(gw, "after the flood")


def long_lines(gw):
    """A line just under the limit is served; one over it is refused."""
    c = Client(gw.ctl_path)
    req = b'{"cmd": "devices", "pad": "'
    near = req + b"x" * (LINE_MAX - len(req) - 2) + b'"}'
    t.check(len(near) == LINE_MAX, f"{len(near)}")
    for k in range(0, len(near), 20000):
        c.send(near[k:k + 20000])       # one line in four reads
        time.sleep(0.05)
    c.send(b"\n")
    r = c.lines(1)
    t.check(len(r) == 1, f"a {LINE_MAX}-byte request got no reply ({c.eof})")
    check_ok(r[0], f"a {LINE_MAX}-byte request")
    try:
        c.send(req + b"x" * 70000 + b'"}\n')
    except (BrokenPipeError, ConnectionResetError):
        pass
    r = c.lines(1)
    t.check(len(r) == 1 and r[0].get("ok") is False
            and "longer than 65535 bytes" in r[0].get("error", ""),
            f"a 70000-byte request: {r} ({c.eof})")
    c.drain()
    t.check(c.eof is not None, "the connection stayed open after an over-long request")
    t.log(f"over-long request: {r[0]['error']!r}, then {c.eof}")
    c.close()


def main():
    binary = sys.argv[1]
    wd = t.workdir("control-clients")
    gw = start_gateway(binary, wd)
    pid = gw.proc.pid
    base = t.fd_count(pid)
    idle = idle_clients(gw, base)
    pipelined(gw)
    flood(gw)
    long_lines(gw)
    for c in idle:
        c.close()
    n = wait_fds(pid, lambda n: n == base, f"{base} again after all clients closed")
    t.log(f"all clients closed: gateway fds back to {n}")
    check_answers(gw, "after all clients closed")
    out = gw.proc.output()
    t.check("too many clients" not in out, "a client was refused")
    t.check(out.count("control socket: dropped") == 1, f"expected one drop line:\n{out[-2000:]}")
    gw.stop()


if __name__ == "__main__":
    t.run(main)
