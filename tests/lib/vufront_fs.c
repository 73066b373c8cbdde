/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2025 The vhostgw authors
 */

/*
 * vufront-fs: the guest driver's side of a virtio-fs device, for tests of
 * the back-end's ring path. Built on vufront (memfd guest memory, split
 * rings); it speaks FUSE on the rings itself: no kernel, no mount.
 *
 * It connects to the back-end's socket, negotiates VERSION_1 |
 * PROTOCOL_FEATURES and the protocol features MQ | LOG_SHMFD | REPLY_ACK,
 * sets up the memory table and two rings (0: hiprio, 1: the request queue),
 * enables them, then runs one scenario:
 *
 *   basic      INIT, LOOKUP, OPEN, READ (compared), CREATE + WRITE +
 *              RELEASE of a new file (the caller checks it on the host),
 *              GETATTR, READDIR, FORGET on hiprio (used length 0), 64
 *              requests in flight at once (READs, and STATFSs that a helper
 *              thread serves, so replies come back out of order), matched
 *              by head id and unique.
 *   malformed  after INIT, one malformed chain at a time (bad addresses,
 *              loops, bad next, INDIRECT, writable before readable, a chain
 *              longer than the ring, huge lengths, a lying fuse_in_header,
 *              a short header, no reply buffer, an unknown opcode): each
 *              comes back used with length 0 or as an error reply, and a
 *              GETATTR of the root still works. Prints the number of
 *              chains/requests the gateway must count as malformed.
 *   suspend    requests complete; the caller suspends the device (SYNC
 *              running); new requests must not complete (used->idx polled
 *              for ~1 s); the caller resumes (SYNC posted); they complete.
 *              Twice.
 *   remap      SET_MEM_TABLE while the device runs and has requests in
 *              flight (a second region added, then removed; 3 rounds):
 *              replies stay correct, also into buffers in the new region.
 *              Then dirty logging: SET_LOG_BASE, LOG_ALL, the rings' log
 *              flag; the reply buffers and the used ring are logged dirty
 *              (SYNC logging: the caller checks the phase), a second
 *              SET_LOG_BASE under requests in flight switches logs, LOG_ALL
 *              off stops logging.
 *
 * The inflight scenarios also negotiate INFLIGHT_SHMFD (and fail if it is
 * not offered) and hand the back-end an inflight region before the rings
 * start:
 *   inflight   the back-end's region (GET_INFLIGHT_FD, then SET): two
 *              bursts of 64 requests, the region sampled while they are
 *              outstanding; afterwards nothing is in flight, used_idx ==
 *              used->idx, the counters of the heads increase in submission
 *              order; hiprio is tracked too.
 *   resubmit   the rings and region as a crashed back-end left them: INIT,
 *              LOOKUP, GETATTR taken and not returned, head order against
 *              counter order, the ring resumed at used->idx; no kick. They
 *              must complete (in counter order: INIT first) and the queue
 *              go on.
 *   resubmit-used  the same, and a request the crashed back-end returned
 *              but did not clear in the region: not taken again.
 *   resubmit-late  resubmit with SET_INFLIGHT_FD after the rings' addresses,
 *              just before their kicks (the other order the spec allows).
 *   inflight-bad  refused GET/SET_INFLIGHT_FD payloads (a non-zero ack) on
 *              a first connection, then a normal bring-up on a new one.
 *              Prints the number of connections made.
 *   inflight-lie  the back-end's region with a header that lies, written
 *              before SET_INFLIGHT_FD and again after it (the region is
 *              shared: the front-end can write it any time): desc_num
 *              65535, last_inflight_io 65535, used_idx off used->idx, on
 *              every queue. The back-end must not index the region by
 *              them; the queues serve, and the areas end set up afresh.
 *
 * Device state (negotiates DEVICE_STATE, fails if it is not offered):
 *   migrate    with --socket2: a FUSE session moves from the gateway on
 *              --socket to the one on --socket2: INIT, LOOKUP, OPEN and the
 *              first half of the read file on the source; rings stopped,
 *              SET_DEVICE_STATE_FD(SAVE), the pipe read to EOF, CHECK (SYNC
 *              saved); the same memory brought up on the destination with
 *              SET_DEVICE_STATE_FD(LOAD) and CHECK before the rings (SYNC
 *              loaded); then, without INIT, the second half through the
 *              source's handle, GETATTR and LOOKUP give the source's node id,
 *              RELEASE of its handle.
 *   migrate-ctl  the same without DEVICE_STATE: the caller moves the session
 *              with the control sockets' state-save (SYNC stopped) and
 *              state-load (SYNC connected, before the rings start).
 *
 *   churn      rounds of MKDIR, CREATE, WRITE, SETATTR, LINK, SYMLINK,
 *              RENAME, UNLINK, RMDIR and appends to a log, each checked,
 *              until "stop" on stdin or --rounds N (--pace-ms M between
 *              rounds): for a back-end killed under load (see
 *              vufront_fs_churn.c).
 *
 *   orphan     a file unlinked while open, read and written through its
 *              handle across two back-end crashes (SYNC orphan1, orphan2:
 *              the caller kills the gateway under a keeper there).
 *
 *   unlinked   --rounds N of a file of --file-size bytes written,
 *              unlinked while open, read through its handle, released and
 *              forgotten (SYNC unlinked at the end): the space must come
 *              back to a small share (vufront_fs_churn.c).
 *
 *   bench      a load generator for any virtio-fs back-end (vhostgw, the C
 *              and the Rust virtiofsd): --op lookup,create,unlink,randread,
 *              seqread,seqwrite (each OP or OP:DEPTH, in order, one FUSE
 *              session), --depth requests in flight, --seconds each, a read
 *              file of --file-size bytes, create makes at most --max-files
 *              files; one JSON line per operation (see
 *              vufront_fs_bench.c). Its bring-up asks for the protocol
 *              features above but requires none of them.
 *   shrink     the front-end truncates its guest memory file under the
 *              running rings (SYNC shrunk): the back-end must live on
 *              (vufront_fs_shrink.c).
 *   slowstop   a READ in flight (the gateway runs with the test-only
 *              VHOSTGW_TEST_FAULT=fs-slow-read-ms) when the rings stop
 *              (GET_VRING_BASE): its reply must be there when the stop
 *              answers; the rings start again and serve
 *              (vufront_fs_suspend.c).
 *   hostile    a guest that lies in FUSE requests (SYNC counts after INIT):
 *              bad names in every opcode that takes one, symlinks leading
 *              out of the share, node ids and handles never given, FORGETs
 *              of what is not held, the request ring flooded with requests
 *              that have no room for a reply (see vufront_fs_hostile.c).
 *
 *   budget     --lookup-files N lookups (lk-00000, ...), then an OPEN of
 *              each node got, beyond the device's share of the gateway's
 *              fds: each a success or ENFILE (SYNC held: the caller checks
 *              the other devices); then all released and forgotten (see
 *              vufront_fs_budget.c).
 *
 * Coordination with the caller: "SYNC <tag>" on stdout, then wait for a
 * line on stdin (any text; "GO" by convention). Every scenario ends with
 * "SYNC done" (the caller reads the gateway's counters while we are still
 * connected). One line per check ("check NAME: ok" / "check NAME: FAIL
 * ..."), "info ..." lines; the last line is "RESULT ok" (exit 0) or
 * "RESULT fail N of M checks" (exit 1). Once the back-end has closed the
 * connection every wait fails at once.
 *
 * File contents are deterministic: byte i of a file with seed s is
 * fs_pattern(s, i) in vufront_fs_ring.c (the Python side computes the same).
 */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "vufront_fs.h"

