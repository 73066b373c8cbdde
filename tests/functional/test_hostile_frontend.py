#!/usr/bin/env python3
"""hostile_frontend: 1,500 connections of a hostile front-end on the
vhost-user sockets of a net and an fs device, while two other devices move
frames; the gateway's fds (and, under the keeper, the keeper's and the
gateway's) are back at their start afterwards, every other device served on.

Each connection sends the harmless opening of a real front-end (GET_FEATURES,
SET_OWNER) and then one bad message, kinds in turn, most of them carrying
fds (eventfds and /dev/null) that the back-end must close:

  size         SET_MEM_TABLE claiming 4,000 payload bytes, 2 fds
  ring         SET_VRING_NUM for ring 300, 1 stray fd
  ring-fd      SET_VRING_CALL for a ring the device does not have (5), 1 fd
  unknown      message id 99, 2 fds
  stray        GET_FEATURES with 3 fds
  nofd         SET_VRING_KICK without its fd and without the no-fd flag
  regions0     SET_MEM_TABLE of 0 regions, 1 fd
  regions1000  SET_MEM_TABLE claiming 1,000 regions, 8 fds
  vanish       SET_VRING_CALL's header and fd, then the connection closed
               before its payload
  half         6 bytes of a header, then closed
  random       a random id (0-60) with a random size (0-300) and 0-4 fds,
               and that many random payload bytes

rte_vhost 22.11 closes nothing of what it receives with a message it
rejects this early (a size over its payload, a ring index of 256 or more,
a payload that never comes): without the gateway's message guard a run
left hundreds of fds open. With it, each such message is refused before
rte_vhost reads it: its fds closed, one line logged, the connection
closed, the device's msgs_refused counter up by one. The counter must
count at least the connections of the kinds the guard must refuse.

Last, a front-end that hands the fs device a pipe to load a device state
from (SET_DEVICE_STATE_FD), never writes it nor closes it, and asks for the
result (CHECK_DEVICE_STATE): the answer is a failure, at once rather than
at the transfer's 60 s deadline (rte_vhost's event thread, which every
device's messages go through, would wait that long), with the reason
logged; the other devices are served meanwhile.
"""
import os
import random
import re
import socket
import struct
import sys
import time

import vgwtest as t

N = 1500
KINDS = ["size", "ring", "ring-fd", "unknown", "stray", "nofd", "regions0", "regions1000",
         "vanish", "half", "random"]
# refused by the guard whatever rte_vhost would do
GUARDED = {"size", "ring", "ring-fd", "unknown", "stray", "nofd", "regions0", "regions1000",
           "vanish"}
GET_FEATURES, SET_FEATURES, SET_OWNER, SET_MEM_TABLE = 1, 2, 3, 5
GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES = 15, 16
SET_DEVICE_STATE_FD, CHECK_DEVICE_STATE = 42, 43
PF_DEVICE_STATE = 1 << 19
SET_VRING_NUM, SET_VRING_KICK, SET_VRING_CALL = 8, 12, 13
TRAFFIC = 200000


def hdr(req, size):
    return struct.pack("<III", req, 1, size)


def fds(n):
    out = []
    for i in range(n):
        out.append(os.eventfd(0) if i % 2 == 0 else os.open("/dev/null", os.O_RDONLY))
    return out


def send(s, data, fdl=()):
    if fdl:
        socket.send_fds(s, [data], list(fdl))
    else:
        s.sendall(data)


