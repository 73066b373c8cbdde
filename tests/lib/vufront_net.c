/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2025 The vhostgw authors
 */

/*
 * vufront-net: a virtio-net front-end that sends and/or receives frames.
 *
 * Frame i (i = 0, 1, ...) of --size S bytes is deterministic:
 *   bytes 0-5 dst MAC, 6-11 src MAC, 12-13 ethertype 0x88b5,
 *   14-17 i (big-endian), 18.. payload: successive splitmix64 outputs
 *   (little-endian) of the state seed * 0x9e3779b97f4a7c15 + i.
 * With --size MIN-MAX its length is MIN + r % (MAX - MIN + 1), r the first
 * splitmix64 output of the state (seed ^ 0x6a09e667f3bcc909) *
 * 0x9e3779b97f4a7c15 + i: a receiver with the same options knows it.
 * Dumps hold one frame per line: lowercase hex, no separators; with
 * --dump-hdr the virtio-net header first (its length in use: 12 with
 * VERSION_1 or MRG_RXBUF, else 10; as sent, or as the back-end wrote it,
 * num_buffers included), one space, then the frame.
 *
 * --offload MODE (csum, tso4, tso6): frame i is a TCP segment instead,
 * same length, bytes past the headers those of the test frame:
 *   0-13 dst MAC, src MAC, ethertype 0x0800 (csum, tso4) or 0x86dd (tso6);
 *   IPv4, 20 bytes: version 4, IHL 5, TOS 0, total length = length - 14,
 *   id = i & 0xffff, DF, TTL 64, protocol 6, checksum, 10.0.0.1 > 10.0.0.2;
 *   IPv6, 40 bytes: version 6, class 0, flow 0, payload length = length -
 *   54, next header 6, hop limit 64, fd00::1 > fd00::2;
 *   TCP, 20 bytes: 40000 > 5001, seq 1000 + the payload bytes of frames
 *   0..i-1 (one stream), ack 1, data offset 5, ACK|PSH, window 65535,
 *   urgent 0, checksum field the pseudo-header sum (folded, not
 *   complemented: CHECKSUM_PARTIAL as Linux leaves it);
 *   payload: 1 byte or more.
 * Lengths: 55..65549 (IPv4), 75..65589 (IPv6). Its virtio-net header:
 * NEEDS_CSUM, csum_start 14 + IP header, csum_offset 16; with tso4/tso6 and
 * a payload over --mss, also gso_type TCPV4/TCPV6, gso_size --mss, hdr_len
 * 14 + IP header + 20 (else GSO_NONE, 0, 0). Features CSUM (and HOST_TSO4 /
 * HOST_TSO6) must be in --features and negotiated: else exit 2. The header
 * and frame go on a chain of descriptors of --buf-size bytes each (the last
 * one shorter), as many as they fill, in a transmit area of the tool's own
 * (ring size * --buf-size per queue pair).
 * --offload-bad N: frame i with i % N == N - 1 is spoiled, kinds in turn
 * (k = i / N % 10): 0 an unknown header flag (DATA_VALID, the device's),
 * 1 a checksum position past the frame, 2 GSO without NEEDS_CSUM, 3 GSO
 * with gso_size 0, 4 gso_type UDP, 5 the ECN bit without HOST_ECN,
 * 6 gso_size 8, 7 IP version 5 (GSO), 8 TCP data offset 2 (GSO),
 * 9 ethertype ARP (GSO); GSO kinds set gso_type, gso_size --mss and hdr_len
 * whatever the payload. Each is a frame a device must refuse (or, for 6-9,
 * cannot segment).
 *
 * --recv-bytes N: receive until frames of N bytes or more in all (Ethernet
 * header on, virtio-net header off) have arrived, however many: a TSO frame
 * may arrive as segments. A received frame is up to 65535 + 54 bytes: give
 * --buf-size 70000 without MRG_RXBUF (a frame fills one buffer); with it a
 * frame spans num_buffers buffers.
 *
 * --hostile N (a sender, one queue pair): N hand-built bad chains on the
 * transmit ring, each published just ahead of a good frame (one ahead of
 * every good frame when N equals --send, else spread evenly), so that each
 * is taken while the receiver is still there for the frame behind it. Kinds
 * in turn: next index out of the table, a two-descriptor loop, an address
 * outside guest memory, a device-writable descriptor, an indirect table of
 * 24 bytes, an indirect descriptor with NEXT, 8 bytes after the header.
 * Each must come back used with length 0. Once every frame is back, the
 * avail index jumps by the ring size + 1 (no used entry can answer that)
 * and, after a pause for the device to take it in, one more bad chain (a
 * next index out of the table) shows that the ring still works after it.
 * VIRTIO_RING_F_INDIRECT_DESC is asked for (unless --features says
 * otherwise), so the indirect chains are refused for what they are.
 *
 * --log-check (one queue pair): dirty logging as QEMU starts it for a
 * migration (SET_LOG_BASE, SET_FEATURES with LOG_ALL, the rings' log flag)
 * before "ready", so every frame moves while the device logs. Each used
 * receive buffer's pages (the bytes the device says it wrote), and the used
 * ring entries of every ring that carried frames, must be dirty in the log
 * once the rings are stopped (GET_VRING_BASE, as QEMU stops a device before
 * its last log sync): "log_pages=N log_missing=M log_stray=S" (pages that
 * must be dirty, those of them that are not, dirty pages outside them);
 * exit 1 if M > 0.
 *
 * --rarp MAC: negotiate the RARP protocol feature (exit 2 if the back-end
 * does not offer it) and, once "ready" is printed, send SEND_RARP with MAC
 * (as QEMU does after a live migration for a guest without
 * GUEST_ANNOUNCE): the back-end then sends a RARP from the guest's MAC as
 * if the guest had. "rarp" is printed once the message went (and, with
 * REPLY_ACK, was acked).
 *
 * Output on stdout: "ready" once the device is up (RX buffers posted) (with
 * --hostile, then "features=0x..": those negotiated), then "sent=N
 * received=M" (plus " bytes=B" with --recv-bytes, then " bad=K" with
 * --verify), and with --hostile
 * "hostile=N returned=M" (bad chains published, returned with length 0) and
 * "avail_jumps=J". Exit status 0 only if every frame was sent and consumed,
 * --recv frames (--recv-bytes bytes) arrived, none was bad, and every bad
 * chain came back with length 0; 2 for bad options or an offload feature
 * not negotiated.
 */

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_net.h>

#include "vufront.h"

#define NET_MIN_SIZE 18u
#define NET_MAX_SIZE 65535u
#define NET_MAX_BURST 256u
#define NET_HDR_MAX 12u		     /* virtio-net header, the longest */
#define NET_MAX_FRAME (65535u + 54u) /* IPv6 payload length 65535 */
#define NET_RX_BUF (68u * 1024)	     /* holds NET_MAX_FRAME */

/* --offload */
enum {
	OFF_NONE,
	OFF_CSUM, /* IPv4, NEEDS_CSUM */
	OFF_TSO4, /* IPv4, NEEDS_CSUM, GSO TCPV4 */
	OFF_TSO6, /* IPv6, NEEDS_CSUM, GSO TCPV6 */
};

static const char *const net_offload_names[] = {
	[OFF_CSUM] = "csum",
	[OFF_TSO4] = "tso4",
	[OFF_TSO6] = "tso6",
};

#define NET_TCP_SPORT 40000u
#define NET_TCP_DPORT 5001u
#define NET_TCP_SEQ0 1000u
#define NET_TCP_HDR 20u

/* Bad chains of --hostile, in turn. */
enum {
	H_NEXT_OUT, /* next index out of the descriptor table */
	H_LOOP,	    /* a -> b -> a */
	H_OUTSIDE,  /* an address outside every memory region */
	H_WRITABLE, /* a device-writable descriptor on a transmit chain */
	H_IND_LEN,  /* an indirect table of 24 bytes */
	H_IND_NEXT, /* an indirect descriptor with NEXT */
	H_SHORT,    /* 8 bytes after the net header */
	H_KINDS,
};

