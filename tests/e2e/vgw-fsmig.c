/* SPDX-License-Identifier: BSD-3-Clause */
/* vgw-fsmig: guest side of the e2e fs_migrate scenarios (guest-init.sh's
 * scenario_fsmig), built static by vgw_e2e.guest_program() and added to the
 * initramfs as /bin/vgw-fsmig.
 *
 *   vgw-fsmig LOG DIR ENTRIES INTERVAL_MS
 *
 * Creates DIR holding ENTRIES files, then, through descriptors held open
 * for its whole life (the FUSE session's handles must survive whatever
 * happens to the back-end in between):
 *   - appends one line "seq=N\n" to LOG per step (one write(2) through an
 *     O_APPEND descriptor),
 *   - reads LOG back whole through a second, read-only descriptor (pread
 *     from 0) and compares it with what it wrote: size and FNV-1a checksum,
 *   - iterates DIR through two O_DIRECTORY descriptors, a and b, one small
 *     getdents64 (512 bytes, a few entries) on each per step; at the end of
 *     a pass it checks that every entry was seen exactly once and rewinds
 *     (lseek 0). A pass takes L steps; b starts L + L / 2 steps after a,
 *     so their passes end at different steps and, whenever a migration
 *     switches over, at least one of them is in the middle of a pass.
 * One console line per step and per pass (host-timestamped by the harness):
 *   VGW-FSMIG seq=N ok=0|1 bytes=B sum=HEX want=HEX err=WHAT up=U
 *   VGW-FSMIG-DIR fd=a|b pass=P ok=0|1 entries=K steps=S err=WHAT up=U
 * A failing step prints ok=0 with what failed and goes on. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_ENTRIES 4096
#define DIRBUF 512

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static double
uptime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
say(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(1, line, n) < 0)
		_exit(3);
}

struct iter {
	char name;
	int fd;
	int entries;
	int pass, steps, steps_last, seen_n, err;
	unsigned char seen[MAX_ENTRIES];
};

/* One getdents64 on it; at the end of a pass, report and rewind. Returns
 * 1 when a pass ended. */
static int
iter_step(struct iter *it)
{
	char dbuf[DIRBUF];
	long dn;
	int missing = 0;

	it->steps++;
	dn = syscall(SYS_getdents64, it->fd, dbuf, sizeof(dbuf));
	if (dn < 0) {
		it->err = errno;
		dn = 0;
	}
	for (long off = 0; off < dn;) {
		struct linux_dirent64 *de = (void *)(dbuf + off);
		int idx;

		off += de->d_reclen;
		if (sscanf(de->d_name, "entry-%d", &idx) == 1 && idx >= 0 && idx < it->entries) {
			if (it->seen[idx]++ != 0 && it->err == 0)
				it->err = -1; /* twice */
			it->seen_n++;
		} else if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
			   it->err == 0) {
			it->err = -2; /* unknown */
		}
	}
	if (dn != 0)
		return 0;
	for (int i = 0; i < it->entries; i++)
		missing += it->seen[i] == 0;
	say("VGW-FSMIG-DIR fd=%c pass=%d ok=%d entries=%d steps=%d err=%s up=%.2f", it->name,
	    it->pass, !it->err && !missing, it->seen_n, it->steps,
	    it->err > 0	  ? strerror(it->err) :
	    it->err == -1 ? "twice" :
	    it->err == -2 ? "unknown-entry" :
	    missing	  ? "missing" :
			    "-",
	    uptime());
	memset(it->seen, 0, sizeof(it->seen));
	it->steps_last = it->steps;
	it->pass++;
	it->steps = it->seen_n = it->err = 0;
	if (lseek(it->fd, 0, SEEK_SET) < 0)
		it->err = errno;
	return 1;
}

static uint32_t
fnv(uint32_t h, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

int
main(int argc, char **argv)
{
	static struct iter a = { .name = 'a', .pass = 1 }, b = { .name = 'b', .pass = 1 };
	const char *log, *dir;
	int entries, interval_ms, wfd, rfd;
	uint32_t want = 2166136261u;
	size_t want_len = 0, cap = 1 << 16;
	unsigned long b_start = 0;
	char *buf;

	if (argc != 5) {
		fprintf(stderr, "usage: vgw-fsmig LOG DIR ENTRIES INTERVAL_MS\n");
		return 2;
	}
	log = argv[1];
	dir = argv[2];
	entries = atoi(argv[3]);
	interval_ms = atoi(argv[4]);
	if (entries <= 0 || entries > MAX_ENTRIES)
		entries = 64;
	buf = malloc(cap);
	if (buf == NULL)
		return 3;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		say("VGW-ERROR vgw-fsmig: mkdir %s: %s", dir, strerror(errno));
		return 1;
	}
	for (int i = 0; i < entries; i++) {
		char p[4096];
		int fd;

		snprintf(p, sizeof(p), "%s/entry-%05d", dir, i);
		fd = open(p, O_WRONLY | O_CREAT, 0644);
		if (fd < 0) {
			say("VGW-ERROR vgw-fsmig: create %s: %s", p, strerror(errno));
			return 1;
		}
		close(fd);
	}
	wfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC, 0644);
	rfd = wfd < 0 ? -1 : open(log, O_RDONLY);
	a.fd = open(dir, O_RDONLY | O_DIRECTORY);
	b.fd = open(dir, O_RDONLY | O_DIRECTORY);
	a.entries = b.entries = entries;
	if (wfd < 0 || rfd < 0 || a.fd < 0 || b.fd < 0) {
		say("VGW-ERROR vgw-fsmig: open %s / %s: %s", log, dir, strerror(errno));
		return 1;
	}
	say("VGW-FSMIG-START entries=%d up=%.2f", entries, uptime());
	for (unsigned long seq = 1;; seq++) {
		char line[64];
		const char *err = "-";
		uint32_t got = 0;
		ssize_t n;
		int len, ok = 0;

		/* one append */
		len = snprintf(line, sizeof(line), "seq=%lu\n", seq);
		n = write(wfd, line, len);
		if (n == len) {
			want = fnv(want, line, len);
			want_len += len;
		} else {
			err = n < 0 ? strerror(errno) : "short write";
		}
		/* the whole file back, through the other descriptor */
		if (n == len) {
			if (want_len + 1 > cap) {
				cap *= 2;
				buf = realloc(buf, cap);
				if (buf == NULL)
					return 3;
			}
			n = pread(rfd, buf, cap, 0);
			if (n < 0) {
				err = strerror(errno);
			} else {
				got = fnv(2166136261u, buf, n);
				if ((size_t)n != want_len)
					err = "size differs";
				else if (got != want)
					err = "checksum differs";
				else
					ok = 1;
			}
		}
		say("VGW-FSMIG seq=%lu ok=%d bytes=%zd sum=%08x want=%08x err=%s up=%.2f", seq, ok,
		    n, got, want, err, uptime());
		/* one step of each directory pass */
		if (iter_step(&a) && a.pass == 2)
			b_start = seq + a.steps_last / 2 + 1;
		if (b_start != 0 && seq >= b_start)
			iter_step(&b);
		usleep(interval_ms * 1000);
	}
	return 0;
}