def hostile(path, kind, rng):
    """One connection: the opening, one bad message, then close."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    mine = []
    try:
        s.settimeout(5)
        s.connect(path)
        s.sendall(hdr(GET_FEATURES, 0))
        s.recv(20)
        s.sendall(hdr(SET_OWNER, 0))
        if kind == "size":
            mine = fds(2)
            send(s, hdr(SET_MEM_TABLE, 4000) + bytes(4000), mine)
        elif kind == "ring":
            mine = fds(1)
            send(s, hdr(SET_VRING_NUM, 8) + struct.pack("<II", 300, 256), mine)
        elif kind == "ring-fd":
            mine = fds(1)
            send(s, hdr(SET_VRING_CALL, 8) + struct.pack("<Q", 5), mine)
        elif kind == "unknown":
            mine = fds(2)
            send(s, hdr(99, 8) + bytes(8), mine)
        elif kind == "stray":
            mine = fds(3)
            send(s, hdr(GET_FEATURES, 0), mine)
        elif kind == "nofd":
            send(s, hdr(SET_VRING_KICK, 8) + struct.pack("<Q", 0))
        elif kind == "regions0":
            mine = fds(1)
            send(s, hdr(SET_MEM_TABLE, 8) + struct.pack("<II", 0, 0), mine)
        elif kind == "regions1000":
            mine = fds(8)
            send(s, hdr(SET_MEM_TABLE, 8 + 32 * 8) + struct.pack("<II", 1000, 0) +
                 bytes(32 * 8), mine)
        elif kind == "vanish":
            mine = fds(1)
            send(s, hdr(SET_VRING_CALL, 8), mine)
        elif kind == "half":
            s.sendall(hdr(SET_VRING_NUM, 8)[:6])
        else:
            size = rng.randrange(0, 301)
            mine = fds(rng.randrange(0, 5))
            send(s, hdr(rng.randrange(0, 61), size) + rng.randbytes(size), mine)
        # what the back-end says, if anything, until it closes (a reply to
        # the opening may still be there)
        time.sleep(0.002)
    except OSError:
        pass            # the back-end closed first: expected for most kinds
    finally:
        for fd in mine:
            os.close(fd)
        s.close()


def recv_reply(s, req):
    data = b""
    while len(data) < 20:
        chunk = s.recv(20 - len(data))
        t.check(chunk, f"the gateway closed the connection instead of answering {req}")
        data += chunk
    r, flags, size, val = struct.unpack("<IIIQ", data)
    t.check(r == req and flags & 4 and size == 8, f"reply to {req}: {r} {flags:#x} {size}")
    return val


def stalled_state(path):
    """SET_DEVICE_STATE_FD (load) with a pipe never written, then
    CHECK_DEVICE_STATE: its answer (0 is success)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)        # well under the transfer's 60 s deadline
    s.connect(path)
    s.sendall(hdr(GET_FEATURES, 0))
    feats = recv_reply(s, GET_FEATURES)
    s.sendall(hdr(GET_PROTOCOL_FEATURES, 0))
    pf = recv_reply(s, GET_PROTOCOL_FEATURES)
    t.check(pf & PF_DEVICE_STATE, f"the fs device does not offer DEVICE_STATE: {pf:#x}")
    s.sendall(hdr(SET_OWNER, 0))
    s.sendall(hdr(SET_FEATURES, 8) + struct.pack("<Q", feats))
    s.sendall(hdr(SET_PROTOCOL_FEATURES, 8) + struct.pack("<Q", PF_DEVICE_STATE))
    r, w = os.pipe()
    try:
        send(s, hdr(SET_DEVICE_STATE_FD, 8) + struct.pack("<II", 1, 0), [r])
        ack = recv_reply(s, SET_DEVICE_STATE_FD)
        t.check(ack & 0xff == 0, f"SET_DEVICE_STATE_FD (load) refused: {ack:#x}")
        t0 = time.time()
        s.sendall(hdr(CHECK_DEVICE_STATE, 0))
        try:
            res = recv_reply(s, CHECK_DEVICE_STATE)
        except socket.timeout:
            raise t.TestFailure("no answer to CHECK_DEVICE_STATE within 20 s: the transfer "
                                "waits for its deadline, and the event thread with it")
        t.log(f"CHECK_DEVICE_STATE with the pipe still open: {res:#x} after "
              f"{time.time() - t0:.2f} s")
        return res
    finally:
        os.close(r)
        os.close(w)
        s.close()


def settle(pids, want, timeout=20):
    deadline = time.time() + timeout
    while True:
        got = [t.fd_count(p) for p in pids]
        if got == want or time.time() > deadline:
            return got
        time.sleep(0.2)