static const struct {
	const char *name;
	unsigned int ndesc;
} net_hostile_kinds[H_KINDS] = {
	[H_NEXT_OUT] = { "next index out of the table", 1 },
	[H_LOOP] = { "two-descriptor loop", 2 },
	[H_OUTSIDE] = { "address outside guest memory", 1 },
	[H_WRITABLE] = { "device-writable descriptor", 2 },
	[H_IND_LEN] = { "indirect table of 24 bytes", 1 },
	[H_IND_NEXT] = { "indirect descriptor with NEXT", 2 },
	[H_SHORT] = { "8 bytes after the header", 1 },
};

#define H_FRAME_LEN 60u	 /* the bad chains' frame, after the header */
#define H_TABLE_OFF 256u /* their indirect table, in the scratch area */
#define H_SINK_OFF 512u	 /* the device-writable buffer */
#define H_SCRATCH 1024u
#define H_JUMP_PAUSE_MS 200u /* for the device to take in the jump */

struct net_opts {
	const char *socket;
	bool listen;
	unsigned int queues;
	unsigned long send;
	unsigned int size; /* the largest frame */
	unsigned int size_min;
	unsigned long hostile;
	unsigned long recv;
	uint64_t recv_bytes;
	int timeout_ms;
	const char *dump;
	const char *dump_sent;
	bool dump_hdr;
	bool verify;
	unsigned int offload;	  /* OFF_* */
	unsigned int offload_bad; /* --offload-bad N, 0: none */
	unsigned int mss;
	bool graceful;
	bool mrg_rxbuf;
	unsigned int ring_size;
	unsigned int buf_size;
	unsigned long mem_mb;
	unsigned int burst;
	uint64_t rate;
	uint64_t seed;
	uint8_t dst[6];
	uint8_t src[6];
	bool pf_set;
	uint64_t protocol_features;
	bool features_set;
	uint64_t features;
	bool log_check;
	bool rarp;
	uint8_t rarp_mac[6];
	bool shrink;
	bool bad_remap;
	unsigned int idle_ms;
};

static void
net_usage(FILE *f)
{
	fprintf(f,
		"usage: vufront-net --socket PATH [--listen] [--queues Q]\n"
		"                   [--send N [--size S] [--dst MAC] [--src MAC] [--seed X]\n"
		"                    [--rate PPS] [--offload MODE [--mss M]]]\n"
		"                   [--recv N | --recv-bytes N] [--timeout-ms T] [--dump FILE]\n"
		"                   [--dump-sent FILE] [--dump-hdr]\n"
		"                   [--verify] [--graceful] [--ring-size N] [--buf-size B]\n"
		"                   [--burst B] [--mem-mb M] [--mrg-rxbuf]\n"
		"                   [--features MASK] [--protocol-features MASK] [--hostile N]\n"
		"                   [--log-check] [--rarp MAC] [--shrink] [--bad-remap]\n"
		"                   [--idle-ms T]\n"
		"  --send N        send N frames (round robin over the queue pairs)\n"
		"  --size S        frame length in bytes, %u..%u (default 64); with --offload\n"
		"                  55..65549 (csum, tso4) or 75..65589 (tso6);\n"
		"                  MIN-MAX: each frame's length drawn from the range\n"
		"  --dst/--src MAC addresses (default 02:00:00:00:00:02 / 02:00:00:00:00:01)\n"
		"  --seed X        payload seed (default 1)\n"
		"  --rate PPS      send at most PPS frames per second (default: no limit;\n"
		"                  a forwarding back-end drops what the receiver's ring\n"
		"                  cannot hold, so pace senders in tests that count frames)\n"
		"  --offload MODE  send TCP segments for the back-end to finish: csum\n"
		"                  (IPv4, NEEDS_CSUM), tso4 / tso6 (IPv4 / IPv6, NEEDS_CSUM\n"
		"                  and GSO when the payload exceeds --mss); --features must\n"
		"                  hold CSUM 0x1 (tso4: and HOST_TSO4 0x800, tso6: HOST_TSO6\n"
		"                  0x1000); exit 2 if the back-end does not take them\n"
		"  --mss M         gso_size of tso4/tso6 (default 1448)\n"
		"  --offload-bad N every Nth --offload frame with a header or headers a\n"
		"                  device must refuse (kinds in turn: see the source)\n"
		"  --recv N        receive N frames\n"
		"  --shrink        then truncate the guest memory file to 0 bytes under the\n"
		"                  back-end's mapping (a hostile front-end), print \"shrunk\"\n"
		"                  and stay connected for --timeout-ms without touching it\n"
		"  --bad-remap     once every frame is posted and nothing moved for 1 s\n"
		"                  (the back-end holds some: its peer has no room), send\n"
		"                  SET_MEM_TABLE with a pipe for the memory's fd (rte_vhost\n"
		"                  unmaps the old table, fails to map the new and closes\n"
		"                  the connection), print \"bad-remap inflight=N\", exit 0\n"
		"  --idle-ms T     at the end, stay connected T ms without touching the\n"
		"                  rings (a guest that posts no receive buffer: --send 0)\n"
		"  --recv-bytes N  receive until N bytes of frames arrived (headers from\n"
		"                  Ethernet on, however many frames: TSO arrives segmented)\n"
		"  --timeout-ms T  give up after T ms without progress (default 5000)\n"
		"  --dump FILE     write received frames as hex lines\n"
		"  --dump-sent FILE  write sent frames as hex lines\n"
		"  --dump-hdr      start each dump line with the virtio-net header's hex\n"
		"                  (10 or 12 bytes, as sent / as received) and a space\n"
		"  --verify        check each received frame against the generator\n"
		"                  (same --size/--seed/--dst/--src as the sender; not with\n"
		"                  --offload)\n"
		"  --graceful      stop the rings (GET_VRING_BASE) before disconnecting\n"
		"  --listen        listen on PATH and accept the back-end (its client mode)\n"
		"  --buf-size B    bytes per ring buffer, net header included (default 2048);\n"
		"                  an offloaded frame takes as many as it fills, a received\n"
		"                  one (without --mrg-rxbuf) must fit one; a receiver may\n"
		"                  post buffers smaller than the header (a hostile guest)\n"
		"  --mem-mb M      guest memory (default: what the rings need)\n"
		"  --features MASK virtio features wanted (default 0x140000000: VERSION_1 |\n"
		"                  PROTOCOL_FEATURES; --mrg-rxbuf and --queues add theirs)\n"
		"  --protocol-features MASK  protocol features wanted (default 0x10009:\n"
		"                  MQ | REPLY_ACK | STATUS)\n"
		"  --hostile N     N bad chains among the frames sent (N <= --send, one\n"
		"                  queue pair), each ahead of a good frame; each must come\n"
		"                  back with length 0; then an avail index jump and one\n"
		"                  more bad chain; adds INDIRECT_DESC to the features\n"
		"  --log-check     dirty logging on from the start (adds LOG_SHMFD to the\n"
		"                  protocol features); every buffer and used entry the\n"
		"                  device wrote must be logged (one queue pair)\n"
		"  --rarp MAC      once ready, SEND_RARP with MAC (adds RARP to the\n"
		"                  protocol features)\n",
		NET_MIN_SIZE, NET_MAX_SIZE);
}

static int
net_parse_u64(const char *opt, const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || end == s || *end != '\0' || v > max) {
		fprintf(stderr, "vufront-net: bad value for --%s: %s\n", opt, s);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int
net_parse_mac(const char *opt, const char *s, uint8_t *mac)
{
	unsigned int b[6];
	char tail;
	int i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) !=
	    6) {
		fprintf(stderr, "vufront-net: bad MAC for --%s: %s\n", opt, s);
		return -EINVAL;
	}
	for (i = 0; i < 6; i++) {
		if (b[i] > 0xff) {
			fprintf(stderr, "vufront-net: bad MAC for --%s: %s\n", opt, s);
			return -EINVAL;
		}
		mac[i] = (uint8_t)b[i];
	}
	return 0;
}

/* --offload: the IP header's length. */
static unsigned int
net_l3_len(const struct net_opts *o)
{
	return o->offload == OFF_TSO6 ? 40u : 20u;
}

