"""Functional test harness: the real vhostgw binary against real front-ends.

Starts and stops vhostgw and dpdk-testpmd (net_virtio_user front-ends) by
PID, talks to the control socket, writes and reads pcap files. Python 3
standard library only. Every process a test starts is stopped on exit, on
failure too; once a DPDK process of the test has exited, its hugepage files
and EAL runtime directory (/var/run/dpdk/PREFIX) are removed: only those of
the --file-prefix values the test made, never another's.
"""

import atexit
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

LOCK_PATH = "/tmp/vhostgw-machine.lock"
HUGE_DIR = "/dev/hugepages"

_procs = []
_started = []
_dpdk_owners = []  # Gateway, Keeper and Testpmd objects: their prefixes
_lock_fd = None

# Sanitizers (a build with -Db_sanitize=address,undefined, doc/sanitizers.rst).
# Every process a test starts inherits these; an uninstrumented one (Python,
# Debian's dpdk-testpmd) ignores them. A report goes to the process's stderr
# and makes it exit non-zero; the harness also looks for one in every output
# it collects and fails the test with the report's first lines. LeakSanitizer
# reports only leaks of ours: the suppressions are DPDK's and libc's.
SANITIZER_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                             "sanitizers")
SANITIZER_OPTIONS = {
    # the slow unwinder on malloc: whole allocation stacks through libraries
    # built without frame pointers (DPDK, jansson), for reports and
    # suppressions (about 20 % slower on 1,000 connect cycles)
    "ASAN_OPTIONS": "detect_leaks=1:halt_on_error=1:abort_on_error=0:print_summary=1:"
                    "fast_unwind_on_malloc=0",
    "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1:report_error_type=1",
    "LSAN_OPTIONS": f"suppressions={os.path.join(SANITIZER_DIR, 'lsan.supp')}",
}
for _k, _v in SANITIZER_OPTIONS.items():
    # ours first: options the caller already set come later and win
    os.environ[_k] = _v + (":" + os.environ[_k] if os.environ.get(_k) else "")
SANITIZER_REPORT = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer)"
                              r"|: runtime error: "
                              r"|(Address|Leak)Sanitizer has encountered a fatal error"
                              r"|AddressSanitizer CHECK failed")


class TestFailure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def sanitizer_report(text, lines=40):
    """The first lines of a sanitizer report in a process's output, or None."""
    m = SANITIZER_REPORT.search(text)
    if m is None:
        return None
    start = text.rfind("\n", 0, m.start()) + 1
    return "\n".join(text[start:].splitlines()[:lines])


def check_sanitizer(name, text):
    """Fail with the report's first lines if a sanitizer reported in text."""
    report = sanitizer_report(text)
    check(report is None, f"{name}: sanitizer report:\n{report}")


def sanitized(binary):
    """Whether a program was built with AddressSanitizer."""
    with open(binary, "rb") as f:
        return b"__asan_init" in f.read()


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def machine_lock():
    """Serialize busy-polling tests on this 2-core machine."""
    global _lock_fd
    if _lock_fd is None:
        _lock_fd = open(LOCK_PATH, "w")
        fcntl.flock(_lock_fd, fcntl.LOCK_EX)


def require_hugepages():
    total = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("HugePages_Total:"):
                total = int(line.split()[1])
    check(total > 0, "no hugepages: as root, echo 1024 > /proc/sys/vm/nr_hugepages "
          "and mount hugetlbfs on /dev/hugepages (the README's test command does it)")
    check(os.path.ismount(HUGE_DIR), f"{HUGE_DIR} is not a hugetlbfs mount")


def remove_hugefiles(prefix):
    for name in os.listdir(HUGE_DIR):
        if name.startswith(prefix + "map_") or name.startswith(prefix + "_"):
            try:
                os.unlink(os.path.join(HUGE_DIR, name))
            except OSError:
                pass


