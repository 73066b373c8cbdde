/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: the device-state codec (lib/state). A stream comes from
 * the front-end's pipe, so every byte is untrusted. The first input byte
 * picks a mode:
 *   0  the rest, as is, to the reader;
 *   1  the rest with its magic, version, lengths and every CRC made right
 *      first, so that inputs get past the checksums to the section walk,
 *      the critical/unknown logic and the getters;
 *   2  the rest as a program of writer calls; whatever the writer accepts
 *      must read back identically.
 * Every accepted stream is walked with every getter; every rejection must
 * come with a one-line reason. Any inconsistency aborts. */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vgw_state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint16_t fz_known[] = { 0x0000, 0x0101, 0x0102, 0x0103 };

static void
fz_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}

static uint32_t
fz_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void
fz_check_reason(const char *reason)
{
	if (reason[0] == '\0' || strchr(reason, '\n') != NULL)
		abort();
}

/* Read a section to its end with one getter, on a copy whose failures do
 * not reach the reader. */
static void
fz_drain(const struct vgw_state_section *sec, int kind)
{
	struct vgw_state_section s = *sec;
	char str[256];
	const void *ref;
	uint8_t b[64];
	uint64_t u64;
	uint32_t u32;
	uint16_t u16;
	uint8_t u8;
	int rc;

	s.r = NULL;
	do {
		size_t before = s.pos;

		switch (kind) {
		case 0:
			rc = vgw_state_get_u8(&s, &u8);
			break;
		case 1:
			rc = vgw_state_get_u16(&s, &u16);
			break;
		case 2:
			rc = vgw_state_get_u32(&s, &u32);
			break;
		case 3:
			rc = vgw_state_get_u64(&s, &u64);
			break;
		case 4:
			rc = vgw_state_get_bytes(&s, b, sizeof(b));
			break;
		case 5:
			rc = vgw_state_get_str(&s, str, 8);
			break;
		case 6:
			rc = vgw_state_get_str(&s, str, sizeof(str));
			break;
		default:
			rc = vgw_state_get_ref(&s, &ref, vgw_state_section_remaining(&s));
			if (rc == 0 && s.pos != s.len)
				abort();
			break;
		}
		if (rc == 0 && s.pos <= before && kind != 7)
			abort();
		if (rc != 0 && s.pos != before)
			abort();
		if (s.pos > s.len)
			abort();
	} while (rc == 0 && s.pos < s.len);
}

static void
fz_read(const uint8_t *buf, size_t len, uint8_t opts)
{
	struct vgw_state_expect e = { 0 };
	struct vgw_state_reader r;
	struct vgw_state_section sec, last;
	uint32_t handed = 0;
	int rc;

	memset(&last, 0, sizeof(last));
	if (opts & 1) {
		e.known = fz_known;
		e.n_known = (opts >> 1) % 5; /* 0: knows nothing */
	}
	if (opts & 8)
		e.dev_type = "net";
	if (opts & 16)
		e.max_sections = 4;
	if (opts & 32)
		e.max_section = 64;
	rc = vgw_state_reader_init(&r, buf, len, &e);
	if (rc != 0) {
		fz_check_reason(vgw_state_reader_reason(&r));
		if (vgw_state_next_section(&r, &sec) != rc)
			abort();
		return;
	}
	while ((rc = vgw_state_next_section(&r, &sec)) == 1) {
		if (sec.data < buf || sec.data + sec.len > buf + len)
			abort();
		for (int k = 0; k < 8; k++)
			fz_drain(&sec, k);
		last = sec;
		handed++;
	}
	if (rc != 0 || handed + r.n_skipped != r.n_sections)
		abort();
	if (vgw_state_next_section(&r, &sec) != 0)
		abort();
	/* One failing get through the reader itself: the reason path. */
	if (handed > 0) {
		uint8_t tmp[8];

		last.pos = last.len;
		if (vgw_state_get_bytes(&last, tmp, 1) != -EBADMSG)
			abort();
		fz_check_reason(vgw_state_reader_reason(&r));
	}
}

