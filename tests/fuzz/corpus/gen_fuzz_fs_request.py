#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Write fuzz_fs_request's seeds (tests/fuzz/fuzz_fs_request.c: an input is
one FUSE request, its last byte also choosing where the request is split
into two buffers): a well-formed request of each opcode the engine serves,
on the root (node 1), on the names the target's share holds (file, dir,
dir/inner, up, passwd) and on the node ids the engine hands out first
(index 2.. of generation 1). The target's engine lives across inputs, so
what a LOOKUP or CREATE makes, later inputs find. Run from this
directory."""

import os
import struct

ROOT = 1
N = [(1 << 32) | i for i in range(2, 7)]  # the first node ids handed out
FH = [(1 << 32) | i for i in range(1, 4)]  # and handles


def req(op, node, body=b"", unique=7):
    hdr = struct.pack("<IIQQIIIHH", 40 + len(body), op, unique, node, 0, 0, 1, 0, 0)
    return hdr + body


def name(*names):
    return b"".join(n.encode() + b"\0" for n in names)


def read_in(fh, off=0, size=4096):
    return struct.pack("<QQIIQII", fh, off, size, 0, 0, 0, 0)


SEEDS = {
    "lookup-file": req(1, ROOT, name("file")),
    "lookup-dir": req(1, ROOT, name("dir")),
    "lookup-inner": req(1, N[1], name("inner")),
    "lookup-up": req(1, ROOT, name("up")),
    "lookup-passwd": req(1, ROOT, name("passwd")),
    "lookup-dotdot": req(1, N[1], name("..")),
    "forget": req(2, N[0], struct.pack("<Q", 1)),
    "batch-forget": req(42, 0, struct.pack("<II", 2, 0) +
                        struct.pack("<QQ", N[0], 1) + struct.pack("<QQ", N[2], 1)),
    "getattr-root": req(3, ROOT, struct.pack("<IIQ", 0, 0, 0)),
    "getattr-node": req(3, N[0], struct.pack("<IIQ", 1, 0, FH[0])),
    "setattr-size": req(4, N[0], struct.pack("<IIQQQQQQIIIIIIII", 1 << 3 | 1 << 6, 0, FH[0],
                                             5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)),
    "setattr-mode": req(4, N[0], struct.pack("<IIQQQQQQIIIIIIII", 1, 0, 0, 0, 0, 0, 0, 0, 0,
                                             0, 0, 0o100600, 0, 0, 0, 0)),
    "readlink": req(5, N[3]),
    "symlink": req(6, ROOT, name("sl", "file")),
    "mknod": req(8, ROOT, struct.pack("<IIII", 0o010644, 0, 0o22, 0) + name("fifo")),
    "mkdir": req(9, ROOT, struct.pack("<II", 0o755, 0o22) + name("newdir")),
    "unlink": req(10, ROOT, name("file")),
    "rmdir": req(11, ROOT, name("newdir")),
    "rename": req(12, ROOT, struct.pack("<Q", ROOT) + name("file", "moved")),
    "rename2-exchange": req(45, ROOT, struct.pack("<QII", N[1], 2, 0) + name("file", "inner")),
    "rename2-noreplace": req(45, ROOT, struct.pack("<QII", ROOT, 1, 0) + name("dir", "file")),
    "link": req(13, ROOT, struct.pack("<Q", N[0]) + name("hard")),
    "open-rw": req(14, N[0], struct.pack("<II", 2, 0)),
    "open-trunc": req(14, N[0], struct.pack("<II", 2 | 0o1000, 0)),
    "read": req(15, N[0], read_in(FH[0])),
    "write": req(16, N[0], struct.pack("<QQIIQII", FH[0], 3, 5, 0, 0, 0, 0) + b"abcde"),
    "statfs": req(17, ROOT),
    "release": req(18, N[0], struct.pack("<QIIQ", FH[0], 0, 0, 0)),
    "fsync": req(20, N[0], struct.pack("<QII", FH[0], 1, 0)),
    "setxattr": req(21, N[0], struct.pack("<IIII", 3, 0, 0, 0) + name("user.k") + b"val"),
    "getxattr": req(22, N[0], struct.pack("<II", 64, 0) + name("user.k")),
    "listxattr": req(23, N[0], struct.pack("<II", 256, 0)),
    "removexattr": req(24, N[0], name("user.k")),
    "flush": req(25, N[0], struct.pack("<QIIQ", FH[0], 0, 0, 0)),
    "opendir": req(27, ROOT, struct.pack("<II", 0, 0)),
    "readdir": req(28, ROOT, read_in(FH[1], 0, 4096)),
    "readdirplus": req(44, ROOT, read_in(FH[1], 0, 8192)),
    "releasedir": req(29, ROOT, struct.pack("<QIIQ", FH[1], 0, 0, 0)),
    "fsyncdir": req(30, ROOT, struct.pack("<QII", FH[1], 0, 0)),
    "getlk": req(31, N[0], struct.pack("<QQQQIIII", FH[0], 9, 0, 10, 1, 1, 0, 0)),
    "setlk": req(32, N[0], struct.pack("<QQQQIIII", FH[0], 9, 0, 10, 1, 1, 0, 0)),
    "setlkw-flock": req(33, N[0], struct.pack("<QQQQIIII", FH[0], 9, 0, 0, 1, 1, 1, 0)),
    "access": req(34, N[0], struct.pack("<II", 4, 0)),
    "create": req(35, ROOT, struct.pack("<IIII", 0o102, 0o100644, 0o22, 0) + name("new")),
    "interrupt": req(36, 0, struct.pack("<Q", 5)),
    "fallocate": req(43, N[0], struct.pack("<QQQII", FH[0], 0, 8192, 0, 0)),
    "lseek": req(46, N[0], struct.pack("<QQII", FH[0], 0, 3, 0)),
    "copy-file-range": req(47, N[0], struct.pack("<QQQQQQQ", FH[0], 0, N[2], FH[2], 0, 10, 0)),
    "syncfs": req(50, ROOT, struct.pack("<Q", 0)),
    "tmpfile": req(51, ROOT, struct.pack("<IIII", 2, 0o100600, 0, 0) + name("tmp")),
    "destroy": req(38, 0),
}


def main():
    os.makedirs("fuzz_fs_request", exist_ok=True)
    for k, v in SEEDS.items():
        with open(os.path.join("fuzz_fs_request", k), "wb") as f:
            f.write(v)


if __name__ == "__main__":
    main()