def hugefiles(prefix):
    return [n for n in os.listdir(HUGE_DIR) if n.startswith(prefix + "map_")]


def dpdk_runtime_dir(prefix):
    """EAL's runtime directory of a --file-prefix: /var/run/dpdk/PREFIX as
    root, else under $XDG_RUNTIME_DIR or /tmp (eal_create_runtime_dir)."""
    check(prefix and "/" not in prefix and prefix not in (".", ".."),
          f"not a file prefix: {prefix!r}")
    base = "/var/run" if os.geteuid() == 0 else os.environ.get("XDG_RUNTIME_DIR", "/tmp")
    return os.path.join(base, "dpdk", prefix)


def remove_dpdk_files(prefix):
    """What an exited DPDK process of --file-prefix prefix leaves: its
    hugepage files and its runtime directory (config, fbarrays, sockets)."""
    remove_hugefiles(prefix)
    shutil.rmtree(dpdk_runtime_dir(prefix), ignore_errors=True)


def keeper_prefixes(prefix):
    """The --file-prefix values of the gateways vhostgw-keeper runs for one
    given to it: PREFIX-k0 and PREFIX-k1 (the running one and a standby)."""
    return [prefix, f"{prefix}-k0", f"{prefix}-k1"]


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


class Proc:
    """A child process with its output in a log file, stopped by PID."""

    def __init__(self, name, argv, workdir, stdin=None, netns=None):
        self.name = name
        if netns:
            argv = ["ip", "netns", "exec", netns] + list(argv)
        self.argv = argv
        self.logpath = os.path.join(workdir, f"{name}.log")
        if os.path.exists(self.logpath):
            os.unlink(self.logpath)
        self.logf = open(self.logpath, "wb")
        self.p = subprocess.Popen(argv, stdin=stdin, stdout=self.logf,
                                  stderr=subprocess.STDOUT, cwd=workdir,
                                  start_new_session=True)
        self.pid = self.p.pid
        self.reported = False
        _procs.append(self)
        _started.append(self)

    def output(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode(errors="replace")

    def alive(self):
        return self.p.poll() is None

    def check_sanitizer(self):
        report = sanitizer_report(self.output())
        self.reported = report is not None
        check(report is None, f"{self.name} (pid {self.pid}): sanitizer report:\n{report}")

    def wait_output(self, pattern, timeout):
        deadline = time.time() + timeout
        rx = re.compile(pattern)
        while time.time() < deadline:
            if rx.search(self.output()):
                return True
            if not self.alive():
                break
            time.sleep(0.05)
        return bool(rx.search(self.output()))

    def signal(self, sig):
        if self.alive():
            os.kill(self.pid, sig)

    def wait(self, timeout):
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout=10):
        if self.alive():
            self.signal(signal.SIGTERM)
            if self.wait(timeout) is None:
                self.signal(signal.SIGKILL)
                self.wait(5)
        self.logf.close()
        if self in _procs:
            _procs.remove(self)
        return self.p.returncode


class VufrontNet:
    """One vufront-net (tests/lib/vufront_net.c), stopped by PID."""

    def __init__(self, tool, wd, name, args):
        self.name = name
        self.proc = Proc(name, [tool] + list(args), wd)

    def wait_ready(self, timeout=30):
        if not self.proc.wait_output(r"(?m)^ready$", timeout):
            raise TestFailure(f"{self.name} not ready:\n{self.proc.output()[-2000:]}")

    def finish(self, timeout=120):
        """Wait for the exit; the output, checked to be a clean exit."""
        rc = self.proc.wait(timeout)
        out = self.proc.output()
        check(rc is not None, f"{self.name} still running after {timeout} s:\n{out[-2000:]}")
        self.proc.stop()
        self.proc.check_sanitizer()
        check(rc == 0, f"{self.name} exited with {rc}:\n{out[-2000:]}")
        return out

    def field(self, out, key):
        m = re.search(rf"\b{key}=(\w+)", out)
        check(m is not None, f"{self.name}: no {key}= in its output:\n{out[-2000:]}")
        return int(m.group(1), 0)