static int
net_parse_args(int argc, char **argv, struct net_opts *o)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "listen", no_argument, NULL, 'l' },
		{ "queues", required_argument, NULL, 'q' },
		{ "send", required_argument, NULL, 'S' },
		{ "size", required_argument, NULL, 'z' },
		{ "dst", required_argument, NULL, 'd' },
		{ "src", required_argument, NULL, 'a' },
		{ "seed", required_argument, NULL, 'x' },
		{ "rate", required_argument, NULL, 'P' },
		{ "recv", required_argument, NULL, 'R' },
		{ "recv-bytes", required_argument, NULL, 'y' },
		{ "offload", required_argument, NULL, 'o' },
		{ "mss", required_argument, NULL, 'u' },
		{ "offload-bad", required_argument, NULL, 'X' },
		{ "dump-hdr", no_argument, NULL, 'e' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "dump", required_argument, NULL, 'D' },
		{ "dump-sent", required_argument, NULL, 'E' },
		{ "verify", no_argument, NULL, 'V' },
		{ "graceful", no_argument, NULL, 'g' },
		{ "mrg-rxbuf", no_argument, NULL, 'm' },
		{ "ring-size", required_argument, NULL, 'r' },
		{ "buf-size", required_argument, NULL, 'b' },
		{ "burst", required_argument, NULL, 'B' },
		{ "mem-mb", required_argument, NULL, 'M' },
		{ "protocol-features", required_argument, NULL, 'p' },
		{ "features", required_argument, NULL, 'F' },
		{ "hostile", required_argument, NULL, 'H' },
		{ "log-check", no_argument, NULL, 'L' },
		{ "rarp", required_argument, NULL, 'A' },
		{ "shrink", no_argument, NULL, 'K' },
		{ "bad-remap", no_argument, NULL, 'W' },
		{ "idle-ms", required_argument, NULL, 'I' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const uint8_t dst[6] = { 0x02, 0, 0, 0, 0, 0x02 };
	static const uint8_t src[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	unsigned int min, max;
	uint64_t v, lo;
	char *dash;
	int c;

	memset(o, 0, sizeof(*o));
	o->queues = 1;
	o->size = 64;
	o->timeout_ms = 5000;
	o->ring_size = 256;
	o->buf_size = 2048;
	o->burst = 32;
	o->seed = 1;
	o->mss = 1448;
	memcpy(o->dst, dst, 6);
	memcpy(o->src, src, 6);
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			o->socket = optarg;
			break;
		case 'l':
			o->listen = true;
			break;
		case 'q':
			if (net_parse_u64("queues", optarg, 128, &v) < 0 || v == 0)
				return -EINVAL;
			o->queues = (unsigned int)v;
			break;
		case 'S':
			if (net_parse_u64("send", optarg, ULONG_MAX, &v) < 0)
				return -EINVAL;
			o->send = (unsigned long)v;
			break;
		case 'z':
			/* S, or MIN-MAX */
			dash = strchr(optarg, '-');
			if (dash != NULL)
				*dash = '\0';
			/* the upper bound depends on --offload: checked below */
			if (net_parse_u64("size", optarg, NET_MAX_FRAME, &lo) < 0 ||
			    (dash != NULL &&
			     net_parse_u64("size", dash + 1, NET_MAX_FRAME, &v) < 0))
				return -EINVAL;
			if (dash == NULL)
				v = lo;
			if (lo < NET_MIN_SIZE || v < lo) {
				fprintf(stderr, "vufront-net: --size must be %u..%u or MIN-MAX\n",
					NET_MIN_SIZE, NET_MAX_SIZE);
				return -EINVAL;
			}
			o->size_min = (unsigned int)lo;
			o->size = (unsigned int)v;
			break;
		case 'd':
			if (net_parse_mac("dst", optarg, o->dst) < 0)
				return -EINVAL;
			break;
		case 'a':
			if (net_parse_mac("src", optarg, o->src) < 0)
				return -EINVAL;
			break;
		case 'x':
			if (net_parse_u64("seed", optarg, UINT64_MAX, &o->seed) < 0)
				return -EINVAL;
			break;
		case 'P':
			if (net_parse_u64("rate", optarg, UINT64_MAX, &o->rate) < 0)
				return -EINVAL;
			break;
		case 'R':
			if (net_parse_u64("recv", optarg, ULONG_MAX, &v) < 0)
				return -EINVAL;
			o->recv = (unsigned long)v;
			break;
		case 'y':
			if (net_parse_u64("recv-bytes", optarg, UINT64_MAX, &o->recv_bytes) < 0)
				return -EINVAL;
			break;
		case 'o':
			for (v = OFF_CSUM; v <= OFF_TSO6; v++)
				if (strcmp(optarg, net_offload_names[v]) == 0)
					break;
			if (v > OFF_TSO6) {
				fprintf(stderr,
					"vufront-net: --offload must be csum, tso4 or tso6: %s\n",
					optarg);
				return -EINVAL;
			}
			o->offload = (unsigned int)v;
			break;
		case 'u':
			if (net_parse_u64("mss", optarg, 65535, &v) < 0)
				return -EINVAL;
			if (v == 0) {
				fprintf(stderr, "vufront-net: --mss must be 1..65535\n");
				return -EINVAL;
			}
			o->mss = (unsigned int)v;
			break;
		case 'e':
			o->dump_hdr = true;
			break;
		case 'X':
			if (net_parse_u64("offload-bad", optarg, 1000000, &v) < 0)
				return -EINVAL;
			o->offload_bad = (unsigned int)v;
			break;
		case 't':
			if (net_parse_u64("timeout-ms", optarg, 3600000, &v) < 0)
				return -EINVAL;
			o->timeout_ms = (int)v;
			break;
		case 'D':
			o->dump = optarg;
			break;
		case 'E':
			o->dump_sent = optarg;
			break;
		case 'V':
			o->verify = true;
			break;
		case 'g':
			o->graceful = true;
			break;
		case 'm':
			o->mrg_rxbuf = true;
			break;
		case 'r':
			if (net_parse_u64("ring-size", optarg, 32768, &v) < 0)
				return -EINVAL;
			o->ring_size = (unsigned int)v;
			break;
		case 'b':
			if (net_parse_u64("buf-size", optarg, 1u << 20, &v) < 0)
				return -EINVAL;
			o->buf_size = (unsigned int)v;
			break;
		case 'B':
			if (net_parse_u64("burst", optarg, NET_MAX_BURST, &v) < 0 || v == 0)
				return -EINVAL;
			o->burst = (unsigned int)v;
			break;
		case 'M':
			if (net_parse_u64("mem-mb", optarg, 1u << 20, &v) < 0 || v == 0)
				return -EINVAL;
			o->mem_mb = (unsigned long)v;
			break;
		case 'F':
			if (net_parse_u64("features", optarg, UINT64_MAX, &o->features) < 0)
				return -EINVAL;
			o->features_set = true;
			break;
		case 'p':
			if (net_parse_u64("protocol-features", optarg, UINT64_MAX,
					  &o->protocol_features) < 0)
				return -EINVAL;
			o->pf_set = true;
			break;
		case 'H':
			if (net_parse_u64("hostile", optarg, ULONG_MAX, &v) < 0)
				return -EINVAL;
			o->hostile = (unsigned long)v;
			break;
		case 'L':
			o->log_check = true;
			break;
		case 'A':
			if (net_parse_mac("rarp", optarg, o->rarp_mac) < 0)
				return -EINVAL;
			o->rarp = true;
			break;
		case 'K':
			o->shrink = true;
			break;
		case 'W':
			o->bad_remap = true;
			break;
		case 'I':
			if (net_parse_u64("idle-ms", optarg, 3600000, &v) < 0)
				return -EINVAL;
			o->idle_ms = (unsigned int)v;
			break;
		case 'h':
			net_usage(stdout);
			exit(0);
		default:
			net_usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc || o->socket == NULL) {
		net_usage(stderr);
		return -EINVAL;
	}
	if (o->size_min == 0)
		o->size_min = o->size;
	if (o->offload == OFF_NONE && o->size > NET_MAX_SIZE) {
		fprintf(stderr, "vufront-net: --size must be %u..%u or MIN-MAX\n", NET_MIN_SIZE,
			NET_MAX_SIZE);
		return -EINVAL;
	}
	if (o->offload != OFF_NONE) {
		/* headers and a byte of payload; the IP length field is 16 bits */
		min = 14 + net_l3_len(o) + NET_TCP_HDR + 1;
		max = 65535 + 14 + (o->offload == OFF_TSO6 ? 40 : 0);
		if (o->size_min < min || o->size > max) {
			fprintf(stderr,
				"vufront-net: --offload %s: --size must be %u..%u or MIN-MAX\n",
				net_offload_names[o->offload], min, max);
			return -EINVAL;
		}
		if (o->verify) {
			fprintf(stderr, "vufront-net: --verify does not go with --offload (the "
					"receiver may get segments)\n");
			return -EINVAL;
		}
		if (o->hostile != 0) {
			fprintf(stderr, "vufront-net: --hostile does not go with --offload\n");
			return -EINVAL;
		}
	}
	if (o->recv != 0 && o->recv_bytes != 0) {
		fprintf(stderr, "vufront-net: --recv and --recv-bytes do not go together\n");
		return -EINVAL;
	}
	if (o->log_check && o->queues != 1) {
		fprintf(stderr, "vufront-net: --log-check needs one queue pair\n");
		return -EINVAL;
	}
	if (o->hostile > o->send || (o->hostile != 0 && o->queues != 1)) {
		fprintf(stderr, "vufront-net: --hostile needs one queue pair and N <= --send\n");
		return -EINVAL;
	}
	return 0;
}

