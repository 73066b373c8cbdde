#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Write the seeds of fuzz_vring (tests/fuzz/fuzz_vring.c) into
corpus/fuzz_vring: a normal chain, an indirect one, a loop, an avail index
jump past the ring, a chain over the byte limit. The input layout is the
one fz_setup() and fz_op() read:

    size_sel u8, features u8, avail0 u16, used0 u16,
    n u8, n descriptors, n u8, n avail heads u16, n u8 (& 3) indirect
    tables (slot u8, count u8, count descriptors), then operations.

A descriptor is 8 bytes: address mode u8 (+8: length in 4 KiB units),
offset u16, length u16, flags u8, next u16.

    gen_fuzz_vring.py [OUT_DIR]"""

import os
import struct
import sys

NEXT, WRITE, INDIRECT = 1, 2, 4
(POP, PUSH, PUT, PUBLISH, UNPOP, PREFETCH, REWALK, AVAIL_MOVE, OFFER, DESC_WRITE,
 MEM_WRITE, REMAP, LOG_CHECK, NOTIFY) = range(14)
R0, R1, SLOT, BOUNDARY, BIG = 0, 1, 2, 3, 4


def desc(mode, off, length, flags=0, nxt=0):
    return struct.pack('<BHHBH', mode, off, length, flags, nxt)


def seed(size_sel, feat, descs, heads, tables=(), ops=b'', avail0=0, used0=0):
    b = struct.pack('<BBHH', size_sel, feat, avail0, used0)
    b += bytes([len(descs)]) + b''.join(descs)
    b += bytes([len(heads)]) + b''.join(struct.pack('<H', h) for h in heads)
    b += bytes([len(tables)])
    for slot, entries in tables:
        b += bytes([slot, len(entries)]) + b''.join(entries)
    return b + ops


def op(code, *args):
    return bytes([code]) + b''.join(args)


def u8(v):
    return bytes([v])


def u16(v):
    return struct.pack('<H', v)


def u32(v):
    return struct.pack('<I', v)


SEEDS = {
    # readable, then writable across regions 0 and 1: pushed, put, published
    'normal': seed(3, 0x0c, [desc(R0, 0x100, 40, NEXT, 1),
                             desc(BOUNDARY, 0x10, 0x30, WRITE | NEXT, 2),
                             desc(R1, 0x200, 100, WRITE)], [0],
                   ops=op(POP) + op(REWALK, u8(0)) + op(PUSH, u8(0), u32(0x18)) + op(POP) +
                   op(OFFER, u16(0)) + op(POP) + op(PUT, u8(0), u32(10)) + op(PUBLISH)),
    # a table in slot 1 of region 0, taken, remapped, walked again
    'indirect': seed(4, 0x01, [desc(SLOT, 1, 3 * 16, INDIRECT)], [0],
                     tables=[(1, [desc(R1, 0, 12, NEXT, 2), desc(R0, 0x100, 64, WRITE),
                                  desc(R1, 64, 1500, NEXT, 1)])],
                     ops=op(PREFETCH, u8(0x81)) + op(POP) + op(REMAP, u8(1)) +
                     op(REWALK, u8(0)) + op(REMAP, u8(2)) + op(REWALK, u8(0)) +
                     op(PUSH, u8(0), u32(0)) + op(REMAP, u8(0)) + op(OFFER, u16(0)) + op(POP)),
    # a loop of two, refused; fixed, taken, given back, taken again
    'loop': seed(2, 0x00, [desc(R0, 0, 16, NEXT, 1), desc(R0, 16, 16, NEXT, 0)], [0],
                 ops=op(POP) + op(DESC_WRITE, u8(1), desc(R0, 16, 16, WRITE)) +
                 op(OFFER, u16(0)) + op(POP) + op(UNPOP, u8(1)) + op(POP) +
                 op(PUSH, u8(0), u32(16)) + op(NOTIFY, u8(0))),
    # indices about to wrap; the guest jumps past the ring, then behaves
    'jump': seed(8, 0x02, [desc(R1, 0x1000, 256, WRITE)], [0, 0],
                 ops=op(POP) + op(AVAIL_MOVE, u16(0x200)) + op(PREFETCH, u8(8)) + op(POP) +
                 op(OFFER, u16(0)) + op(POP) + op(PUT, u8(0), u32(0x100)) + op(PUBLISH) +
                 op(PUSH, u8(0), u32(1)),
                 avail0=0xfffe, used0=0xfff0),
    # two 48 MiB buffers: over the chain byte limit; then one of them alone
    'big': seed(5, 0x1c, [desc(BIG | 8, 0, 0x3000, NEXT, 1), desc(BIG | 8, 0, 0x3000, WRITE)],
                [0, 1], ops=op(POP) + op(LOG_CHECK, u8(0)) + op(POP) + op(PUT, u8(0), u32(7)) +
                op(PUBLISH)),
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), 'fuzz_vring')
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, name), 'wb') as f:
            f.write(data)


if __name__ == '__main__':
    main()
