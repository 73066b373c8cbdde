#!/usr/bin/env python3
"""The operator tools (usertools/vhostgw-ctl, vhostgw-top, vhostgw-exporter)
against a FAKE control socket served from a thread of this process: canned
replies in the gateway's format and a canned event stream after subscribe.
A unit-level test of the tools' requests, parsing, formatting and exit
status; the real gateway is not started (no EAL, no hugepages, no lock).

  python3 test_usertools.py USERTOOLS_DIR     exit 0 on success, 1 on failure
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import vgwtest as t

TOOLS = None
ENV = dict(os.environ, TZ="UTC", PYTHONUNBUFFERED="1")
ENV.pop("VHOSTGW_CONTROL_SOCKET", None)

# --- canned gateway data ----------------------------------------------------

DEVICES = [
    {"name": "vm1", "type": "net", "connected": True, "ready": True, "phase": "running"},
    {"name": "vm2", "type": "net", "connected": False, "ready": False},  # no phase yet
]
ODD = 'q"uo\\te\nnl'  # a device name that needs escaping in a label value
ODD_DEVICE = {"name": ODD, "type": "net", "connected": True, "ready": False,
              "phase": "migrating"}  # a phase the exporter's list lacks
DEVICE_VM1 = {"name": "vm1", "type": "net", "socket": "/x/vm1.sock", "mode": "server",
              "connected": True, "ready": True, "vid": 0, "queues": 2, "active_queues": 2,
              "features": 0x150008000, "protocol_features": 0x8003, "connects": 1,
              "disconnects": 0, "refused": 0, "link": "xconnect", "peer": "vm2"}
EVENTS = [
    {"event": "phase", "device": "vm1", "from": "running", "phase": "suspended",
     "reason": "rings stopped by the front-end", "ts": 1732363612.123456},
    {"event": "phase", "device": "vm1", "from": "suspended", "phase": "saving",
     "ts": 1732363613.5},
    {"event": "connect", "device": "vm2", "vid": 3, "mode": "client", "ts": 1732363614.0},
]


def queue(q, k, rx, rxb, tx, txb, drops, busy):
    """Queue counters for the k-th stats request on a connection: base + k * step."""
    o = {"queue": q, "rx_packets": rx[0] + k * rx[1], "rx_bytes": rxb[0] + k * rxb[1],
         "tx_packets": tx[0] + k * tx[1], "tx_bytes": txb[0] + k * txb[1],
         "drops": drops[0] + k * drops[1], "busy_cycles": busy[0] + k * busy[1]}
    o["cycles_per_packet"] = o["busy_cycles"] / o["rx_packets"] if o["rx_packets"] else 0.0
    return o


def device_stats(name, queues, **extra):
    o = {"name": name}
    for key in ("rx_packets", "rx_bytes", "tx_packets", "tx_bytes", "drops"):
        o[key] = sum(q[key] for q in queues)
    o["queues"] = queues
    o.update(extra)
    return o


def stats(k, odd=False):
    """The k-th stats reply on one connection (k = 0, 1, ...)."""
    vm1 = [queue(0, k, (1000, 10000), (64000, 640000), (2000, 20000),
                 (3036000, 30360000), (5, 100), (50000, 2500000)),
           queue(1, k, (0, 0), (0, 0), (10, 0), (640, 0), (0, 0), (0, 0))]
    vm2 = [queue(0, k, (7, 0), (448, 0), (9, 0), (576, 0), (2, 0), (700, 0))]
    devs = [device_stats("vm1", vm1, malformed=4 + k, recoveries=1, last_recovery_ms=412,
                         last_recovery_ts=1732363600.5),
            device_stats("vm2", vm2, bridge_macs=3, bridge_macs_port=2,
                         bridge_macs_refused=17, recoveries=0)]
    if odd:
        devs.append(device_stats(ODD, []))
    return {"ok": True, "devices": devs,
            "workers": [{"lcore": 1, "loops": 1000 + 1000 * k, "busy_loops": 100 + 250 * k},
                        {"lcore": 2, "loops": 500 + 2000 * k, "busy_loops": 0}],
            "mbufs": {"total": 16383, "in_use": 1200 + 34 * k, "size": 2176},
            "tsc_hz": 2400000000, "restarts": 3}


def line(obj):
    """A reply line as the gateway writes it (jansson JSON_COMPACT)."""
    return json.dumps(obj, separators=(",", ":"))


def err(msg):
    return {"ok": False, "error": msg}


# --- the fake gateway -------------------------------------------------------

class FakeGateway:
    """A control socket served by threads: one per client, JSON lines."""

    def __init__(self, path, odd=False, without=()):
        self.path, self.odd, self.without = path, odd, set(without)
        self.requests = []
        self.lock = threading.Lock()
        self.lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.lsock.bind(path)
        self.lsock.listen(16)
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def stop(self):
        self.lsock.close()
        os.unlink(self.path)

    def accept_loop(self):
        while True:
            try:
                conn, _ = self.lsock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        nstats = 0
        with conn, conn.makefile("rb") as f:
            for raw in f:
                req = json.loads(raw)
                with self.lock:
                    self.requests.append(req)
                lines = self.answer(req, nstats)
                nstats += req.get("cmd") == "stats"
                try:
                    conn.sendall("".join(x + "\n" for x in lines).encode())
                except OSError:
                    return

    def answer(self, req, nstats):
        """The lines to send for one request."""
        cmd = req.get("cmd")
        if cmd in self.without or cmd not in COMMANDS:
            return [line(err(f'unknown command "{cmd}" (try "help")'))]
        return COMMANDS[cmd](self, req, nstats)

    def devices(self, req, n):
        return [line({"ok": True, "devices": DEVICES + ([ODD_DEVICE] if self.odd else [])})]

    def device(self, req, n):
        if req.get("device") != "vm1":
            return [line(err(f'unknown device "{req.get("device")}"'))]
        return [line({"ok": True, "device": DEVICE_VM1})]

    def stats(self, req, n):
        r = stats(n, self.odd)
        if "device" in req:
            r["devices"] = [d for d in r["devices"] if d["name"] == req["device"]]
        return [line(r)]

    def help(self, req, n):
        return [line({"ok": True, "commands": {"devices": "list the devices",
                                               "help": "this list"}})]

    def keeper(self, req, n):
        return [line({"ok": True, "keeper": {"pid": 4242, "restarts": 3,
                                             "last_exit": "killed by signal 9 (Killed)",
                                             "socket": "/x/keeper.sock"}})]

    def simple(self, req, n):
        return [line({"ok": True})]

    def subscribe(self, req, n):
        return [line({"ok": True})] + [line(e) for e in EVENTS]


COMMANDS = {"devices": FakeGateway.devices, "device": FakeGateway.device,
            "stats": FakeGateway.stats, "help": FakeGateway.help,
            "subscribe": FakeGateway.subscribe, "log-level": FakeGateway.simple,
            "state-save": FakeGateway.simple, "state-load": FakeGateway.simple,
            "keeper": FakeGateway.keeper}


# --- helpers ----------------------------------------------------------------

def tool(name, *args, env=None, timeout=30, cwd=None):
    return subprocess.run([os.path.join(TOOLS, name)] + list(args), capture_output=True,
                          text=True, timeout=timeout, env=env or ENV, cwd=cwd)


def expect(r, status, stdout=None, stderr=None, what=""):
    t.check(r.returncode == status,
            f"{what}: exit {r.returncode}, expected {status}\n{r.stdout}{r.stderr}")
    if stdout is not None:
        t.check(r.stdout == stdout, f"{what}: stdout\n{r.stdout!r}\nexpected\n{stdout!r}")
    if stderr is not None:
        t.check(r.stderr == stderr, f"{what}: stderr\n{r.stderr!r}\nexpected\n{stderr!r}")


def ctl(sock, *args, **kw):
    return tool("vhostgw-ctl", "-s", sock, *args, **kw)


def last_request(gw):
    with gw.lock:
        return gw.requests[-1]


# --- vhostgw-ctl ------------------------------------------------------------

def test_ctl_devices(sock, gw):
    expect(ctl(sock, "devices"), 0, "NAME  TYPE  CONNECTED  READY  PHASE\n"
                                    "vm1   net   yes        yes    running\n"
                                    "vm2   net   no         no     -\n", "", "devices")
    expect(ctl(sock, "--json", "devices"), 0, line({"ok": True, "devices": DEVICES}) + "\n",
           "", "devices --json")
    expect(ctl(sock, "devices", "--json"), 0, line({"ok": True, "devices": DEVICES}) + "\n",
           "", "devices --json after the command")
    t.check(last_request(gw) == {"cmd": "devices"}, f"request: {last_request(gw)}")
    r = tool("vhostgw-ctl", "devices", env=dict(ENV, VHOSTGW_CONTROL_SOCKET=sock))
    expect(r, 0, what="devices with VHOSTGW_CONTROL_SOCKET")
    t.log("ctl devices: table, --json, environment")


def test_ctl_device(sock, gw):
    want = ("name:              vm1\n"
            "type:              net\n"
            "phase:             -\n"
            "socket:            /x/vm1.sock\n"
            "mode:              server\n"
            "connected:         yes\n"
            "ready:             yes\n"
            "vid:               0\n"
            "queues:            2\n"
            "active_queues:     2\n"
            "features:          0x150008000\n"
            "protocol_features: 0x8003\n"
            "connects:          1\n"
            "disconnects:       0\n"
            "refused:           0\n"
            "link:              xconnect\n"
            "peer:              vm2\n")
    expect(ctl(sock, "device", "vm1"), 0, want, "", "device vm1")
    t.check(last_request(gw) == {"cmd": "device", "device": "vm1"}, f"{last_request(gw)}")
    expect(ctl(sock, "device", "nope"), 1, "", 'vhostgw-ctl: unknown device "nope"\n',
           "device nope")
    reply = line(err('unknown device "nope"'))
    expect(ctl(sock, "--json", "device", "nope"), 1, reply + "\n",
           'vhostgw-ctl: unknown device "nope"\n', "device nope --json")
    expect(ctl(sock, "device"), 2, "", None, "device without a name")
    t.log("ctl device: key/value lines, unknown device exit 1, usage exit 2")


def test_ctl_stats(sock, gw):
    want = ("DEVICE  QUEUE  RX_PACKETS  RX_BYTES  TX_PACKETS  TX_BYTES  DROPS  CYCLES/PKT\n"
            "vm1         0        1000     64000        2000   3036000      5        50.0\n"
            "vm1         1           0         0          10       640      0         0.0\n"
            "vm1       all        1000     64000        2010   3036640      5        50.0\n"
            "vm2         0           7       448           9       576      2       100.0\n"
            "bridge MACs learned: vm2 3\n"
            "\n"
            "LCORE  LOOPS  BUSY_LOOPS  BUSY%\n"
            "    1   1000         100   10.0\n"
            "    2    500           0    0.0\n"
            "\n"
            "mbufs: 1200 in use of 16383 (2176 B each)\n")
    expect(ctl(sock, "stats"), 0, want, "", "stats")
    t.check(last_request(gw) == {"cmd": "stats"}, f"{last_request(gw)}")
    r = ctl(sock, "--json", "stats", "vm2")
    expect(r, 0, None, "", "stats vm2 --json")
    t.check(last_request(gw) == {"cmd": "stats", "device": "vm2"}, f"{last_request(gw)}")
    got = json.loads(r.stdout)
    t.check([d["name"] for d in got["devices"]] == ["vm2"], f"stats vm2: {r.stdout}")
    t.log("ctl stats: per queue and device table, workers, mbufs; stats NAME")


def test_ctl_misc(sock, gw):
    help_reply = line({"ok": True, "commands": {"devices": "list the devices",
                                                "help": "this list"}})
    expect(ctl(sock, "raw", '{"cmd": "help"}'), 0, help_reply + "\n", "", "raw help")
    expect(ctl(sock, "help"), 0, "COMMAND  DESCRIPTION\ndevices  list the devices\n"
                                 "help     this list\n", "", "help")
    expect(ctl(sock, "raw", '{"cmd": "x"}'), 1,
           line(err('unknown command "x" (try "help")')) + "\n",
           'vhostgw-ctl: unknown command "x" (try "help")\n', "raw unknown")
    expect(ctl(sock, "raw", "not json"), 2, "", None, "raw not JSON")
    expect(ctl(sock, "raw", "[1]"), 2, "", None, "raw not an object")
    # commands the gateway does not have yet: its error, exit 1
    expect(ctl(sock, "suspend", "vm1"), 1, "",
           'vhostgw-ctl: unknown command "suspend" (try "help")\n', "suspend")
    t.check(last_request(gw) == {"cmd": "suspend", "device": "vm1"}, f"{last_request(gw)}")
    expect(ctl(sock, "log-level", "vgw.net", "debug"), 0, "ok\n", "", "log-level")
    t.check(last_request(gw) == {"cmd": "log-level", "type": "vgw.net", "level": "debug"},
            f"{last_request(gw)}")
    expect(ctl(sock, "log-level", "info"), 0, "ok\n", "", "log-level LEVEL")
    t.check(last_request(gw) == {"cmd": "log-level", "level": "info"}, f"{last_request(gw)}")
    expect(ctl(sock, "log-level", "a", "b", "c"), 2, "", None, "log-level 3 words")
    expect(ctl(sock, "state-save", "vm1", "st/vm1.state", cwd="/tmp"), 0, "ok\n", "",
           "state-save")
    t.check(last_request(gw) == {"cmd": "state-save", "device": "vm1",
                                 "file": "/tmp/st/vm1.state"}, f"{last_request(gw)}")
    expect(ctl(sock, "state-save", "vm1"), 0, "ok\n", "", "state-save without a file")
    t.check(last_request(gw) == {"cmd": "state-save", "device": "vm1"}, f"{last_request(gw)}")
    expect(ctl(sock, "state-load", "vm1", "/s/vm1"), 0, "ok\n", "", "state-load")
    t.check(last_request(gw) == {"cmd": "state-load", "device": "vm1", "file": "/s/vm1"},
            f"{last_request(gw)}")
    expect(ctl(sock, "state-load", "vm1"), 2, "", None, "state-load without a file")
    expect(tool("vhostgw-ctl", "-s", sock), 2, "", None, "no command")
    t.log("ctl raw/help/suspend/log-level/state-*: requests, errors exit 1, usage exit 2")


def test_ctl_unreachable(wd):
    gone = os.path.join(wd, "nothing-here.sock")
    r = ctl(gone, "devices")
    expect(r, 2, "", None, "unreachable socket")
    t.check(r.stderr.startswith(f"vhostgw-ctl: cannot connect to control socket {gone}: "
                                "No such file or directory"), f"stderr: {r.stderr}")
    r = tool("vhostgw-ctl", "devices", env=dict(ENV, VHOSTGW_CONTROL_SOCKET=gone))
    t.check(r.returncode == 2 and gone in r.stderr, f"env socket: {r.stderr}")
    t.log("ctl: unreachable socket exit 2, message names the path")


def test_ctl_watch(sock, gw, nosub_sock):
    expect(ctl(sock, "watch", "--count", "2", "--json"), 0,
           line(EVENTS[0]) + "\n" + line(EVENTS[1]) + "\n", "", "watch --json")
    t.check(last_request(gw) == {"cmd": "subscribe"}, f"{last_request(gw)}")
    human = ["12:06:52.123 vm1 phase running -> suspended (rings stopped by the front-end)",
             "12:06:53.500 vm1 phase suspended -> saving",
             "12:06:54.000 vm2 connect vid=3 mode=client"]
    expect(ctl(sock, "watch", "--count", "2"), 0, "\n".join(human[:2]) + "\n", "", "watch")
    t0 = time.monotonic()
    expect(ctl(sock, "watch", "--timeout", "1"), 0, "\n".join(human) + "\n", "",
           "watch --timeout")
    took = time.monotonic() - t0
    t.check(0.9 <= took < 10, f"watch --timeout 1 took {took:.2f} s")
    expect(ctl(sock, "--json", "watch", "--count", "1"), 0, line(EVENTS[0]) + "\n", "",
           "--json watch")
    expect(ctl(nosub_sock, "watch", "--count", "1"), 1, "",
           'vhostgw-ctl: unknown command "subscribe" (try "help")\n', "watch, no subscribe")
    t.log("ctl watch: --json and human lines, --count, --timeout, no subscribe exit 1")


# --- vhostgw-top ------------------------------------------------------------

def top_rows(text):
    """{(device, queue): {column: value}} of the device table."""
    lines = text.splitlines()
    start = next(i for i, x in enumerate(lines) if x.startswith("DEVICE"))
    header = lines[start].split()
    rows = {}
    for x in lines[start + 1:]:
        if not x.strip():
            break
        cols = x.split()
        t.check(len(cols) == len(header), f"top row {x!r} vs {header}")
        rows[(cols[0], cols[1])] = dict(zip(header, cols))
    return header, rows, lines


def near(got, want, what):
    """A rate over the sample interval: at most the exact value, not far below."""
    v = float(got)
    t.check(want * 0.75 <= v <= want * 1.01, f"top {what}: {got}, expected about {want}")


def test_top(sock, wd):
    r = tool("vhostgw-top", "-s", sock, "--once")
    expect(r, 0, None, "", "top --once")
    t.check("\033" not in r.stdout, "top --once wrote terminal escapes")
    header, rows, lines = top_rows(r.stdout)
    t.check(header == ["DEVICE", "Q", "PHASE", "CONN", "RX_PKT/S", "RX_MBIT/S", "TX_PKT/S",
                       "TX_MBIT/S", "DROP/S", "CYC/PKT"], f"top header {header}")
    t.check(list(rows) == [("vm1", "0"), ("vm1", "1"), ("vm2", "0")], f"top rows {rows}")
    q0, q1, v2 = rows[("vm1", "0")], rows[("vm1", "1")], rows[("vm2", "0")]
    t.check((q0["PHASE"], q0["CONN"], v2["PHASE"], v2["CONN"]) == ("running", "yes", "-", "no"),
            f"top phase/conn: {q0} {v2}")
    # the sample interval is about 1 s: rates within a margin, ratios exact
    near(q0["RX_PKT/S"], 10000, "vm1 q0 rx pkt/s")
    near(q0["RX_MBIT/S"], 5.12, "vm1 q0 rx Mbit/s")
    near(q0["TX_PKT/S"], 20000, "vm1 q0 tx pkt/s")
    near(q0["TX_MBIT/S"], 242.88, "vm1 q0 tx Mbit/s")
    near(q0["DROP/S"], 100, "vm1 q0 drops/s")
    t.check(q0["CYC/PKT"] == "250.0", f"vm1 q0 cycles/packet {q0['CYC/PKT']}")
    t.check([q1[k] for k in header[4:]] == ["0", "0.00", "0", "0.00", "0", "-"],
            f"idle queue: {q1}")
    t.check(re.fullmatch(r"0\.00", v2["RX_MBIT/S"]) is not None, f"vm2: {v2}")
    i = lines.index("LCORE  BUSY%")
    t.check(lines[i + 1:i + 3] == ["1       25.0", "2        0.0"], f"workers: {lines[i:i + 3]}")
    t.check(lines[-1] == "mbufs in use: 1234 of 16383 (7.5 %)", f"mbufs: {lines[-1]}")
    r = tool("vhostgw-top", "-s", os.path.join(wd, "gone.sock"), "--once")
    t.check(r.returncode == 2 and "gone.sock" in r.stderr, f"top unreachable: {r.stderr}")
    t.log("top --once: rows, phase/connected, rates, cycles/packet, busy %, mbufs; exit 2")


# --- vhostgw-exporter -------------------------------------------------------

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


def unescape(v):
    return re.sub(r'\\(.)', lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), v)


def parse_labels(text):
    labels, pos = {}, 0
    while pos < len(text):
        m = LABEL.match(text, pos)
        t.check(m is not None, f"bad label set {text!r} at {pos}")
        labels[m.group(1)] = unescape(m.group(2))
        pos = m.end()
    return labels


def parse_exposition(text):
    """({(name, frozenset(labels)): value}, {name: type}, {name: help})."""
    samples, types, helps = {}, {}, {}
    t.check(text.endswith("\n"), "exposition does not end with a newline")
    for x in text.splitlines():
        if x.startswith("# TYPE "):
            _, _, name, kind = x.split(" ", 3)
            t.check(name not in types, f"two TYPE lines for {name}")
            types[name] = kind
        elif x.startswith("# HELP "):
            _, _, name, text_ = x.split(" ", 3)
            helps[name] = text_
        elif x.startswith("#"):
            continue
        else:
            m = SAMPLE.match(x)
            t.check(m is not None, f"bad sample line {x!r}")
            t.check(m.group(1) in types, f"sample before its TYPE: {x!r}")
            key = (m.group(1), frozenset(parse_labels(m.group(2) or "").items()))
            t.check(key not in samples, f"duplicate sample {x!r}")
            samples[key] = float(m.group(3))
    return samples, types, helps


def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode()


def value(samples, name, **labels):
    key = (name, frozenset((k, str(v)) for k, v in labels.items()))
    t.check(key in samples, f"no sample {name}{labels}")
    return samples[key]


def family(samples, name):
    return {k[1]: v for k, v in samples.items() if k[0] == name}


def start_exporter(sock):
    p = subprocess.Popen([os.path.join(TOOLS, "vhostgw-exporter"), "-s", sock,
                          "--listen", "127.0.0.1:0"], stderr=subprocess.PIPE, text=True,
                         env=ENV)
    first = p.stderr.readline()
    m = re.search(r"http://127\.0\.0\.1:(\d+)/metrics", first)
    if m is None:
        p.kill()
        p.wait()
        raise t.TestFailure(f"exporter did not start: {first}{p.stderr.read()}")
    return p, int(m.group(1))


def check_exposition(samples, types, helps):
    counters = ["vhostgw_rx_packets_total", "vhostgw_rx_bytes_total",
                "vhostgw_tx_packets_total", "vhostgw_tx_bytes_total", "vhostgw_drops_total",
                "vhostgw_busy_cycles_total", "vhostgw_worker_loops_total",
                "vhostgw_worker_busy_loops_total"]
    gauges = ["vhostgw_up", "vhostgw_device_connected", "vhostgw_device_ready",
              "vhostgw_device_phase", "vhostgw_mbufs_in_use", "vhostgw_mbufs_total"]
    for n in counters + gauges:
        t.check(types.get(n) == ("counter" if n in counters else "gauge"),
                f"TYPE of {n}: {types.get(n)}")
        t.check(helps.get(n), f"no HELP for {n}")
    t.check(value(samples, "vhostgw_up") == 1, "vhostgw_up")
    q = dict(device="vm1", queue=0)
    for name, want in [("vhostgw_rx_packets_total", 1000), ("vhostgw_rx_bytes_total", 64000),
                       ("vhostgw_tx_packets_total", 2000), ("vhostgw_tx_bytes_total", 3036000),
                       ("vhostgw_drops_total", 5), ("vhostgw_busy_cycles_total", 50000)]:
        t.check(value(samples, name, **q) == want, f"{name}{q}")
    t.check(value(samples, "vhostgw_tx_bytes_total", device="vm1", queue=1) == 640, "vm1 q1")
    t.check(value(samples, "vhostgw_drops_total", device="vm2", queue=0) == 2, "vm2 drops")
    t.check(len(family(samples, "vhostgw_rx_packets_total")) == 3, "rx_packets label sets")
    t.check(value(samples, "vhostgw_device_connected", device="vm1") == 1, "vm1 connected")
    t.check(value(samples, "vhostgw_device_connected", device="vm2") == 0, "vm2 connected")
    t.check(value(samples, "vhostgw_device_ready", device="vm2") == 0, "vm2 ready")
    t.check(value(samples, "vhostgw_device_ready", device=ODD) == 0, "odd name ready")
    phases = family(samples, "vhostgw_device_phase")
    vm1 = {dict(k)["phase"]: v for k, v in phases.items() if dict(k)["device"] == "vm1"}
    t.check(len(vm1) == 13 and vm1.pop("running") == 1 and set(vm1.values()) == {0},
            f"vm1 phases: {vm1}")
    t.check(not [k for k in phases if dict(k)["device"] == "vm2"], "vm2 has no phase")
    odd = {dict(k)["phase"]: v for k, v in phases.items() if dict(k)["device"] == ODD}
    t.check(len(odd) == 14 and odd["migrating"] == 1 and odd["running"] == 0,
            f"odd device phases: {odd}")
    t.check(value(samples, "vhostgw_mbufs_in_use") == 1200, "mbufs in use")
    t.check(value(samples, "vhostgw_mbufs_total") == 16383, "mbufs total")
    t.check(value(samples, "vhostgw_worker_loops_total", lcore=2) == 500, "loops lcore 2")
    t.check(value(samples, "vhostgw_worker_busy_loops_total", lcore=1) == 100, "busy lcore 1")
    for n, kind in [("vhostgw_device_phase_code", "gauge"),
                    ("vhostgw_device_malformed_total", "counter"),
                    ("vhostgw_device_recoveries_total", "counter"),
                    ("vhostgw_device_last_recovery_seconds", "gauge"),
                    ("vhostgw_device_last_recovery_timestamp_seconds", "gauge"),
                    ("vhostgw_keeper_restarts_total", "counter"),
                    ("vhostgw_bridge_port_macs", "gauge"),
                    ("vhostgw_bridge_macs_refused_total", "counter"),
                    ("vhostgw_keeper_info", "gauge")]:
        t.check(types.get(n) == kind and helps.get(n), f"TYPE/HELP of {n}: {types.get(n)}")
    codes = family(samples, "vhostgw_device_phase_code")
    t.check(codes == {frozenset({("device", "vm1")}): 2, frozenset({("device", ODD)}): -1},
            f"phase codes (running is 2, an unknown phase -1): {codes}")
    t.check(value(samples, "vhostgw_device_malformed_total", device="vm1") == 4 and
            not [k for k in family(samples, "vhostgw_device_malformed_total")
                 if dict(k)["device"] != "vm1"], "malformed: vm1's only")
    t.check(value(samples, "vhostgw_device_recoveries_total", device="vm1") == 1 and
            value(samples, "vhostgw_device_recoveries_total", device="vm2") == 0, "recoveries")
    t.check(value(samples, "vhostgw_device_last_recovery_seconds", device="vm1") == 0.412 and
            len(family(samples, "vhostgw_device_last_recovery_seconds")) == 1,
            "last recovery: vm1's only, in seconds")
    t.check(value(samples, "vhostgw_device_last_recovery_timestamp_seconds", device="vm1")
            == 1732363600.5, "last recovery timestamp")
    t.check(value(samples, "vhostgw_keeper_restarts_total") == 3, "keeper restarts")
    t.check(value(samples, "vhostgw_bridge_port_macs", device="vm2") == 2 and
            value(samples, "vhostgw_bridge_macs_refused_total", device="vm2") == 17 and
            len(family(samples, "vhostgw_bridge_macs_refused_total")) == 1,
            "bridge port MACs and refused: vm2's only")


def test_exporter(odd_sock, odd_gw, nokeeper_sock):
    p, port = start_exporter(odd_sock)
    try:
        status, ctype, body = get(port, "/metrics")
        t.check(status == 200 and ctype == "text/plain; version=0.0.4; charset=utf-8",
                f"GET /metrics: {status} {ctype}")
        samples, types, helps = parse_exposition(body)
        check_exposition(samples, types, helps)
        t.check('vhostgw_device_connected{device="q\\"uo\\\\te\\nnl"} 1\n' in body,
                "label value escaping:\n" + body)
        t.check("vhostgw_up 1\n" in body, "vhostgw_up 1 line")
        t.check(value(samples, "vhostgw_keeper_info", pid=4242,
                      last_exit="killed by signal 9 (Killed)") == 1, "keeper info")
        try:
            get(port, "/nope")
            raise t.TestFailure("GET /nope did not fail")
        except urllib.error.HTTPError as e:
            t.check(e.code == 404, f"GET /nope: {e.code}")
        odd_gw.stop()
        status, _, body = get(port, "/metrics")
        samples, types, _ = parse_exposition(body)
        t.check(status == 200 and value(samples, "vhostgw_up") == 0, f"socket gone:\n{body}")
        t.check("vhostgw_up 0\n" in body and len(samples) == 1,
                f"socket gone: other samples\n{body}")
    finally:
        p.terminate()
        p.wait(10)
    # a gateway without the keeper command: everything else as before
    p, port = start_exporter(nokeeper_sock)
    try:
        _, _, body = get(port, "/metrics")
        samples, types, helps = parse_exposition(body)
        t.check(value(samples, "vhostgw_up") == 1 and types.get("vhostgw_keeper_info") and
                not family(samples, "vhostgw_keeper_info"),
                f"no keeper command: vhostgw_up 1, no keeper_info sample\n{body}")
        t.check(value(samples, "vhostgw_rx_packets_total", device="vm1", queue=0) == 1000,
                "no keeper command: counters")
    finally:
        p.terminate()
        p.wait(10)
    t.log("exporter: counters, gauges, phases, keeper, recoveries, label escaping, 404, "
          "vhostgw_up 0, a gateway without the keeper command")


# --- main -------------------------------------------------------------------

def main():
    global TOOLS
    TOOLS = os.path.abspath(sys.argv[1])
    missing = [n for n in ("vhostgw-ctl", "vhostgw-top", "vhostgw-exporter")
               if not os.access(os.path.join(TOOLS, n), os.X_OK)]
    t.check(not missing, f"{TOOLS}: no executable {', '.join(missing)} "
            "(the argument is the usertools directory)")
    wd = tempfile.mkdtemp(prefix="vgw-usertools-")
    try:
        sock = os.path.join(wd, "control.sock")
        gw = FakeGateway(sock)
        nosub = FakeGateway(os.path.join(wd, "nosub.sock"), without={"subscribe"})
        odd = FakeGateway(os.path.join(wd, "odd.sock"), odd=True)
        test_ctl_devices(sock, gw)
        test_ctl_device(sock, gw)
        test_ctl_stats(sock, gw)
        test_ctl_misc(sock, gw)
        test_ctl_unreachable(wd)
        test_ctl_watch(sock, gw, nosub.path)
        test_top(sock, wd)
        nokeeper = FakeGateway(os.path.join(wd, "nokeeper.sock"), without={"keeper"})
        test_exporter(odd.path, odd, nokeeper.path)
    finally:
        shutil.rmtree(wd, ignore_errors=True)


def run():
    if len(sys.argv) != 2:
        print("usage: test_usertools.py USERTOOLS_DIR", file=sys.stderr)
        sys.exit(1)
    t0 = time.time()
    try:
        main()
    except t.TestFailure as e:
        t.log(f"FAIL: {e}")
        sys.exit(1)
    except Exception:
        import traceback
        traceback.print_exc()
        sys.exit(1)
    t.log(f"PASS ({time.time() - t0:.1f} s)")
    sys.exit(0)


if __name__ == "__main__":
    run()