static uint64_t
net_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Frame seq's length. */
static unsigned int
net_frame_len(const struct net_opts *o, uint32_t seq)
{
	uint64_t state = (o->seed ^ 0x6a09e667f3bcc909ULL) * 0x9e3779b97f4a7c15ULL + seq;

	if (o->size_min == o->size)
		return o->size;
	return o->size_min + (unsigned int)(net_splitmix64(&state) % (o->size - o->size_min + 1));
}

/* Write frame seq into f (o->size bytes); its length. */
static unsigned int
net_gen_frame(const struct net_opts *o, uint32_t seq, uint8_t *f)
{
	uint64_t state = o->seed * 0x9e3779b97f4a7c15ULL + seq;
	unsigned int i, len = net_frame_len(o, seq);
	uint64_t r = 0;

	memcpy(f, o->dst, 6);
	memcpy(f + 6, o->src, 6);
	f[12] = 0x88;
	f[13] = 0xb5;
	f[14] = (uint8_t)(seq >> 24);
	f[15] = (uint8_t)(seq >> 16);
	f[16] = (uint8_t)(seq >> 8);
	f[17] = (uint8_t)seq;
	for (i = NET_MIN_SIZE; i < len; i++) {
		if ((i - NET_MIN_SIZE) % 8 == 0)
			r = net_splitmix64(&state);
		f[i] = (uint8_t)r;
		r >>= 8;
	}
	return len;
}

static void
net_put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
net_put32(uint8_t *p, uint32_t v)
{
	net_put16(p, v >> 16);
	net_put16(p + 2, v);
}

/* Ones-complement sum of len (even) bytes as big-endian 16-bit words, on sum. */
static uint32_t
net_csum_add(uint32_t sum, const uint8_t *p, unsigned int len)
{
	unsigned int i;

	for (i = 0; i < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	return sum;
}

static uint16_t
net_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/*
 * Write frame seq as a TCP segment of the stream (--offload) into f, its
 * TCP sequence number tcp_seq, and its virtio-net header into h; its length.
 */
static unsigned int
net_gen_offload(const struct net_opts *o, uint32_t seq, uint32_t tcp_seq, uint8_t *f,
		struct vufront_net_hdr *h)
{
	static const uint8_t ip4[2][4] = { { 10, 0, 0, 1 }, { 10, 0, 0, 2 } };
	bool v6 = o->offload == OFF_TSO6;
	unsigned int len = net_gen_frame(o, seq, f); /* the payload bytes */
	unsigned int l3 = net_l3_len(o), l4 = 14 + l3;
	unsigned int tcp_len = len - l4, pay = tcp_len - NET_TCP_HDR;
	uint8_t *ip = f + 14, *th = f + l4;
	uint32_t sum;

	net_put16(f + 12, v6 ? 0x86dd : 0x0800);
	memset(ip, 0, l3 + NET_TCP_HDR);
	if (v6) {
		ip[0] = 0x60; /* version 6, class 0, flow 0 */
		net_put16(ip + 4, tcp_len);
		ip[6] = 6;  /* next header TCP */
		ip[7] = 64; /* hop limit */
		ip[8] = 0xfd;
		ip[23] = 1; /* fd00::1 */
		ip[24] = 0xfd;
		ip[39] = 2; /* fd00::2 */
		sum = net_csum_add(0, ip + 8, 32);
	} else {
		ip[0] = 0x45; /* version 4, IHL 5, TOS 0 */
		net_put16(ip + 2, len - 14);
		net_put16(ip + 4, seq & 0xffff);
		net_put16(ip + 6, 0x4000); /* DF */
		ip[8] = 64;		   /* TTL */
		ip[9] = 6;		   /* TCP */
		memcpy(ip + 12, ip4[0], 4);
		memcpy(ip + 16, ip4[1], 4);
		net_put16(ip + 10, (uint16_t)~net_csum_fold(net_csum_add(0, ip, 20)));
		sum = net_csum_add(0, ip + 12, 8);
	}
	net_put16(th, NET_TCP_SPORT);
	net_put16(th + 2, NET_TCP_DPORT);
	net_put32(th + 4, tcp_seq);
	net_put32(th + 8, 1);
	th[12] = 5 << 4; /* data offset */
	th[13] = 0x18;	 /* ACK | PSH */
	net_put16(th + 14, 65535);
	/* CHECKSUM_PARTIAL: the pseudo header's sum, the device completes it */
	net_put16(th + 16, net_csum_fold(sum + 6 + tcp_len));

	memset(h, 0, sizeof(*h));
	h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h->csum_start = (uint16_t)l4;
	h->csum_offset = 16;
	if (o->offload != OFF_CSUM && pay > o->mss) {
		h->gso_type = v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
		h->gso_size = (uint16_t)o->mss;
		h->hdr_len = (uint16_t)(l4 + NET_TCP_HDR);
	}
	return len;
}

/* --offload-bad: spoil frame f (len bytes) and its header, kind k. */
static void
net_spoil(const struct net_opts *o, unsigned int k, uint8_t *f, unsigned int len,
	  struct vufront_net_hdr *h)
{
	unsigned int l4 = 14 + net_l3_len(o);
	bool v6 = o->offload == OFF_TSO6;

	if (k >= 2) {
		h->gso_type = v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
		h->gso_size = (uint16_t)o->mss;
		h->hdr_len = (uint16_t)(l4 + NET_TCP_HDR);
	}
	switch (k) {
	case 0:
		h->flags |= VIRTIO_NET_HDR_F_DATA_VALID;
		break;
	case 1:
		h->csum_start = (uint16_t)(len - 1);
		break;
	case 2:
		h->flags = 0;
		break;
	case 3:
		h->gso_size = 0;
		break;
	case 4:
		h->gso_type = VIRTIO_NET_HDR_GSO_UDP;
		break;
	case 5:
		h->gso_type |= VIRTIO_NET_HDR_GSO_ECN;
		break;
	case 6:
		h->gso_size = 8;
		break;
	case 7:
		f[14] = (uint8_t)((f[14] & 0x0f) | 0x50);
		break;
	case 8:
		f[l4 + 12] = 2 << 4;
		break;
	default:
		net_put16(f + 12, 0x0806);
		break;
	}
}

/* One dump line: with --dump-hdr, hl bytes of header hdr and a space first. */
static void
net_dump(FILE *f, const struct net_opts *o, const void *hdr, unsigned int hl, const uint8_t *p,
	 uint32_t len)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *b = hdr;
	uint32_t i;

	if (o->dump_hdr) {
		for (i = 0; i < hl; i++) {
			putc(hex[b[i] >> 4], f);
			putc(hex[b[i] & 0xf], f);
		}
		putc(' ', f);
	}
	for (i = 0; i < len; i++) {
		putc(hex[p[i] >> 4], f);
		putc(hex[p[i] & 0xf], f);
	}
	putc('\n', f);
}

static uint64_t
net_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t
net_now_ms(void)
{
	return net_now_us() / 1000u;
}

