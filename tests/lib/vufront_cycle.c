/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2025 The vhostgw authors
 */

/*
 * vufront-cycle: connect / bring up / (exchange) / disconnect, N times.
 *
 * Each cycle connects (or accepts, with --listen), negotiates, sets the
 * memory table, sets up and enables every ring of Q queue pairs (the point
 * where rte_vhost declares the device ready), optionally exchanges a few
 * frames (--full), optionally stops the rings (--graceful), then closes
 * everything. Prints "cycles=N ok=N failed=M" on stdout; exits 0 only if
 * every cycle succeeded and no file descriptor leaked.
 */

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vufront.h"

#define CYCLE_FRAMES_PER_QP 4
#define CYCLE_FRAME_LEN 64
#define CYCLE_MAX_REPORTS 10

struct cycle_opts {
	const char *socket;
	unsigned long count;
	unsigned int queues;
	unsigned int ring_size;
	unsigned long mem_mb;
	int timeout_ms;
	bool full;
	bool echo;
	bool listen;
	bool graceful;
	bool mrg_rxbuf;
	bool verbose;
	bool pf_set;
	uint64_t protocol_features;
	bool features_set;
	uint64_t features;
};

static void
cycle_usage(FILE *f)
{
	fprintf(f,
		"usage: vufront-cycle --socket PATH [--count N] [--queues Q] [--full [--echo]]\n"
		"                     [--listen] [--graceful] [--ring-size N] [--timeout-ms T]\n"
		"                     [--mem-mb M] [--mrg-rxbuf] [--protocol-features MASK]\n"
		"                     [--features MASK] [--verbose]\n"
		"  --socket PATH   vhost-user socket of the back-end\n"
		"  --count N       cycles to run (default 1)\n"
		"  --queues Q      queue pairs per device (default 1)\n"
		"  --full          also send %d frames per queue pair and wait until the\n"
		"                  device has consumed them\n"
		"  --echo          with --full: the frames must come back on RX (a back-end\n"
		"                  looping the port to itself, e.g. testpmd --port-topology=loop)\n"
		"  --listen        listen on PATH and accept the back-end (its client mode)\n"
		"  --graceful      stop every ring (GET_VRING_BASE) before disconnecting\n"
		"  --ring-size N   ring entries (default 256)\n"
		"  --mem-mb M      guest memory per cycle (default: what the rings need,\n"
		"                  back-ends that mlock pay for every MiB)\n"
		"  --timeout-ms T  connect / reply / frame timeout (default 5000)\n"
		"  --mrg-rxbuf     negotiate VIRTIO_NET_F_MRG_RXBUF\n"
		"  --protocol-features MASK  protocol features wanted (default 0x%llx)\n"
		"  --features MASK virtio features wanted (default 0x%llx: VERSION_1 |\n"
		"                  PROTOCOL_FEATURES; --mrg-rxbuf and --queues add theirs)\n"
		"  --verbose       report every cycle on stderr\n"
		"Prints \"cycles=N ok=N failed=M\"; exit status 0 only if all succeeded.\n",
		CYCLE_FRAMES_PER_QP,
		(unsigned long long)(VUFRONT_BIT(VUFRONT_PF_MQ) |
				     VUFRONT_BIT(VUFRONT_PF_REPLY_ACK) |
				     VUFRONT_BIT(VUFRONT_PF_STATUS)),
		(unsigned long long)(VUFRONT_BIT(VUFRONT_F_VERSION_1) |
				     VUFRONT_BIT(VUFRONT_F_PROTOCOL_FEATURES)));
}

static int
cycle_parse_ulong(const char *opt, const char *s, unsigned long max, unsigned long *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || end == s || *end != '\0' || v > max) {
		fprintf(stderr, "vufront-cycle: bad value for --%s: %s\n", opt, s);
		return -EINVAL;
	}
	*out = (unsigned long)v;
	return 0;
}