def _cleanup():
    for p in list(_procs):
        try:
            p.signal(signal.SIGKILL)
            p.wait(5)
        except Exception:
            pass
        _procs.remove(p)
    for o in list(_dpdk_owners):
        if isinstance(o, Keeper):
            o.kill_orphans()
        if not o.dpdk_alive():
            o.remove_dpdk_files()


def _sanitizer_reports():
    """Reports in the output of every process the test started, not yet
    raised as a failure: a test fails on any, even if it passed."""
    found = []
    for p in _started:
        if not p.reported:
            try:
                p.check_sanitizer()
            except (TestFailure, OSError) as e:
                found.append(str(e))
    return found


atexit.register(_cleanup)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))



_MASK64 = (1 << 64) - 1


def _splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & _MASK64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def vufront_frame_len(seed, lo, hi, i):
    """vufront-net's length of frame i with --seed seed --size lo-hi."""
    state = (((seed ^ 0x6A09E667F3BCC909) * 0x9E3779B97F4A7C15) + i) & _MASK64
    return lo + _splitmix64(state) % (hi - lo + 1)


def vufront_frame(seed, lo, hi, i, dst="02:00:00:00:00:02", src="02:00:00:00:00:01"):
    """vufront-net's frame i with --seed seed --size lo-hi (--dst, --src)."""
    n = vufront_frame_len(seed, lo, hi, i)
    state = (seed * 0x9E3779B97F4A7C15 + i) & _MASK64
    f = bytearray(mac(dst) + mac(src) + b"\x88\xb5" + struct.pack("!I", i))
    while len(f) < n:
        f += _splitmix64(state).to_bytes(8, "little")
        state = (state + 0x9E3779B97F4A7C15) & _MASK64
    return bytes(f[:n])

def workdir(name):
    base = os.environ.get("VGW_TEST_TMP", "/tmp")
    d = tempfile.mkdtemp(prefix=f"vgw-{name}-", dir=base)
    os.chmod(d, 0o755)
    return d