/* Sleep until a call eventfd fires, at most 1 ms. */
static void
net_wait(struct vufront *vu, unsigned int queues)
{
	struct pollfd pfd[2 * 128];
	struct vufront_vq_info info;
	unsigned int i, n = 0;
	uint64_t val;

	for (i = 0; i < 2 * queues; i++) {
		if (vufront_vq_info(vu, i, &info) == 0) {
			pfd[n].fd = info.callfd;
			pfd[n].events = POLLIN;
			n++;
		}
	}
	if (poll(pfd, n, 1) <= 0)
		return;
	for (i = 0; i < n; i++)
		if (pfd[i].revents & POLLIN)
			while (read(pfd[i].fd, &val, sizeof(val)) == sizeof(val))
				;
}

struct net_state {
	unsigned long sent;
	unsigned long received;
	uint64_t bytes; /* of the frames received */
	unsigned long bad;
	FILE *dump;
	FILE *dump_sent;
	uint8_t *txbufs; /* burst frames of size bytes (--offload: a header, then one) */
	uint8_t *rxbufs; /* burst buffers of NET_RX_BUF bytes */
	uint8_t *expect;
	uint64_t t0_us;
	bool feat_missing; /* an --offload feature was not negotiated */
	/* --offload */
	uint32_t tcp_seq;     /* of the next frame */
	uint16_t *tx_ids;     /* a chain's descriptors */
	uint8_t *tx_mem[128]; /* per queue pair: descriptor d owns buf_size bytes at d */
	uint64_t tx_gpa[128];
	/* --hostile */
	unsigned long h_sent;	  /* bad chains published */
	unsigned long h_returned; /* came back with length 0 */
	unsigned long h_bad;	  /* came back with another length */
	unsigned long h_acc;	  /* spreads them over the frames */
	unsigned long h_jumps;	  /* avail index jumps taken in */
	uint8_t *h_kind;	  /* per descriptor id: 1 + kind of the bad chain it heads */
	unsigned int h_num;	  /* transmit ring size */
	uint64_t h_gpa;		  /* scratch area: frame, indirect table, sink */
	/* --log-check */
	struct vufront_dirty_log log;
	uint8_t *log_want;	  /* pages the device must have logged */
	unsigned long rx_used;	  /* used receive buffers reaped */
	unsigned int log_pages;	  /* bits in log_want */
	unsigned int log_missing; /* of them not in the log */
	unsigned int log_stray;	  /* in the log, not in log_want */
};

/* Reap hook of the transmit ring: the bad chains must come back unused. */
static void
net_hostile_reaped(void *arg, unsigned int idx, const struct vufront_used_elem *e)
{
	struct net_state *st = arg;
	unsigned int kind;

	(void)idx;
	if (e->id >= st->h_num || st->h_kind[e->id] == 0)
		return; /* a good frame */
	kind = st->h_kind[e->id] - 1u;
	st->h_kind[e->id] = 0;
	if (e->len == 0) {
		st->h_returned++;
		return;
	}
	if (st->h_bad++ < 10)
		fprintf(stderr, "vufront-net: bad chain (%s, head %u) came back with length %u\n",
			net_hostile_kinds[kind].name, e->id, e->len);
}

/* Scratch memory for the bad chains, and the reap hook. */
static int
net_hostile_setup(struct vufront *vu, struct net_state *st)
{
	struct vufront_vq_info info;
	struct vufront_desc *t;
	unsigned int hl = vufront_net_hdr_len(vu);
	uint8_t *p;
	int ret;

	ret = vufront_vq_info(vu, 1, &info);
	if (ret < 0)
		return ret;
	st->h_num = info.num;
	st->h_kind = calloc(info.num, 1);
	if (st->h_kind == NULL)
		return -ENOMEM;
	ret = vufront_mem_alloc(vu, H_SCRATCH, 64, &st->h_gpa);
	if (ret < 0)
		return ret;
	p = vufront_gpa_ptr(vu, st->h_gpa, H_SCRATCH);
	/* a zero header and a plausible frame: only the chain is wrong */
	memset(p + hl, 0xff, 6);
	memset(p + hl + 6, 0x02, 6);
	p[hl + 12] = 0x88;
	p[hl + 13] = 0xb5;
	for (unsigned int i = 14; i < H_FRAME_LEN; i++)
		p[hl + i] = (uint8_t)i;
	/* a well-formed indirect table of two entries, the frame twice */
	t = (struct vufront_desc *)(p + H_TABLE_OFF);
	for (unsigned int i = 0; i < 2; i++) {
		t[i].addr = st->h_gpa;
		t[i].len = hl + H_FRAME_LEN;
		t[i].flags = 0;
		t[i].next = 0;
	}
	return vufront_vq_set_reap_fn(vu, 1, net_hostile_reaped, st);
}

