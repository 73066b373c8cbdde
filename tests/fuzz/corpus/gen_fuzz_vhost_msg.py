#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Write fuzz_vhost_msg's seeds (tests/fuzz/fuzz_vhost_msg.c describes
the input): valid messages of each kind the hooks look at, on the
connections they come on. Run from this directory. (The directory also
keeps inputs the fuzzer found, not written here: state-load-done-at-once,
state-load-wrong-end.)"""

import os
import struct

KEEPER, START_FAILS, REMAP_FAILS, SAVE_FAILS, ADOPT_FAILS = 1, 2, 4, 8, 16
LOG_ALL = 0x80  # negotiated features have LOG_ALL
PACKED = 2  # ... and RING_PACKED
INFLIGHT = 4  # the protocol feature INFLIGHT_SHMFD negotiated


def cfg(bits=0, state_size=3, features=0):
    return bytes([(bits & 0x1f) | (state_size << 5), features | (1 if bits & LOG_ALL else 0)])


def connect(vid):
    return bytes([0 | vid << 3])


def ready(vid):
    return bytes([1 | vid << 3])


def stop(vid):
    return bytes([2 | vid << 3])


def disconnect(vid):
    return bytes([3 | vid << 3])


def vring_state(vid, ring, enable):
    return bytes([4 | vid << 3 | ring << 5 | (0x80 if enable else 0)])


# fds: ('mem', bytes), ('mem-fixed', bytes): a memfd that cannot be
# sealed, ('load', data), ('save',), ('null',)
def fd(kind, arg=b''):
    if kind == 'mem':
        return bytes([0]) + struct.pack('<H', (arg + 63) // 64)
    if kind == 'mem-fixed':
        return bytes([4]) + struct.pack('<H', (arg + 63) // 64)
    if kind == 'load':
        return bytes([1, (len(arg) + 7) // 8]) + arg.ljust((len(arg) + 7) // 8 * 8, b'\0')
    if kind == 'save':
        return bytes([2])
    return bytes([3])


KEEPER_BEGIN, KEEPER_END, KEEPER_TABLES = 48, 49, 50


def msg(vid, req, payload=b'', fds=(), flags=0, vhost_fails=False):
    return (bytes([5 | vid << 3 | (0x80 if vhost_fails else 0), req, flags]) +
            struct.pack('<H', len(payload)) + payload + bytes([len(fds)]) + b''.join(fds))


def mem_table(regions):
    p = struct.pack('<II', len(regions), 0)
    for gpa, size, uaddr, off in regions:
        p += struct.pack('<QQQQ', gpa, size, uaddr, off)
    return p


def inflight(size, off, nq, qs):
    return struct.pack('<QQHH', size, off, nq, qs)


def q_bytes(qs, packed=False):
    return (16 + (32 if packed else 16) * qs + 63) // 64 * 64


def kick(vid, ring, size_log2, used, avail, header, head, flag):
    """SET_VRING_KICK of ring (no fd), and what the harness makes of it
    when the device has a region: the ring's size, used index and base, the
    16 bytes the front-end wrote over the ring's area header, an entry's
    inflight byte."""
    return (msg(vid, 12, struct.pack('<Q', ring | 0x100)) + bytes([size_log2]) +
            struct.pack('<HH', used, avail) + header + struct.pack('<HB', head, flag))


def area_header(version, desc_num, last_io, used_idx, counter=0):
    # u64 features, u16 version, desc_num, last_inflight_io, used_idx
    return struct.pack('<QHHHH', counter, version, desc_num, last_io, used_idx)


TABLE1 = [(0, 0xa0000, 0x7f0000000000, 0), (0x100000, 0x3ff00000, 0x7f0000100000, 0)]
TABLE2 = [(0, 0x80000000, 0x7f1000000000, 0)]

seeds = {
    'mem-table': cfg() + connect(0) +
    msg(0, 5, mem_table(TABLE1), [fd('mem', 4096), fd('mem', 4096)]) + ready(0) +
    msg(0, 5, mem_table(TABLE1), [fd('mem', 4096), fd('mem', 4096)]) +
    msg(0, 5, mem_table(TABLE2), [fd('mem', 4096)]) + stop(0) + disconnect(0),
    'mem-table-remap-fails': cfg(REMAP_FAILS) + connect(0) + ready(0) +
    msg(0, 5, mem_table(TABLE2), [fd('mem', 4096)]) +
    msg(0, 5, mem_table(TABLE1), [fd('mem', 4096), fd('mem', 4096)], vhost_fails=True),
    'get-inflight': cfg(features=INFLIGHT) + connect(0) + msg(0, 31, inflight(0, 0, 2, 256)),
    'get-inflight-unnegotiated': cfg() + connect(0) + msg(0, 31, inflight(0, 0, 2, 256)),
    'set-inflight': cfg(features=INFLIGHT) + connect(0) + ready(0) +
    msg(0, 32, inflight(2 * q_bytes(256), 0, 2, 256), [fd('mem', 2 * q_bytes(256))]),
    # GET, SET of its region, the kicks with headers that lie (desc_num,
    # last_inflight_io 65535, used_idx off used->idx), then a fresh area
    'inflight-kick-lies': cfg(features=INFLIGHT) + connect(0) +
    msg(0, 31, inflight(0, 0, 2, 256)) +
    msg(0, 32, inflight(2 * q_bytes(256), 0, 2, 256), [fd('mem', 2 * q_bytes(256))]) +
    kick(0, 0, 8, 5, 3, area_header(1, 0xffff, 0xffff, 0x5a5a), 7, 1) +
    kick(0, 1, 8, 0, 0, area_header(0, 0xffff, 0xffff, 0xffff), 255, 1) + ready(0) +
    kick(0, 1, 15, 9, 9, area_header(1, 256, 3, 8), 3, 1),
    # a memfd the front-end could shrink under the mapping: refused
    'set-inflight-unsealable': cfg(features=INFLIGHT) + connect(0) +
    msg(0, 32, inflight(2 * q_bytes(256), 0, 2, 256), [fd('mem-fixed', 2 * q_bytes(256))]),
    'set-inflight-offset': cfg(features=INFLIGHT) + connect(0) +
    msg(0, 32, inflight(q_bytes(1024), 4096, 1, 1024), [fd('mem', 4096 + q_bytes(1024))]),
    # a net device: INFLIGHT_SHMFD is not negotiated there, refused
    'set-inflight-packed': cfg(features=PACKED) + connect(1) +
    msg(1, 32, inflight(2 * q_bytes(256, True), 0, 2, 256), [fd('mem', 2 * q_bytes(256, True))]),
    'set-inflight-packed-short': cfg(features=PACKED) + connect(1) +
    msg(1, 32, inflight(2 * q_bytes(256), 0, 2, 256), [fd('mem', 2 * q_bytes(256))]),
    # an offset off a page boundary: the mmap fails after the checks, the
    # region the rings point into (the first one) stays
    'set-inflight-unaligned': cfg(features=INFLIGHT) + connect(0) +
    msg(0, 32, inflight(q_bytes(256), 0, 1, 256), [fd('mem', q_bytes(256))]) +
    msg(0, 32, inflight(q_bytes(256), 100, 1, 256), [fd('mem', 4096 + q_bytes(256))]),
    'set-inflight-short': cfg(features=INFLIGHT) + connect(0) +
    msg(0, 32, inflight(2 * q_bytes(256), 0, 2, 256), [fd('mem', 4096)]),
    'set-inflight-bad': cfg(features=INFLIGHT) + connect(1) +
    msg(1, 32, inflight(4096, 0, 0, 256), [fd('mem', 4096)]) +
    msg(1, 31, inflight(0, 0, 2, 100)) + msg(1, 32, inflight(64, 0, 1, 2), []),
    'state-save': cfg(state_size=5) + connect(0) +
    msg(0, 42, struct.pack('<II', 0, 0), [fd('save')], flags=8) + msg(0, 43, flags=8),
    'state-load': cfg() + connect(0) +
    msg(0, 42, struct.pack('<II', 1, 0), [fd('load', b'\x02session')]) + msg(0, 43) +
    ready(0),
    'state-load-bad': cfg() + connect(0) +
    msg(0, 42, struct.pack('<II', 1, 0), [fd('load', b'\x01bad')]) + msg(0, 43),
    'state-refused': cfg(SAVE_FAILS) + connect(0) + connect(1) +
    msg(0, 42, struct.pack('<II', 0, 0), [fd('save')]) +
    msg(0, 42, struct.pack('<II', 2, 0), [fd('save')]) +
    msg(1, 42, struct.pack('<II', 0, 0), [fd('save')]) + msg(1, 43) + ready(0) +
    msg(0, 42, struct.pack('<II', 1, 0), [fd('load', b'\x00')]),
    'keeper': cfg(KEEPER | LOG_ALL) + connect(0) + msg(0, KEEPER_TABLES) +
    msg(0, KEEPER_BEGIN, struct.pack('<QII', 1, 2, 1), [fd('mem', 4096), fd('null')]) +
    msg(0, 5, mem_table(TABLE1), [fd('mem', 4096), fd('mem', 4096)]) +
    msg(0, KEEPER_END, struct.pack('<QII', 1, 2, 1)),
    'keeper-adopt-fails': cfg(KEEPER | ADOPT_FAILS) + connect(0) +
    msg(0, KEEPER_BEGIN, struct.pack('<QII', 1, 2, 1), [fd('null')]),
    'keeper-refused': cfg() + connect(1) +
    msg(1, KEEPER_BEGIN, struct.pack('<QII', 1, 2, 1), [fd('null')]) +
    msg(1, KEEPER_TABLES),
    'phase-inputs': cfg() + connect(0) + connect(1) +
    msg(0, 2, struct.pack('<Q', 1 << 26)) + msg(0, 6, struct.pack('<QQ', 4096, 0), [fd('mem', 4096)]) +
    msg(0, 12, struct.pack('<Q', 0), [fd('null')]) + msg(0, 12, struct.pack('<Q', 0x101)) +
    ready(0) + vring_state(0, 1, True) + msg(0, 11, struct.pack('<II', 0, 0)) +
    msg(0, 11, struct.pack('<II', 1, 0)) + msg(0, 39, struct.pack('<Q', 0)) +
    msg(1, 19, bytes(6) + bytes(2)) + msg(0, 2, struct.pack('<Q', 0)),
    'second-frontend': cfg() + connect(0) + connect(2) + msg(2, 5, mem_table(TABLE2),
                                                          [fd('mem', 4096)]) + disconnect(0),
    'start-fails': cfg(START_FAILS) + connect(0) + ready(0) + msg(0, 5, mem_table(TABLE2),
                                                                  [fd('mem', 4096)]),
    'unknown': cfg() + connect(0) + msg(0, 44, b'x' * 8) + msg(0, 47) + msg(3, 5, b'', [fd('null')]),
}

for name, data in seeds.items():
    with open(name, 'wb') as f:
        f.write(data)