/* Mode 1: make the input structurally valid where cheap, so that the
 * fuzzer does not have to solve CRCs. */
static void
fz_seal(const uint8_t *in, size_t n, uint8_t opts)
{
	size_t len = (n + 7) & ~(size_t)7;
	size_t end, pos;
	uint32_t count = 0;
	uint8_t *b;

	if (len < VGW_STATE_HDR_SIZE + VGW_STATE_TRAILER_SIZE)
		len = VGW_STATE_HDR_SIZE + VGW_STATE_TRAILER_SIZE;
	b = calloc(1, len);
	if (b == NULL)
		return;
	memcpy(b, in, n);
	memcpy(b, "VGWS", 4);
	b[4] = 1;
	b[5] = 0;
	if (!(opts & 64)) {
		b[6] = b[7] = 0;
		memset(b + 8, 0, 16);
		memcpy(b + 8, (opts & 128) ? "net" : "fs", (opts & 128) ? 3 : 2);
	}
	for (int i = 0; i < 8; i++)
		b[24 + i] = (uint64_t)len >> (8 * i);
	end = len - VGW_STATE_TRAILER_SIZE;
	for (pos = VGW_STATE_HDR_SIZE; pos + VGW_STATE_SEC_HDR_SIZE <= end;) {
		uint64_t plen = fz_get32(b + pos + 8);
		uint64_t padded = (plen + 7) & ~(uint64_t)7;
		uint32_t crc;

		if (padded > end - pos - VGW_STATE_SEC_HDR_SIZE)
			break;
		crc = vgw_crc32c(0, b + pos, 12);
		crc = vgw_crc32c(crc, b + pos + 16, padded);
		fz_put32(b + pos + 12, crc);
		pos += VGW_STATE_SEC_HDR_SIZE + padded;
		count++;
	}
	if (!(opts & 4))
		fz_put32(b + 32, count);
	fz_put32(b + 36, vgw_crc32c(0, b, 36));
	memcpy(b + end, "VGWE", 4);
	fz_put32(b + end + 4, vgw_crc32c(0, b, end + 4));
	fz_read(b, len, opts);
	free(b);
}

/* Mode 2: a program of writer calls, replayed against the reader. */
#define FZ_MAX_OPS 256

struct fz_op {
	uint8_t kind; /* 0 begin, 1..4 u8..u64, 5 bytes, 6 str */
	uint16_t type, version, flags;
	uint64_t v;
	const uint8_t *p;
	size_t n;
};

static int
fz_replay(struct vgw_state_section *s, const struct fz_op *op)
{
	char str[256];
	const void *ref;
	uint64_t u64;
	uint32_t u32;
	uint16_t u16;
	uint8_t u8;

	switch (op->kind) {
	case 1:
		return vgw_state_get_u8(s, &u8) == 0 && u8 == op->v;
	case 2:
		return vgw_state_get_u16(s, &u16) == 0 && u16 == op->v;
	case 3:
		return vgw_state_get_u32(s, &u32) == 0 && u32 == op->v;
	case 4:
		return vgw_state_get_u64(s, &u64) == 0 && u64 == op->v;
	case 5:
		return vgw_state_get_ref(s, &ref, op->n) == 0 &&
		       (op->n == 0 || memcmp(ref, op->p, op->n) == 0);
	default:
		return vgw_state_get_str(s, str, sizeof(str)) == 0 && strlen(str) == op->n &&
		       memcmp(str, op->p, op->n) == 0;
	}
}