static void
net_desc(struct vufront_desc *d, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

/* Publish one bad chain of this kind on ring 1 (its descriptors are free). */
static int
net_hostile_publish(struct vufront *vu, struct net_state *st, unsigned int kind)
{
	struct vufront_vq_info info;
	unsigned int hl = vufront_net_hdr_len(vu);
	uint64_t frame = st->h_gpa, table = st->h_gpa + H_TABLE_OFF;
	struct vufront_desc *d;
	uint16_t ids[2];
	int ret;

	ret = vufront_vq_info(vu, 1, &info);
	if (ret == 0)
		ret = vufront_vq_take_descs(vu, 1, net_hostile_kinds[kind].ndesc, ids);
	if (ret < 0)
		return ret;
	d = info.desc;
	switch (kind) {
	case H_NEXT_OUT:
		net_desc(&d[ids[0]], frame, hl + H_FRAME_LEN, VUFRONT_DESC_F_NEXT,
			 (uint16_t)(info.num + 7));
		break;
	case H_LOOP:
		net_desc(&d[ids[0]], frame, hl, VUFRONT_DESC_F_NEXT, ids[1]);
		net_desc(&d[ids[1]], frame + hl, H_FRAME_LEN, VUFRONT_DESC_F_NEXT, ids[0]);
		break;
	case H_OUTSIDE:
		net_desc(&d[ids[0]], vufront_mem_size(vu) + (1u << 20), hl + H_FRAME_LEN, 0, 0);
		break;
	case H_WRITABLE:
		/* readable then writable: a valid chain, but not for transmit */
		net_desc(&d[ids[0]], frame, hl + H_FRAME_LEN, VUFRONT_DESC_F_NEXT, ids[1]);
		net_desc(&d[ids[1]], st->h_gpa + H_SINK_OFF, 64, VUFRONT_DESC_F_WRITE, 0);
		break;
	case H_IND_LEN:
		net_desc(&d[ids[0]], table, 24, VUFRONT_DESC_F_INDIRECT, 0);
		break;
	case H_IND_NEXT:
		net_desc(&d[ids[0]], table, 16, VUFRONT_DESC_F_INDIRECT | VUFRONT_DESC_F_NEXT,
			 ids[1]);
		net_desc(&d[ids[1]], frame, hl + H_FRAME_LEN, 0, 0);
		break;
	default: /* H_SHORT */
		net_desc(&d[ids[0]], frame, hl + 8, 0, 0);
		break;
	}
	st->h_kind[ids[0]] = (uint8_t)(kind + 1);
	ret = vufront_vq_publish(vu, 1, ids[0]);
	if (ret == 0)
		ret = vufront_vq_notify(vu, 1);
	if (ret < 0)
		return ret;
	st->h_sent++;
	return 0;
}

/* vufront_net_send()'s header. */
static const uint8_t net_zero_hdr[NET_HDR_MAX];

/* Up to n frames, one at a time, each behind a bad chain when one is due. */
static int
net_tx_hostile(struct vufront *vu, const struct net_opts *o, struct net_state *st, unsigned int n)
{
	struct vufront_vq_info info;
	struct vufront_frame fr;
	unsigned int i, kind, need;
	bool due;
	int ret;

	for (i = 0; i < n; i++) {
		/* N chains over --send frames: due when the sum passes --send */
		due = st->h_acc + o->hostile >= o->send;
		kind = (unsigned int)(st->h_sent % H_KINDS);
		need = 1 + (due ? net_hostile_kinds[kind].ndesc : 0);
		ret = vufront_net_tx_reap(vu, 0);
		if (ret < 0)
			return ret;
		ret = vufront_vq_info(vu, 1, &info);
		if (ret < 0)
			return ret;
		if (info.nfree < need)
			break;
		if (due) {
			ret = net_hostile_publish(vu, st, kind);
			if (ret < 0)
				return ret;
			st->h_acc = st->h_acc + o->hostile - o->send;
		} else {
			st->h_acc += o->hostile;
		}
		fr.data = st->txbufs;
		fr.len = net_gen_frame(o, (uint32_t)st->sent, st->txbufs);
		ret = vufront_net_send(vu, 0, &fr, 1);
		if (ret < 0)
			return ret;
		if (ret != 1)
			return -EPROTO; /* cannot be: the descriptor was free */
		if (st->dump_sent != NULL)
			net_dump(st->dump_sent, o, net_zero_hdr, vufront_net_hdr_len(vu), fr.data,
				 fr.len);
		st->sent++;
	}
	return (int)i;
}

/* --offload: the transmit area, per queue pair a buffer per descriptor. */
static int
net_offload_setup(struct vufront *vu, const struct net_opts *o, struct net_state *st)
{
	struct vufront_vq_info info;
	unsigned int q;
	size_t len;
	int ret;

	for (q = 0; q < o->queues; q++) {
		ret = vufront_vq_info(vu, 2 * q + 1, &info);
		if (ret < 0)
			return ret;
		len = (size_t)info.num * o->buf_size;
		ret = vufront_mem_alloc(vu, len, 64, &st->tx_gpa[q]);
		if (ret < 0)
			return ret;
		st->tx_mem[q] = vufront_gpa_ptr(vu, st->tx_gpa[q], len);
	}
	st->tx_ids = calloc(info.num, sizeof(*st->tx_ids));
	if (st->tx_ids == NULL)
		return -ENOMEM;
	st->tcp_seq = NET_TCP_SEQ0;
	return 0;
}

/*
 * --offload: up to n frames on queue pair q, each with its header on a
 * chain of --buf-size buffers (as many as header and frame fill).
 */
static int
net_tx_offload(struct vufront *vu, const struct net_opts *o, struct net_state *st, unsigned int q,
	       unsigned int n)
{
	unsigned int hl = vufront_net_hdr_len(vu), ring = 2 * q + 1;
	uint8_t *frame = st->txbufs + NET_HDR_MAX, *src;
	struct vufront_vq_info info;
	struct vufront_net_hdr h;
	unsigned int i, k, nd, len, left, chunk;
	uint16_t *ids = st->tx_ids;
	uint64_t gpa;
	int ret;

	ret = vufront_net_tx_reap(vu, q);
	if (ret < 0)
		return ret;
	ret = vufront_vq_info(vu, ring, &info);
	if (ret < 0)
		return ret;
	for (i = 0; i < n; i++) {
		len = net_frame_len(o, (uint32_t)st->sent);
		nd = (hl + len + o->buf_size - 1) / o->buf_size;
		if (info.nfree < nd)
			break;
		len = net_gen_offload(o, (uint32_t)st->sent, st->tcp_seq, frame, &h);
		if (o->offload_bad != 0 && st->sent % o->offload_bad == o->offload_bad - 1)
			net_spoil(o, (unsigned int)(st->sent / o->offload_bad % 10), frame, len,
				  &h);
		/* the header just ahead of the frame: one run of bytes */
		src = frame - hl;
		memcpy(src, &h, hl);
		ret = vufront_vq_take_descs(vu, ring, nd, ids);
		if (ret < 0)
			return ret;
		info.nfree -= nd;
		left = hl + len;
		for (k = 0; k < nd; k++) {
			chunk = left < o->buf_size ? left : o->buf_size;
			gpa = st->tx_gpa[q] + (uint64_t)ids[k] * o->buf_size;
			memcpy(st->tx_mem[q] + (size_t)ids[k] * o->buf_size, src, chunk);
			net_desc(&info.desc[ids[k]], gpa, chunk,
				 k + 1 < nd ? VUFRONT_DESC_F_NEXT : 0, k + 1 < nd ? ids[k + 1] : 0);
			src += chunk;
			left -= chunk;
		}
		ret = vufront_vq_publish(vu, ring, ids[0]);
		if (ret < 0)
			return ret;
		if (st->dump_sent != NULL)
			net_dump(st->dump_sent, o, &h, hl, frame, len);
		st->sent++;
		st->tcp_seq += len - 14 - net_l3_len(o) - NET_TCP_HDR;
	}
	if (i > 0) {
		ret = vufront_vq_notify(vu, ring);
		if (ret < 0)
			return ret;
	}
	return (int)i;
}

static int
net_tx(struct vufront *vu, const struct net_opts *o, struct net_state *st, unsigned int q)
{
	struct vufront_frame fr[NET_MAX_BURST];
	unsigned long left = o->send - st->sent;
	unsigned int i, n = left < o->burst ? (unsigned int)left : o->burst;
	uint64_t allowed;
	int ret;

	if (o->rate != 0) {
		/* frames allowed since the first one went out */
		allowed = (net_now_us() - st->t0_us) * o->rate / 1000000u + 1;
		if (allowed <= st->sent)
			return 0;
		if (allowed - st->sent < n)
			n = (unsigned int)(allowed - st->sent);
	}

	if (o->hostile != 0)
		return net_tx_hostile(vu, o, st, n);
	if (o->offload != OFF_NONE)
		return net_tx_offload(vu, o, st, q, n);
	for (i = 0; i < n; i++) {
		fr[i].data = st->txbufs + (size_t)i * o->size;
		fr[i].len = net_gen_frame(o, (uint32_t)(st->sent + i),
					  st->txbufs + (size_t)i * o->size);
	}
	ret = vufront_net_send(vu, q, fr, n);
	if (ret < 0)
		return ret;
	for (i = 0; st->dump_sent != NULL && i < (unsigned int)ret; i++)
		net_dump(st->dump_sent, o, net_zero_hdr, vufront_net_hdr_len(vu), fr[i].data,
			 fr[i].len);
	st->sent += (unsigned long)ret;
	return ret;
}

/* Everything --recv / --recv-bytes asks for has arrived. */
static bool
net_rx_done(const struct net_opts *o, const struct net_state *st)
{
	if (o->recv_bytes != 0)
		return st->bytes >= o->recv_bytes;
	return st->received == o->recv;
}

static int
net_rx(struct vufront *vu, const struct net_opts *o, struct net_state *st, unsigned int q)
{
	struct vufront_pkt pkts[NET_MAX_BURST];
	unsigned long left = o->recv - st->received;
	unsigned int i, n = left < o->burst ? (unsigned int)left : o->burst;
	unsigned int hl = vufront_net_hdr_len(vu);
	const uint8_t *p;
	uint32_t seq, want;
	int ret;

	if (o->recv_bytes != 0)
		n = o->burst; /* however many frames the bytes take */
	for (i = 0; i < n; i++) {
		pkts[i].buf = st->rxbufs + (size_t)i * NET_RX_BUF;
		pkts[i].size = NET_RX_BUF;
	}
	ret = vufront_net_recv(vu, q, pkts, n);
	if (ret <= 0)
		return ret;
	for (i = 0; i < (unsigned int)ret; i++) {
		p = pkts[i].buf;
		st->bytes += pkts[i].len;
		if (st->dump != NULL)
			net_dump(st->dump, o, &pkts[i].hdr, hl, p,
				 pkts[i].len < NET_RX_BUF ? pkts[i].len : NET_RX_BUF);
		if (!o->verify)
			continue;
		if (pkts[i].len < o->size_min || pkts[i].len > o->size) {
			st->bad++;
			continue;
		}
		seq = (uint32_t)p[14] << 24 | (uint32_t)p[15] << 16 | (uint32_t)p[16] << 8 | p[17];
		want = net_gen_frame(o, seq, st->expect);
		if (pkts[i].len != want || memcmp(p, st->expect, want) != 0)
			st->bad++;
	}
	st->received += (unsigned long)ret;
	/* give the buffers back (a frame may have used several) */
	if (vufront_net_post_rx(vu, q, UINT_MAX) < 0)
		return -EIO;
	return ret;
}

/*
 * Every chain is back: the avail index jumps by more than the ring holds.
 * No used entry can answer it; the device takes it in (and counts it) when
 * it next looks at the ring. After a pause for that, one more bad chain
 * goes after the gap: it comes back only if the device went on from there.
 */
static int
net_hostile_jump(struct vufront *vu, const struct net_opts *o, struct net_state *st)
{
	struct vufront_vq_info info;
	uint64_t t0;
	int ret;

	ret = vufront_vq_info(vu, 1, &info);
	if (ret == 0)
		ret = vufront_vq_skip_avail(vu, 1, (uint16_t)(info.num + 1));
	if (ret == 0)
		ret = vufront_vq_notify(vu, 1);
	if (ret < 0)
		return ret;
	usleep(H_JUMP_PAUSE_MS * 1000u);
	ret = net_hostile_publish(vu, st, H_NEXT_OUT);
	if (ret < 0)
		return ret;
	t0 = net_now_ms();
	for (;;) {
		ret = vufront_net_tx_reap(vu, 0);
		if (ret < 0)
			return ret;
		if (vufront_net_tx_inflight(vu, 0) == 0)
			break;
		if (net_now_ms() - t0 > (uint64_t)o->timeout_ms) {
			fprintf(stderr,
				"vufront-net: the bad chain after the avail index jump was "
				"not returned in %d ms\n",
				o->timeout_ms);
			return -ETIMEDOUT;
		}
		net_wait(vu, 1);
	}
	st->h_jumps++;
	return 0;
}

/* --offload: the features it needs must have been negotiated. */
static int
net_offload_check(struct vufront *vu, const struct net_opts *o, struct net_state *st)
{
	uint64_t f = vufront_features(vu);
	unsigned int bit = VUFRONT_F_NET_CSUM;
	const char *name = "CSUM";

	if (f & VUFRONT_BIT(VUFRONT_F_NET_CSUM)) {
		if (o->offload == OFF_TSO4) {
			bit = VUFRONT_F_NET_HOST_TSO4;
			name = "HOST_TSO4";
		} else if (o->offload == OFF_TSO6) {
			bit = VUFRONT_F_NET_HOST_TSO6;
			name = "HOST_TSO6";
		}
	}
	if (f & VUFRONT_BIT(bit))
		return 0;
	fprintf(stderr, "vufront-net: --offload %s: feature %s not negotiated (features 0x%llx)\n",
		net_offload_names[o->offload], name, (unsigned long long)f);
	st->feat_missing = true;
	return -ENOTSUP;
}

/* ---- --log-check ---- */

static void
net_log_mark(struct net_state *st, uint64_t gpa, uint64_t len)
{
	uint64_t pg;

	if (len == 0)
		return;
	for (pg = gpa / VUFRONT_LOG_PAGE; pg <= (gpa + len - 1) / VUFRONT_LOG_PAGE; pg++)
		if (pg / 8 < st->log.size)
			st->log_want[pg / 8] |= (uint8_t)(1u << (pg % 8));
}

/* Trace of vufront_net_recv: a used receive buffer. */
static void
net_log_rx(void *arg, uint64_t gpa, uint32_t len)
{
	struct net_state *st = arg;

	net_log_mark(st, gpa, len);
	st->rx_used++;
}

/* Logging on before any frame moves. */
static int
net_log_start(struct vufront *vu, struct net_state *st)
{
	size_t size = (vufront_mem_size(vu) + 8 * VUFRONT_LOG_PAGE - 1) / (8 * VUFRONT_LOG_PAGE);
	int ret;

	if (!(vufront_offered_features(vu) & VUFRONT_BIT(VUFRONT_F_LOG_ALL)) ||
	    !(vufront_protocol_features(vu) & VUFRONT_BIT(VUFRONT_PF_LOG_SHMFD))) {
		fprintf(stderr, "vufront-net: --log-check: the back-end offers no LOG_ALL or "
				"LOG_SHMFD\n");
		return -ENOTSUP;
	}
	st->log_want = calloc(1, size);
	if (st->log_want == NULL)
		return -ENOMEM;
	ret = vufront_log_create(&st->log, size);
	if (ret < 0) {
		fprintf(stderr, "vufront-net: log memfd: %s\n", strerror(-ret));
		return ret;
	}
	vufront_net_set_rx_trace(vu, net_log_rx, st);
	return vufront_log_start(vu, &st->log, 2);
}

/* The used entries of a ring that @n chains came back on. */
static void
net_log_used(struct vufront *vu, struct net_state *st, unsigned int ring, unsigned long n)
{
	struct vufront_vq_info info;

	if (n == 0 || vufront_vq_info(vu, ring, &info) < 0)
		return;
	if (n > info.num)
		n = info.num;
	net_log_mark(st, info.used_gpa, 4 + 8 * (uint64_t)n);
}

/* The rings stopped: what had to be logged against what was. */
static int
net_log_finish(struct vufront *vu, struct net_state *st)
{
	uint8_t want, got;
	int ret;

	ret = vufront_dev_stop(vu);
	if (ret < 0)
		return ret;
	net_log_used(vu, st, 0, st->rx_used);
	net_log_used(vu, st, 1, st->sent + st->h_sent);
	for (size_t i = 0; i < st->log.size; i++) {
		want = st->log_want[i];
		got = atomic_load_explicit((_Atomic uint8_t *)&st->log.map[i],
					   memory_order_acquire);
		st->log_pages += (unsigned int)__builtin_popcount(want);
		st->log_missing += (unsigned int)__builtin_popcount(want & (uint8_t)~got);
		st->log_stray += (unsigned int)__builtin_popcount(got & (uint8_t)~want);
	}
	return 0;
}

/* --bad-remap: SET_MEM_TABLE whose one region's fd is a pipe (no reply
 * asked): rte_vhost unmaps the memory it had, cannot map the new table,
 * fails the message and closes the connection. The frames the back-end
 * holds then have rings in memory it no longer maps. */
static int
net_bad_remap(struct vufront *vu, unsigned int inflight)
{
	struct vufront_msg msg;
	int pfd[2], ret;

	if (pipe(pfd) < 0)
		return -errno;
	vufront_msg_init(&msg, VUFRONT_SET_MEM_TABLE,
			 offsetof(struct vufront_mem_table, regions) +
				 sizeof(struct vufront_mem_region));
	msg.payload.mem.nregions = 1;
	msg.payload.mem.regions[0].guest_phys_addr = 0;
	msg.payload.mem.regions[0].memory_size = vufront_mem_size(vu);
	/* another front-end address: rte_vhost compares the table without
	 * its fds, and leaves one it takes for unchanged alone */
	msg.payload.mem.regions[0].userspace_addr =
		(uint64_t)(uintptr_t)vufront_mem_base(vu) + (1ULL << 30);
	msg.payload.mem.regions[0].mmap_offset = 0;
	msg.fds[0] = pfd[0];
	msg.nfds = 1;
	ret = vufront_send(vu, &msg);
	close(pfd[0]);
	close(pfd[1]);
	if (ret < 0)
		return ret;
	printf("bad-remap inflight=%u\n", inflight);
	fflush(stdout);
	usleep(500 * 1000);
	return 0;
}

static int
net_run(struct vufront *vu, const struct net_opts *o, struct net_state *st)
{
	struct vufront_net_conf conf;
	uint64_t last_progress;
	unsigned int q, nd, inflight, txq = 0;
	bool progress;
	int ret;

	if (o->listen)
		ret = vufront_accept(vu, o->timeout_ms);
	else
		ret = vufront_connect(vu, o->socket, o->timeout_ms, VUFRONT_CONNECT_PROBE);
	if (ret < 0)
		return ret;
	vufront_net_conf_init(&conf);
	conf.queue_pairs = o->queues;
	conf.dev.ring_size = o->ring_size;
	conf.buf_size = o->buf_size;
	conf.mrg_rxbuf = o->mrg_rxbuf;
	/* a receiver only: buffers that cannot hold the header are for
	 * testing a back-end's refusal */
	conf.tiny_bufs_ok = o->send == 0;
	conf.dev.mem_size = o->mem_mb != 0 ?
				    (size_t)o->mem_mb << 20 :
				    vufront_net_mem_size(o->queues, o->ring_size, o->buf_size);
	if (o->mem_mb == 0 && o->offload != OFF_NONE) /* the transmit area */
		conf.dev.mem_size += (size_t)o->queues * ((size_t)o->ring_size * o->buf_size + 64);
	if (o->pf_set)
		conf.dev.neg.protocol_features = o->protocol_features;
	if (o->features_set)
		conf.dev.neg.features = o->features;
	else if (o->hostile != 0)
		conf.dev.neg.features |= VUFRONT_BIT(VUFRONT_F_INDIRECT_DESC);
	if (o->log_check)
		conf.dev.neg.protocol_features |= VUFRONT_BIT(VUFRONT_PF_LOG_SHMFD);
	if (o->rarp)
		conf.dev.neg.protocol_features |= VUFRONT_BIT(VUFRONT_PF_RARP);
	ret = vufront_net_start(vu, &conf);
	if (ret < 0)
		return ret;
	if (o->offload != OFF_NONE) {
		ret = net_offload_check(vu, o, st);
		if (ret == 0)
			ret = net_offload_setup(vu, o, st);
		if (ret < 0)
			return ret;
	}
	if (o->hostile != 0) {
		ret = net_hostile_setup(vu, st);
		if (ret < 0)
			return ret;
	}
	if (o->send > 0 && o->offload == OFF_NONE &&
	    o->size > o->buf_size - vufront_net_hdr_len(vu)) {
		fprintf(stderr, "vufront-net: --size %u does not fit --buf-size %u\n", o->size,
			o->buf_size);
		return -EMSGSIZE;
	}
	nd = (vufront_net_hdr_len(vu) + o->size + o->buf_size - 1) / o->buf_size;
	if (o->send > 0 && o->offload != OFF_NONE && nd > o->ring_size) {
		fprintf(stderr,
			"vufront-net: --size %u takes %u buffers of --buf-size %u, "
			"the ring has %u\n",
			o->size, nd, o->buf_size, o->ring_size);
		return -EMSGSIZE;
	}
	for (q = 0; q < o->queues && (o->recv > 0 || o->recv_bytes > 0); q++) {
		ret = vufront_net_post_rx(vu, q, o->ring_size);
		if (ret < 0)
			return ret;
	}
	if (o->log_check) {
		ret = net_log_start(vu, st);
		if (ret < 0)
			return ret;
	}
	/* Everything above has been processed by the back-end. */
	ret = vufront_sync(vu);
	if (ret < 0)
		return ret;
	printf("ready\n");
	if (o->hostile != 0)
		printf("features=0x%llx\n", (unsigned long long)vufront_features(vu));
	fflush(stdout);
	if (o->rarp) {
		if (!(vufront_protocol_features(vu) & VUFRONT_BIT(VUFRONT_PF_RARP))) {
			fprintf(stderr, "vufront-net: --rarp: the back-end offers no RARP "
					"protocol feature\n");
			st->feat_missing = true;
			return -ENOTSUP;
		}
		ret = vufront_send_rarp(vu, o->rarp_mac);
		if (ret < 0)
			return ret;
		printf("rarp\n");
		fflush(stdout);
	}

	last_progress = net_now_ms();
	st->t0_us = net_now_us();
	for (;;) {
		progress = false;
		inflight = 0;
		if (st->sent < o->send) {
			ret = net_tx(vu, o, st, txq);
			if (ret < 0)
				return ret;
			if (ret > 0)
				progress = true;
			txq = (txq + 1) % o->queues;
		}
		for (q = 0; q < o->queues; q++) {
			if (o->send > 0) {
				ret = vufront_net_tx_reap(vu, q);
				if (ret < 0)
					return ret;
				if (ret > 0)
					progress = true;
				inflight += vufront_net_tx_inflight(vu, q);
			}
			if (!net_rx_done(o, st)) {
				ret = net_rx(vu, o, st, q);
				if (ret < 0)
					return ret;
				if (ret > 0)
					progress = true;
			}
		}
		if (st->sent == o->send && inflight == 0 && net_rx_done(o, st))
			break;
		if (progress) {
			last_progress = net_now_ms();
			continue;
		}
		if (o->bad_remap && st->sent == o->send && net_now_ms() - last_progress > 1000)
			return net_bad_remap(vu, inflight);
		if (net_now_ms() - last_progress > (uint64_t)o->timeout_ms) {
			if (o->recv_bytes != 0)
				fprintf(stderr,
					"vufront-net: no progress for %d ms (sent %lu, %u in "
					"flight, received %lu, %llu of %llu bytes)\n",
					o->timeout_ms, st->sent, inflight, st->received,
					(unsigned long long)st->bytes,
					(unsigned long long)o->recv_bytes);
			else
				fprintf(stderr,
					"vufront-net: no progress for %d ms "
					"(sent %lu, %u in flight, received %lu of %lu)\n",
					o->timeout_ms, st->sent, inflight, st->received, o->recv);
			return -ETIMEDOUT;
		}
		net_wait(vu, o->queues);
	}
	if (o->hostile != 0) {
		ret = net_hostile_jump(vu, o, st);
		if (ret < 0)
			return ret;
	}
	if (o->log_check)
		return net_log_finish(vu, st);
	if (o->shrink) {
		if (ftruncate(vufront_mem_fd(vu), 0) < 0) {
			fprintf(stderr, "vufront-net: truncate guest memory: %s\n",
				strerror(errno));
			return -EIO;
		}
		printf("shrunk\n");
		fflush(stdout);
		usleep((useconds_t)o->timeout_ms * 1000);
		return 0;
	}
	if (o->graceful)
		return vufront_dev_stop(vu);
	if (o->idle_ms != 0) {
		printf("idle\n");
		fflush(stdout);
		usleep((useconds_t)o->idle_ms * 1000);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct net_state st;
	struct net_opts o;
	struct vufront *vu;
	int ret, status = 0;

	if (net_parse_args(argc, argv, &o) < 0)
		return 2;
	memset(&st, 0, sizeof(st));
	st.log.fd = -1;
	st.txbufs = malloc(NET_HDR_MAX + (size_t)o.burst * o.size);
	st.rxbufs = malloc((size_t)o.burst * NET_RX_BUF);
	st.expect = malloc(o.size);
	vu = vufront_create();
	if (st.txbufs == NULL || st.rxbufs == NULL || st.expect == NULL || vu == NULL) {
		fprintf(stderr, "vufront-net: out of memory\n");
		return 1;
	}
	vufront_set_timeout(vu, o.timeout_ms);
	if (o.dump != NULL && (st.dump = fopen(o.dump, "w")) == NULL) {
		fprintf(stderr, "vufront-net: %s: %s\n", o.dump, strerror(errno));
		return 1;
	}
	if (o.dump_sent != NULL && (st.dump_sent = fopen(o.dump_sent, "w")) == NULL) {
		fprintf(stderr, "vufront-net: %s: %s\n", o.dump_sent, strerror(errno));
		return 1;
	}
	if (o.listen && vufront_listen(vu, o.socket) < 0) {
		fprintf(stderr, "vufront-net: %s\n", vufront_errmsg(vu));
		return 1;
	}

	ret = net_run(vu, &o, &st);
	if (ret < 0) {
		if (ret != -ETIMEDOUT && ret != -EMSGSIZE && !st.feat_missing)
			fprintf(stderr, "vufront-net: %s\n", vufront_errmsg(vu));
		status = st.feat_missing ? 2 : 1;
	}
	vufront_destroy(vu);

	printf("sent=%lu received=%lu", st.sent, st.received);
	if (o.recv_bytes != 0)
		printf(" bytes=%llu", (unsigned long long)st.bytes);
	if (o.verify)
		printf(" bad=%lu", st.bad);
	printf("\n");
	if (o.hostile != 0) {
		printf("hostile=%lu returned=%lu\n", st.h_sent, st.h_returned);
		printf("avail_jumps=%lu\n", st.h_jumps);
		if (st.h_returned != st.h_sent || st.h_bad != 0 || st.h_jumps != 1)
			status = 1;
	}
	if (o.log_check) {
		printf("log_pages=%u log_missing=%u log_stray=%u\n", st.log_pages, st.log_missing,
		       st.log_stray);
		if (st.log_missing != 0 || st.log_pages == 0)
			status = 1;
	}
	if (st.dump != NULL && fclose(st.dump) != 0)
		status = 1;
	if (st.dump_sent != NULL && fclose(st.dump_sent) != 0)
		status = 1;
	if (status == 0 && (st.sent != o.send || !net_rx_done(&o, &st) || st.bad != 0))
		status = 1;
	free(st.txbufs);
	free(st.rxbufs);
	free(st.expect);
	free(st.h_kind);
	free(st.tx_ids);
	free(st.log_want);
	vufront_log_destroy(&st.log);
	return status;
}