def attack(gw, tool, wd, name, pids):
    """The traffic pair c->d, the 1,500 connections on a and f, checks."""
    sock = {d["name"]: d["socket"] for d in gw.config["devices"]}
    time.sleep(0.5)
    fds0 = [t.fd_count(p) for p in pids]
    rd = t.VufrontNet(tool, wd, f"{name}-recv-d", ["--socket", sock["d"], "--recv",
                                                   str(TRAFFIC), "--timeout-ms", "60000"])
    rd.wait_ready()
    sc = t.VufrontNet(tool, wd, f"{name}-send-c", ["--socket", sock["c"], "--send",
                                                   str(TRAFFIC), "--rate", "20000",
                                                   "--timeout-ms", "60000"])
    sc.wait_ready()
    gw.wait_ready(["c", "d"])
    t.log(f"{name}: start: fds {fds0} (pids {pids})")
    rng = random.Random(7)
    t0 = time.time()
    kinds = {}
    for i in range(N):
        kind = KINDS[i % len(KINDS)]
        dev = "a" if i % 2 == 0 else "f"
        kinds[(dev, kind)] = kinds.get((dev, kind), 0) + 1
        hostile(sock[dev], kind, rng)
    t.log(f"{name}: {N} hostile connections in {time.time() - t0:.1f} s")
    out_d, out_c = rd.finish(), sc.finish()
    t.check(rd.field(out_d, "received") == TRAFFIC,
            f"{name}: d received {rd.field(out_d, 'received')} of {TRAFFIC} frames while "
            f"a and f were attacked")
    fds1 = settle(pids, fds0)
    t.log(f"{name}: fds {fds0} before, {fds1} after")
    t.check(fds1 == fds0, f"{name}: fds {fds0} before the attack, {fds1} after: the hostile "
            f"connections' fds were kept")
    return kinds


def config(wd):
    share = os.path.join(wd, "share")
    os.makedirs(share, exist_ok=True)
    devs = [{"name": d, "type": "net", "socket": os.path.join(wd, f"{d}.sock")}
            for d in "acd"]
    devs.append({"name": "f", "type": "fs", "socket": os.path.join(wd, "f.sock"),
                 "shared_dir": share, "tag": "hostile"})
    return {"runtime_dir": wd, "devices": devs,
            "links": [{"xconnect": ["c", "d"]}]}


def main():
    binary, tool, keeper = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3]
    wd = t.workdir("hostile_frontend")
    gw = t.Gateway(binary, wd, config(wd)).start()
    kinds = attack(gw, tool, wd, "gateway", [gw.proc.pid])
    out = gw.proc.output()
    for dev in ("a", "f"):
        refused = gw.device(dev).get("msgs_refused")
        want = sum(n for (d, k), n in kinds.items() if d == dev and k in GUARDED)
        t.check(refused is not None and refused >= want,
                f"device {dev}: msgs_refused {refused}, expected at least {want}")
        t.log(f"device {dev}: {refused} messages refused")
    lines = re.findall(r"(?m)^.*: front-end message refused: .*$", out)
    t.check(len(lines) >= 2, "no refusal logged")
    t.log(f"for example: {lines[0].strip()}")
    for d in ("c", "d"):
        t.check(gw.device(d).get("msgs_refused", 0) == 0, f"device {d} refused messages")

    res = stalled_state(gw.config["devices"][3]["socket"])
    t.check(res != 0, "CHECK_DEVICE_STATE answered success for a state never sent")
    t.check(gw.proc.wait_output(r"device state check: failed .*the front-end moved on before "
                                r"it had closed its end of the pipe", 10),
            "no log line saying why the check failed")
    gw.stop()

    wd = t.workdir("hostile_frontend-keeper")
    kp = t.Keeper(keeper, binary, wd, config(wd)).start()
    time.sleep(1)
    pids = [kp.proc.pid, kp.gateway_pids()[-1]]
    attack(kp, tool, wd, "keeper", pids)
    t.check(kp.gateway_pids()[-1] == pids[1], "the gateway was restarted during the attack")
    kp.stop()


if __name__ == "__main__":
    t.run(main)