static void
fs_usage(FILE *out)
{
	fprintf(out,
		"usage: vufront-fs --socket PATH --scenario SCENARIO\n"
		"                  [--read-file NAME --read-size N --read-seed S]\n"
		"                  [--write-file NAME --write-size N --write-seed S]\n"
		"                  [--expect NAME]... [--timeout-ms T] [--verbose]\n"
		"                  [--rounds N] [--pace-ms M]\n"
		"                  [--op OP[:DEPTH],... --depth N --seconds S --file-size N\n"
		"                   --lookup-files N --max-files N --name-prefix P]\n"
		"SCENARIO: basic, malformed, suspend, remap, inflight, resubmit,\n"
		"resubmit-used, resubmit-late, inflight-bad, inflight-lie, shrink, migrate, migrate-ctl (with\n"
		"--socket2 PATH: the destination gateway's socket), churn, orphan, unlinked,\n"
		"bench, hostile, budget (see the source).\n"
		"Byte i of a file of seed S is the vufront-fs pattern (see the source).\n"
		"Prints one line per check, \"SYNC <tag>\" where it waits for a line on\n"
		"stdin, and \"RESULT ok\" (exit 0) or \"RESULT fail N\" (exit 1).\n");
}

/* One option of fs_parse() into o: 0, or -EINVAL (usage printed if it is
 * not one of ours). */