class Gateway:
    """The vhostgw binary under test."""

    def __init__(self, binary, wd, config, name="gw", lcores="0@0,1@1", mem=256,
                 netns=None, extra=()):
        self.binary = os.path.abspath(binary)
        self.wd = wd
        self.config = config
        self.name = name
        self.prefix = f"vgwt{os.getpid()}{name}"
        self.lcores = lcores
        self.mem = mem
        self.netns = netns
        self.extra = list(extra)
        self.ctl_path = os.path.join(wd, f"{name}.ctl")
        self.cfg_path = os.path.join(wd, f"{name}.json")
        self.proc = None
        _dpdk_owners.append(self)

    def prefixes(self):
        """The --file-prefix values of the DPDK processes this starts."""
        return [self.prefix]

    def dpdk_alive(self):
        """Whether a DPDK process this started may still run."""
        return self.proc is not None and self.proc.alive()

    def remove_dpdk_files(self):
        for p in self.prefixes():
            remove_dpdk_files(p)

    def argv(self):
        return [self.binary, "--no-pci", f"--file-prefix={self.prefix}",
                "-m", str(self.mem), f"--lcores={self.lcores}", "--",
                "--config", self.cfg_path, "--control-socket", self.ctl_path] + self.extra

    def start(self, timeout=30):
        with open(self.cfg_path, "w") as f:
            json.dump(self.config, f, indent=1)
        self.proc = Proc(self.name, self.argv(), self.wd, netns=self.netns)
        if not self.proc.wait_output(r"serving", timeout):
            raise TestFailure(f"{self.name} did not start:\n{self.proc.output()[-3000:]}")
        log(f"{self.name} started (pid {self.proc.pid})")
        return self

    def ctl(self, cmd, **kw):
        return ctl_request(self.ctl_path, (json.dumps(dict(cmd=cmd, **kw)) + "\n").encode())

    def device(self, name):
        r = self.ctl("device", device=name)
        check(r["ok"], f"device {name}: {r}")
        return r["device"]

    def stats(self, name):
        r = self.ctl("stats", device=name)
        check(r["ok"], f"stats {name}: {r}")
        return r["devices"][0]

    def mbufs_in_use(self):
        return self.ctl("stats")["mbufs"]["in_use"]

    def wait_ready(self, names, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if all(self.device(n)["ready"] for n in names):
                return
            time.sleep(0.1)
        raise TestFailure(f"devices {names} not ready: "
                          f"{[self.device(n) for n in names]}")

    def wait_counter(self, name, field, value, timeout=20):
        deadline = time.time() + timeout
        v = None
        while time.time() < deadline:
            v = self.stats(name)[field]
            if v >= value:
                return v
            time.sleep(0.1)
        raise TestFailure(f"{self.name}: {name}.{field} = {v}, expected >= {value}")

    def sockets(self):
        return [d["socket"] for d in self.config["devices"]
                if d.get("type") in ("net", "fs") and d.get("mode", "server") == "server"]

    def stop(self, expect_clean=True):
        rc = self.proc.stop(timeout=15)
        try:
            self.proc.check_sanitizer()
        except TestFailure:
            if not self.dpdk_alive():
                self.remove_dpdk_files()
            raise
        if expect_clean:
            check(rc == 0, f"{self.name} exited with {rc}:\n{self.proc.output()[-3000:]}")
            left = [p for p in self.sockets() + [self.ctl_path] if os.path.exists(p)]
            check(not left, f"{self.name} left socket files behind: {left}")
            check(not hugefiles(self.prefix),
                  f"{self.name} left hugepage files: {hugefiles(self.prefix)}")
        if not self.dpdk_alive():
            self.remove_dpdk_files()
        return rc

    def kill9(self):
        self.proc.signal(signal.SIGKILL)
        self.proc.wait(10)
        self.proc.stop()
        if not self.dpdk_alive():
            self.remove_dpdk_files()
        self.proc.check_sanitizer()


class Keeper(Gateway):
    """The gateway run under vhostgw-keeper: the keeper owns the configured
    sockets and restarts the gateway; this object's proc is the keeper."""

    def __init__(self, keeper_binary, binary, wd, config, name="kgw", keeper_args=(), **kw):
        super().__init__(binary, wd, config, name=name, **kw)
        self.keeper_binary = os.path.abspath(keeper_binary)
        self.dir = os.path.join(wd, f"{name}.keeper")
        self.keeper_args = list(keeper_args)

    def argv(self):
        return ([self.keeper_binary, "--dir", self.dir] + self.keeper_args + ["--"] +
                super().argv())

    def prefixes(self):
        return keeper_prefixes(self.prefix)

    def dpdk_alive(self):
        """The keeper, or a gateway it started, still running."""
        if self.proc is None:
            return False
        try:
            pids = self.gateway_pids()
        except OSError:
            return True  # its log gone: not known
        return self.proc.alive() or any(pid_alive(p) for p in pids)

    def gateway_pids(self):
        """Every gateway the keeper started, in order."""
        return [int(m) for m in re.findall(r"gateway \d+ started: pid (\d+)",
                                           self.proc.output())]

    def kill_orphans(self, timeout=5):
        """At clean-up, the keeper killed: the gateways it started that
        still run (a gateway outlives its keeper until it notices), so that
        their DPDK files can go. Only a pid whose command line is still
        this gateway's binary (not a pid reused since)."""
        try:
            pids = self.gateway_pids()
        except OSError:
            return
        mine = []
        for pid in pids:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv0 = f.read().split(b"\0")[0].decode(errors="replace")
            except OSError:
                continue
            if os.path.realpath(argv0) == os.path.realpath(self.binary):
                try:
                    os.kill(pid, signal.SIGKILL)
                    mine.append(pid)
                except ProcessLookupError:
                    pass
        deadline = time.time() + timeout
        while any(pid_alive(p) for p in mine) and time.time() < deadline:
            time.sleep(0.05)

    def kill_gateway(self, sig=signal.SIGKILL):
        pid = self.gateway_pids()[-1]
        os.kill(pid, sig)
        return pid

    def replays(self, device):
        """Recovery times (ms) the keeper logged for a device's replays."""
        return [float(m) for m in re.findall(
            rf"device {re.escape(device)}: \d+ message\(s\) replayed to gateway \d+, "
            rf"([\d.]+) ms after", self.proc.output())]


def ctl_request(path, data):
    """Send raw bytes to a control socket; return its first reply line, parsed."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    s.sendall(data)
    buf = b""
    while b"\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    s.close()
    return json.loads(buf.split(b"\n")[0])


class Testpmd:
    """dpdk-testpmd in interactive mode, driven through its stdin."""

    PROMPT = "testpmd> "

    def __init__(self, wd, vdevs, name="tp", lcores="0@0,1@0", mem=256, args=(),
                 netns=None, wait=True):
        self.wd = wd
        self.name = name
        self.prefix = f"vgwt{os.getpid()}{name}"
        self.proc = None
        _dpdk_owners.append(self)
        binary = shutil.which("dpdk-testpmd")
        check(binary is not None, "dpdk-testpmd not found (apt-get install dpdk)")
        # virtio_user shares the front-end's memory with the back-end, at most
        # 8 regions: one file per memseg list keeps it under that
        argv = ["stdbuf", "-o0", binary, "--no-pci", f"--file-prefix={self.prefix}", "-m", str(mem),
                "--single-file-segments", f"--lcores={lcores}"]
        for v in vdevs:
            argv += ["--vdev", v]
        # --no-flush-rx: "start" must not drain a pcap source before forwarding
        argv += ["--", "-i", "--nb-cores=1", "--no-flush-rx"] + list(args)
        self.proc = Proc(name, argv, wd, stdin=subprocess.PIPE, netns=netns)
        if wait:
            self.wait_prompt()

    def wait_prompt(self, timeout=60):
        if not self.proc.wait_output(re.escape(self.PROMPT), timeout):
            raise TestFailure(f"{self.name} did not start:\n{self.proc.output()[-3000:]}")
        log(f"{self.name} started (pid {self.proc.pid})")

    def cmd(self, line, timeout=20):
        start = len(self.proc.output())
        self.proc.p.stdin.write((line + "\n").encode())
        self.proc.p.stdin.flush()
        deadline = time.time() + timeout
        while time.time() < deadline:
            out = self.proc.output()[start:]
            if out.count(self.PROMPT) >= 1 and out.rstrip().endswith(self.PROMPT.strip()):
                return out
            if not self.proc.alive():
                break
            time.sleep(0.05)
        raise TestFailure(f"{self.name}: no prompt after '{line}':\n"
                          f"{self.proc.output()[-2000:]}")

    def port_stats(self):
        out = self.cmd("show port stats all")
        stats = {}
        for m in re.finditer(r"NIC statistics for port (\d+).*?RX-packets:\s*(\d+).*?"
                             r"RX-bytes:\s*(\d+).*?TX-packets:\s*(\d+).*?TX-bytes:\s*(\d+)",
                             out, re.S):
            stats[int(m.group(1))] = dict(rx_packets=int(m.group(2)),
                                          rx_bytes=int(m.group(3)),
                                          tx_packets=int(m.group(4)),
                                          tx_bytes=int(m.group(5)))
        return stats

    def quit(self):
        if self.proc.alive():
            try:
                self.proc.p.stdin.write(b"stop\nquit\n")
                self.proc.p.stdin.flush()
            except BrokenPipeError:
                pass
            if self.proc.wait(30) is None:
                log(f"{self.name}: did not quit, killing")
        self.proc.stop()
        if not self.dpdk_alive():
            self.remove_dpdk_files()

    def dpdk_alive(self):
        return self.proc is not None and self.proc.alive()

    def remove_dpdk_files(self):
        remove_dpdk_files(self.prefix)


# --- frames and pcap files ---------------------------------------------

def mac(s):
    return bytes(int(x, 16) for x in s.split(":"))


def frame(dst, src, size, seed, ethertype=0x88B5):
    """An Ethernet frame of `size` bytes (no FCS) with a deterministic payload."""
    hdr = mac(dst) + mac(src) + struct.pack("!H", ethertype)
    body = bytes((seed * 7 + i * 13) & 0xFF for i in range(size - len(hdr) - 4))
    return hdr + struct.pack("!I", seed) + body


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 1, i, len(fr), len(fr)))
            f.write(fr)


def read_pcap(path):
    frames = []
    with open(path, "rb") as f:
        data = f.read()
    check(len(data) >= 24, f"{path}: not a pcap file ({len(data)} bytes)")
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        off += 16
        frames.append(data[off:off + incl])
        off += incl
    return frames


# Run in a test's network namespace (python3 -c SCRIPT ...): frames of
# ethertype 0x88B5 (or those of ETHERTYPES, hex, comma-separated) received
# on an interface, not those it sent, one hex line each, until N or a
# deadline ("listening" once bound): IFACE N OUTFILE SECONDS [ETHERTYPES]
PACKET_CAPTURE = r"""
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
s.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)  # SO_RCVBUFFORCE
s.bind((sys.argv[1], 0))
s.settimeout(0.5)
want, out, deadline = int(sys.argv[2]), open(sys.argv[3], "w"), time.time() + float(sys.argv[4])
types = [bytes.fromhex(x) for x in (sys.argv[5] if len(sys.argv) > 5 else "88b5").split(",")]
print("listening", flush=True)
n = 0
while n < want and time.time() < deadline:
    try:
        data, addr = s.recvfrom(65535)
    except socket.timeout:
        continue
    if addr[2] == socket.PACKET_OUTGOING or data[12:14] not in types:
        continue
    out.write(data.hex() + "\n"); out.flush()
    n += 1