static int
cycle_parse_args(int argc, char **argv, struct cycle_opts *o)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "count", required_argument, NULL, 'n' },
		{ "queues", required_argument, NULL, 'q' },
		{ "ring-size", required_argument, NULL, 'r' },
		{ "mem-mb", required_argument, NULL, 'M' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "protocol-features", required_argument, NULL, 'p' },
		{ "features", required_argument, NULL, 'F' },
		{ "full", no_argument, NULL, 'f' },
		{ "echo", no_argument, NULL, 'e' },
		{ "listen", no_argument, NULL, 'l' },
		{ "graceful", no_argument, NULL, 'g' },
		{ "mrg-rxbuf", no_argument, NULL, 'm' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long v;
	int c;

	memset(o, 0, sizeof(*o));
	o->count = 1;
	o->queues = 1;
	o->ring_size = 256;
	o->timeout_ms = 5000;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			o->socket = optarg;
			break;
		case 'n':
			if (cycle_parse_ulong("count", optarg, 100000000, &o->count) < 0)
				return -EINVAL;
			break;
		case 'q':
			if (cycle_parse_ulong("queues", optarg, 128, &v) < 0 || v == 0)
				return -EINVAL;
			o->queues = (unsigned int)v;
			break;
		case 'r':
			if (cycle_parse_ulong("ring-size", optarg, 32768, &v) < 0)
				return -EINVAL;
			o->ring_size = (unsigned int)v;
			break;
		case 'M':
			if (cycle_parse_ulong("mem-mb", optarg, 1ul << 20, &o->mem_mb) < 0 ||
			    o->mem_mb == 0)
				return -EINVAL;
			break;
		case 't':
			if (cycle_parse_ulong("timeout-ms", optarg, 3600000, &v) < 0)
				return -EINVAL;
			o->timeout_ms = (int)v;
			break;
		case 'p':
			if (cycle_parse_ulong("protocol-features", optarg, ULONG_MAX, &v) < 0)
				return -EINVAL;
			o->protocol_features = v;
			o->pf_set = true;
			break;
		case 'F':
			if (cycle_parse_ulong("features", optarg, ULONG_MAX, &v) < 0)
				return -EINVAL;
			o->features = v;
			o->features_set = true;
			break;
		case 'f':
			o->full = true;
			break;
		case 'e':
			o->echo = true;
			break;
		case 'l':
			o->listen = true;
			break;
		case 'g':
			o->graceful = true;
			break;
		case 'm':
			o->mrg_rxbuf = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			cycle_usage(stdout);
			exit(0);
		default:
			cycle_usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc || o->socket == NULL) {
		cycle_usage(stderr);
		return -EINVAL;
	}
	if (o->echo && !o->full) {
		fprintf(stderr, "vufront-cycle: --echo needs --full\n");
		return -EINVAL;
	}
	return 0;
}