static int
fs_parse_opt(int c, struct fs_opts *o)
{
	switch (c) {
	case 's':
		o->socket = optarg;
		break;
	case '2':
		o->socket2 = optarg;
		break;
	case 'S':
		o->scenario = optarg;
		break;
	case 'r':
		o->read_file = optarg;
		break;
	case 'R':
		o->read_size = strtoull(optarg, NULL, 0);
		break;
	case 'x':
		o->read_seed = (unsigned int)strtoul(optarg, NULL, 0);
		break;
	case 'w':
		o->write_file = optarg;
		break;
	case 'W':
		o->write_size = strtoull(optarg, NULL, 0);
		break;
	case 'y':
		o->write_seed = (unsigned int)strtoul(optarg, NULL, 0);
		break;
	case 'e':
		if (o->n_expect == 16)
			return -EINVAL;
		o->expect[o->n_expect++] = optarg;
		break;
	case 't':
		o->timeout_ms = atoi(optarg);
		break;
	case 'n':
		o->rounds = (unsigned int)strtoul(optarg, NULL, 0);
		break;
	case 'p':
		o->pace_ms = (unsigned int)strtoul(optarg, NULL, 0);
		break;
	case 'o':
		o->ops = optarg;
		break;
	case 'd':
		o->depth = (unsigned int)strtoul(optarg, NULL, 0);
		break;
	case 'T':
		o->seconds = strtod(optarg, NULL);
		break;
	case 'f':
		o->file_size = strtoull(optarg, NULL, 0);
		break;
	case 'L':
		o->lookup_files = (unsigned int)strtoul(optarg, NULL, 0);
		break;
	case 'P':
		o->name_prefix = optarg;
		break;
	case 'M':
		o->max_files = (unsigned int)strtoul(optarg, NULL, 0);
		break;
	case 'v':
		o->verbose = true;
		break;
	case 'h':
		fs_usage(stdout);
		exit(0);
	default:
		fs_usage(stderr);
		return -EINVAL;
	}
	return 0;
}

static int
fs_parse(int argc, char **argv, struct fs_opts *o)
{
	static char prefix[64];
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "socket2", required_argument, NULL, '2' },
		{ "scenario", required_argument, NULL, 'S' },
		{ "read-file", required_argument, NULL, 'r' },
		{ "read-size", required_argument, NULL, 'R' },
		{ "read-seed", required_argument, NULL, 'x' },
		{ "write-file", required_argument, NULL, 'w' },
		{ "write-size", required_argument, NULL, 'W' },
		{ "write-seed", required_argument, NULL, 'y' },
		{ "expect", required_argument, NULL, 'e' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "rounds", required_argument, NULL, 'n' },
		{ "pace-ms", required_argument, NULL, 'p' },
		{ "op", required_argument, NULL, 'o' },
		{ "depth", required_argument, NULL, 'd' },
		{ "seconds", required_argument, NULL, 'T' },
		{ "file-size", required_argument, NULL, 'f' },
		{ "lookup-files", required_argument, NULL, 'L' },
		{ "name-prefix", required_argument, NULL, 'P' },
		{ "max-files", required_argument, NULL, 'M' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->read_file = "read.bin";
	o->read_size = 200000;
	o->read_seed = 1;
	o->write_file = "written.bin";
	o->write_size = 150000;
	o->write_seed = 2;
	o->timeout_ms = FS_TIMEOUT_MS;
	o->rounds = 1000000;
	o->ops = "lookup,create,unlink,randread,seqread,seqwrite";
	o->depth = 16;
	o->seconds = 5;
	o->file_size = 256u << 20;
	o->lookup_files = 256;
	o->max_files = 10000;
	snprintf(prefix, sizeof(prefix), "b%d-%ld", (int)getpid(), (long)time(NULL));
	o->name_prefix = prefix;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1)
		if (fs_parse_opt(c, o) < 0)
			return -EINVAL;
	if (optind != argc || o->socket == NULL || o->scenario == NULL ||
	    o->read_size < 2 * FS_INFLIGHT_LEN || o->write_size > FS_DATA || o->timeout_ms <= 0 ||
	    o->seconds <= 0 || o->lookup_files == 0 || o->file_size % 4096 != 0) {
		fs_usage(stderr);
		return -EINVAL;
	}
	return 0;
}

/* A scenario: how the front-end connects, and what it runs once the
 * device is up. */
struct fs_scenario {
	const char *name;
	void (*run)(struct fs_front *f);
	void (*before)(struct fs_front *f); /* before the bring-up */
	int (*prepare)(struct vufront *vu, void *arg);
	int (*inflight_sent)(struct vufront *vu, void *arg);
	bool inflight;
	bool inflight_late;
	bool resubmit_used;
	bool device_state;
	bool state_via_ctl;
	bool any_backend; /* no protocol feature required */
};