"""
# ... and sent on it from a file of hex lines, 16 at a time (a front-end's
# ring is 256 buffers): IFACE HEXFILE
PACKET_SEND = r"""
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
for i, line in enumerate(open(sys.argv[2])):
    s.send(bytes.fromhex(line.strip()))
    if i % 16 == 15:
        time.sleep(0.01)
"""


def sh(*argv):
    """A command that must succeed (its output kept for the error)."""
    subprocess.run(argv, check=True, capture_output=True)


def wait_for(what, cond, timeout=20):
    """Poll cond() until true; a failure naming what after timeout s."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.02)
    raise TestFailure(f"timed out waiting for {what}")


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def run(main):
    """Run one test function: lock the machine, report, exit 0 or 1."""
    t0 = time.time()
    try:
        machine_lock()
        require_hugepages()
        main()
    except TestFailure as e:
        log(f"FAIL: {e}")
        _cleanup()
        for r in _sanitizer_reports():
            log(f"FAIL: {r}")
        sys.exit(1)
    except Exception:
        import traceback
        traceback.print_exc()
        _cleanup()
        for r in _sanitizer_reports():
            log(f"FAIL: {r}")
        sys.exit(1)
    _cleanup()
    reports = _sanitizer_reports()
    for r in reports:
        log(f"FAIL: {r}")
    if reports:
        sys.exit(1)
    log(f"PASS ({time.time() - t0:.1f} s)")
    sys.exit(0)