static void
fz_program(const uint8_t *in, size_t n)
{
	static struct fz_op ops[FZ_MAX_OPS];
	static char strs[FZ_MAX_OPS][256];
	struct vgw_state_writer w;
	struct vgw_state_reader r;
	struct vgw_state_section s;
	unsigned int n_ops = 0, n_sec = 0, i;
	size_t at = 0, max, len;
	void *buf;
	int rc;

#define FZ_TAKE(k) (at + (k) <= n ? (at += (k), in + at - (k)) : NULL)
	if (n < 1)
		return;
	max = 48 + (size_t)in[at++] * 64;
	vgw_state_writer_init(&w, "fz", max);
	while (at < n && n_ops < FZ_MAX_OPS) {
		struct fz_op *op = &ops[n_ops];
		uint8_t k = in[at++] % 8;
		const uint8_t *p;

		memset(op, 0, sizeof(*op));
		op->kind = k;
		if (k == 0 || k == 7) {
			if (n_sec > 0 && vgw_state_section_end(&w) != 0)
				break;
			if (k == 7 || (p = FZ_TAKE(5)) == NULL) {
				n_sec = 0;
				if (k == 7)
					continue;
				break;
			}
			op->type = p[0] | p[1] << 8;
			op->version = p[2] | p[3] << 8;
			op->flags = p[4] & VGW_STATE_F_CRITICAL;
			if (vgw_state_section_begin(&w, op->type, op->version, op->flags) != 0)
				break;
			n_sec = 1;
		} else if (n_sec == 0) {
			continue; /* puts outside a section: skipped */
		} else if (k <= 4) {
			size_t sz = (size_t)1 << (k - 1);

			if ((p = FZ_TAKE(sz)) == NULL)
				break;
			for (size_t j = 0; j < sz; j++)
				op->v |= (uint64_t)p[j] << (8 * j);
			rc = k == 1 ? vgw_state_put_u8(&w, op->v) :
			     k == 2 ? vgw_state_put_u16(&w, op->v) :
			     k == 3 ? vgw_state_put_u32(&w, op->v) :
				      vgw_state_put_u64(&w, op->v);
			if (rc != 0)
				break;
		} else {
			if ((p = FZ_TAKE(1)) == NULL)
				break;
			op->n = *p;
			if ((op->p = FZ_TAKE(op->n)) == NULL)
				break;
			if (k == 5) {
				rc = vgw_state_put_bytes(&w, op->p, op->n);
			} else {
				/* Strings cannot hold a NUL: map it away. */
				for (size_t j = 0; j < op->n; j++)
					strs[n_ops][j] = op->p[j] ? op->p[j] : 'x';
				strs[n_ops][op->n] = '\0';
				op->p = (const uint8_t *)strs[n_ops];
				rc = vgw_state_put_str(&w, strs[n_ops]);
			}
			if (rc != 0)
				break;
		}
		n_ops++;
	}
#undef FZ_TAKE
	if (n_sec > 0)
		vgw_state_section_end(&w);
	rc = vgw_state_finish(&w, &buf, &len);
	if (rc != 0) {
		/* The only way valid calls fail here is the cap. */
		if (rc != -EFBIG)
			abort();
		fz_check_reason(vgw_state_writer_reason(&w));
		return;
	}
	if (len > max || len % 8 != 0)
		abort();
	if (vgw_state_reader_init(&r, buf, len, &(struct vgw_state_expect){ .dev_type = "fz" }) !=
	    0)
		abort();
	rc = 0;
	for (i = 0; i < n_ops; i++) {
		if (ops[i].kind == 0) {
			if (rc == 1 && vgw_state_section_remaining(&s) != 0)
				abort();
			rc = vgw_state_next_section(&r, &s);
			if (rc != 1 || s.type != ops[i].type || s.version != ops[i].version ||
			    s.flags != ops[i].flags)
				abort();
		} else if (!fz_replay(&s, &ops[i])) {
			abort();
		}
	}
	if (rc == 1 && vgw_state_section_remaining(&s) != 0)
		abort();
	if (vgw_state_next_section(&r, &s) != 0)
		abort();
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t mode, opts;

	if (size < 2)
		return 0;
	mode = data[0] % 3;
	opts = data[1];
	if (mode == 0) {
		/* An exact-size copy, so that any overread is caught. */
		uint8_t *b = malloc(size - 2 ? size - 2 : 1);

		if (b == NULL)
			return 0;
		memcpy(b, data + 2, size - 2);
		fz_read(b, size - 2, opts);
		free(b);
	} else if (mode == 1) {
		fz_seal(data + 2, size - 2, opts);
	} else {
		fz_program(data + 1, size - 1);
	}
	return 0;
}