static int
cycle_count_fds(void)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	d = opendir("/proc/self/fd");
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static double
cycle_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
cycle_frame(uint8_t *f, unsigned long cycle, unsigned int q, unsigned int seq)
{
	static const uint8_t dst[6] = { 0x02, 0, 0, 0, 0, 0x02 };
	static const uint8_t src[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	unsigned int i;

	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x88;
	f[13] = 0xb5;
	f[14] = (uint8_t)(cycle >> 24);
	f[15] = (uint8_t)(cycle >> 16);
	f[16] = (uint8_t)(cycle >> 8);
	f[17] = (uint8_t)cycle;
	f[18] = (uint8_t)q;
	f[19] = (uint8_t)seq;
	for (i = 20; i < CYCLE_FRAME_LEN; i++)
		f[i] = (uint8_t)(i ^ seq ^ cycle);
}

/* Reap echoed frames on queue pair @q and check them; returns how many. */
static int
cycle_rx_check(struct vufront *vu, unsigned int q, unsigned long cycle, char *err, size_t errlen)
{
	uint8_t rxbuf[CYCLE_FRAMES_PER_QP][2048];
	struct vufront_pkt pkts[CYCLE_FRAMES_PER_QP];
	uint8_t expect[CYCLE_FRAME_LEN];
	const uint8_t *p;
	unsigned int i;
	int n;

	for (i = 0; i < CYCLE_FRAMES_PER_QP; i++) {
		pkts[i].buf = rxbuf[i];
		pkts[i].size = sizeof(rxbuf[i]);
	}
	n = vufront_net_recv(vu, q, pkts, CYCLE_FRAMES_PER_QP);
	if (n < 0) {
		snprintf(err, errlen, "%s", vufront_errmsg(vu));
		return n;
	}
	for (i = 0; i < (unsigned int)n; i++) {
		p = pkts[i].buf;
		if (pkts[i].len == CYCLE_FRAME_LEN)
			cycle_frame(expect, cycle, p[18], p[19]);
		if (pkts[i].len != CYCLE_FRAME_LEN || memcmp(p, expect, CYCLE_FRAME_LEN) != 0) {
			snprintf(err, errlen, "queue %u: echoed frame differs (len %u)", q,
				 pkts[i].len);
			return -EBADMSG;
		}
	}
	return n;
}

/* Send a few frames per queue pair; wait until TX is consumed (and echoed). */
static int
cycle_exchange(struct vufront *vu, const struct cycle_opts *o, unsigned long cycle, char *err,
	       size_t errlen)
{
	uint8_t frames[CYCLE_FRAMES_PER_QP][CYCLE_FRAME_LEN];
	struct vufront_frame fr[CYCLE_FRAMES_PER_QP];
	unsigned int q, i, want, got = 0, inflight;
	double deadline;
	int ret;

	for (q = 0; q < o->queues; q++) {
		ret = vufront_net_post_rx(vu, q, o->ring_size);
		if (ret < 0)
			goto fail;
		for (i = 0; i < CYCLE_FRAMES_PER_QP; i++) {
			cycle_frame(frames[i], cycle, q, i);
			fr[i].data = frames[i];
			fr[i].len = CYCLE_FRAME_LEN;
		}
		ret = vufront_net_send(vu, q, fr, CYCLE_FRAMES_PER_QP);
		if (ret < 0)
			goto fail;
		if (ret != CYCLE_FRAMES_PER_QP) {
			snprintf(err, errlen, "queue %u: only %d frames fitted", q, ret);
			return -ENOSPC;
		}
	}

	want = o->echo ? CYCLE_FRAMES_PER_QP * o->queues : 0;
	deadline = cycle_now() + o->timeout_ms / 1000.0;
	for (;;) {
		inflight = 0;
		for (q = 0; q < o->queues; q++) {
			ret = vufront_net_tx_reap(vu, q);
			if (ret < 0)
				goto fail;
			inflight += vufront_net_tx_inflight(vu, q);
			while (got < want) {
				ret = cycle_rx_check(vu, q, cycle, err, errlen);
				if (ret <= 0)
					break;
				got += (unsigned int)ret;
			}
			if (ret < 0)
				return ret;
		}
		if (inflight == 0 && got >= want)
			return 0;
		if (cycle_now() > deadline) {
			snprintf(err, errlen,
				 "after %d ms: %u TX buffers still in flight, "
				 "%u of %u frames echoed",
				 o->timeout_ms, inflight, got, want);
			return -ETIMEDOUT;
		}
		/* Short waits: the device may not signal us at all. */
		if (inflight > 0)
			vufront_vq_wait(vu, 1, 1);
		else
			vufront_vq_wait(vu, 0, 1);
	}
fail:
	snprintf(err, errlen, "%s", vufront_errmsg(vu));
	return ret;
}

static int
cycle_once(struct vufront *vu, const struct cycle_opts *o, unsigned long cycle, char *err,
	   size_t errlen)
{
	struct vufront_net_conf conf;
	int ret;

	if (o->listen)
		ret = vufront_accept(vu, o->timeout_ms);
	else
		ret = vufront_connect(vu, o->socket, o->timeout_ms, VUFRONT_CONNECT_PROBE);
	if (ret < 0)
		goto fail;

	vufront_net_conf_init(&conf);
	conf.queue_pairs = o->queues;
	conf.dev.ring_size = o->ring_size;
	conf.mrg_rxbuf = o->mrg_rxbuf;
	conf.dev.mem_size = o->mem_mb != 0 ?
				    (size_t)o->mem_mb << 20 :
				    vufront_net_mem_size(o->queues, o->ring_size, conf.buf_size);
	if (o->pf_set)
		conf.dev.neg.protocol_features = o->protocol_features;
	if (o->features_set)
		conf.dev.neg.features = o->features;
	ret = vufront_net_start(vu, &conf);
	if (ret < 0)
		goto fail;
	if (o->full) {
		ret = cycle_exchange(vu, o, cycle, err, errlen);
		if (ret < 0)
			return ret;
	}
	if (o->graceful) {
		ret = vufront_dev_stop(vu);
		if (ret < 0)
			goto fail;
	}
	return 0;
fail:
	snprintf(err, errlen, "%s", vufront_errmsg(vu));
	return ret;
}

int
main(int argc, char **argv)
{
	unsigned long i, ok = 0, failed = 0;
	struct cycle_opts o;
	struct vufront *vu;
	int fds_before, fds_after, ret;
	double t0, dt;
	char err[320];

	if (cycle_parse_args(argc, argv, &o) < 0)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	fds_before = cycle_count_fds();

	vu = vufront_create();
	if (vu == NULL) {
		fprintf(stderr, "vufront-cycle: out of memory\n");
		return 1;
	}
	vufront_set_timeout(vu, o.timeout_ms);
	if (o.listen && vufront_listen(vu, o.socket) < 0) {
		fprintf(stderr, "vufront-cycle: %s\n", vufront_errmsg(vu));
		vufront_destroy(vu);
		return 1;
	}

	t0 = cycle_now();
	for (i = 0; i < o.count; i++) {
		err[0] = '\0';
		ret = cycle_once(vu, &o, i, err, sizeof(err));
		vufront_close(vu);
		if (ret == 0) {
			ok++;
			if (o.verbose)
				fprintf(stderr, "vufront-cycle: cycle %lu ok\n", i);
			continue;
		}
		failed++;
		if (o.verbose || failed <= CYCLE_MAX_REPORTS)
			fprintf(stderr, "vufront-cycle: cycle %lu failed: %s\n", i, err);
		else if (failed == CYCLE_MAX_REPORTS + 1)
			fprintf(stderr, "vufront-cycle: further failures not reported\n");
	}
	dt = cycle_now() - t0;
	vufront_destroy(vu);

	fds_after = cycle_count_fds();
	fprintf(stderr, "vufront-cycle: %lu cycles in %.3f s (%.1f cycles/s)\n", o.count, dt,
		dt > 0 ? (double)o.count / dt : 0.0);
	printf("cycles=%lu ok=%lu failed=%lu\n", o.count, ok, failed);
	if (fds_before != fds_after) {
		fprintf(stderr, "vufront-cycle: fd leak: %d open before, %d after\n", fds_before,
			fds_after);
		return 1;
	}
	return failed == 0 ? 0 : 1;
}