static const struct fs_scenario fs_scenarios[] = {
	{ .name = "basic", .run = scenario_basic },
	{ .name = "malformed", .run = scenario_malformed },
	{ .name = "suspend", .run = scenario_suspend },
	{ .name = "slowstop", .run = scenario_slowstop },
	{ .name = "remap", .run = scenario_remap },
	{ .name = "inflight",
	  .run = scenario_inflight,
	  .prepare = fs_inflight_fresh,
	  .inflight = true },
	{ .name = "resubmit",
	  .run = scenario_resubmit,
	  .prepare = fs_resubmit_prepare,
	  .inflight = true },
	{ .name = "resubmit-used",
	  .run = scenario_resubmit,
	  .prepare = fs_resubmit_prepare,
	  .inflight = true,
	  .resubmit_used = true },
	{ .name = "resubmit-late",
	  .run = scenario_resubmit,
	  .prepare = fs_resubmit_prepare,
	  .inflight = true,
	  .inflight_late = true },
	{ .name = "inflight-bad",
	  .run = scenario_inflight_bad,
	  .before = fs_inflight_bad,
	  .prepare = fs_inflight_fresh,
	  .inflight = true },
	{ .name = "inflight-lie",
	  .run = scenario_inflight_lie,
	  .prepare = fs_inflight_lie_prepare,
	  .inflight_sent = fs_inflight_lie_sent,
	  .inflight = true },
	{ .name = "migrate", .run = scenario_migrate, .device_state = true },
	{ .name = "migrate-ctl", .run = scenario_migrate, .state_via_ctl = true },
	{ .name = "churn", .run = scenario_churn },
	{ .name = "orphan", .run = scenario_orphan },
	{ .name = "unlinked", .run = scenario_unlinked },
	{ .name = "bench", .run = scenario_bench, .any_backend = true },
	{ .name = "hostile", .run = scenario_hostile },
	{ .name = "shrink", .run = scenario_shrink },
	{ .name = "budget", .run = scenario_budget },
};

static const struct fs_scenario *
fs_scenario_find(const char *name)
{
	for (unsigned int i = 0; i < sizeof(fs_scenarios) / sizeof(fs_scenarios[0]); i++)
		if (strcmp(name, fs_scenarios[i].name) == 0)
			return &fs_scenarios[i];
	return NULL;
}

/* The caller reads the gateway's counters while we are still connected;
 * then the verdict: the exit code. */
static int
fs_finish(struct fs_front *f)
{
	printf("info connections %u\n", f->connections);
	fs_sync("done");
	if (!vufront_connected(f->vu))
		fs_check(f, false, "still connected at the end", "%s", vufront_errmsg(f->vu));
	vufront_destroy(f->vu);
	if (f->extra != NULL && f->extra != MAP_FAILED)
		munmap(f->extra, FS_EXTRA_REGION);
	if (f->extra_fd >= 0)
		close(f->extra_fd);
	if (f->failed == 0 && f->checks > 0) {
		printf("info %u checks passed\n", f->checks);
		printf("RESULT ok\n");
		return 0;
	}
	printf("RESULT fail %u of %u checks\n", f->failed, f->checks);
	return 1;
}

int
main(int argc, char **argv)
{
	static struct fs_front f;
	const struct fs_scenario *sc;
	struct fs_opts o;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (fs_parse(argc, argv, &o) < 0)
		return 2;
	sc = fs_scenario_find(o.scenario);
	if (sc == NULL) {
		fprintf(stderr, "vufront-fs: unknown scenario %s\n", o.scenario);
		return 2;
	}
	f.o = &o;
	f.uid = getuid();
	f.gid = getgid();
	f.pid = (uint32_t)getpid();
	f.extra_fd = -1;
	f.inflight = sc->inflight;
	f.inflight_late = sc->inflight_late;
	f.resubmit_used = sc->resubmit_used;
	f.prepare = sc->prepare;
	f.inflight_sent = sc->inflight_sent;
	f.device_state = sc->device_state;
	f.state_via_ctl = sc->state_via_ctl;
	f.any_backend = sc->any_backend;
	if (sc->before != NULL)
		sc->before(&f);
	if ((f.device_state || f.state_via_ctl) && o.socket2 == NULL) {
		fprintf(stderr, "vufront-fs: %s needs --socket2\n", o.scenario);
		return 2;
	}
	if (fs_connect(&f) < 0) {
		printf("RESULT fail bring-up\n");
		return 1;
	}
	sc->run(&f);
	return fs_finish(&f);
}
