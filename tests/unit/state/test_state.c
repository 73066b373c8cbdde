/* SPDX-License-Identifier: BSD-3-Clause */

/* Unit tests for the device-state codec (lib/state). No EAL.
 *
 * Streams are built with the writer, then damaged by hand at the offsets
 * vgw_state.h documents; reseal() recomputes the checksums afterwards when
 * a test wants a well-formed stream carrying a wrong value, so that the
 * check under test (not a CRC) is the one that fires. */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include <cmocka.h>

#include "vgw_state.h"

/* Section types of the sample stream. */
#define T_SCALARS 0x0101
#define T_BLOB 0x0102
#define T_EMPTY 0x0103
#define T_TAIL 0x0104

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const uint16_t known_all[] = { T_SCALARS, T_BLOB, T_EMPTY, T_TAIL };
static const uint8_t blob[13] = "0123456789abc";

/* ---- helpers ---- */

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}

static void
put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}

static void
put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = v >> (8 * i);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Recompute every checksum of a stream whose layout is intact enough to
 * walk: section CRCs (unless sections is false), header CRC, trailer. */
static void
reseal_ext(uint8_t *b, size_t len, bool sections)
{
	size_t end = len - VGW_STATE_TRAILER_SIZE;

	put32(b + 36, vgw_crc32c(0, b, 36));
	for (size_t pos = VGW_STATE_HDR_SIZE; sections && pos + VGW_STATE_SEC_HDR_SIZE <= end;) {
		uint64_t plen = (get32(b + pos + 8) + 7ull) & ~7ull;
		uint32_t crc;

		if (plen > end - pos - VGW_STATE_SEC_HDR_SIZE)
			break;
		crc = vgw_crc32c(0, b + pos, 12);
		crc = vgw_crc32c(crc, b + pos + 16, plen);
		put32(b + pos + 12, crc);
		pos += VGW_STATE_SEC_HDR_SIZE + plen;
	}
	put32(b + end + 4, vgw_crc32c(0, b, end + 4));
}

static void
reseal(uint8_t *b, size_t len)
{
	reseal_ext(b, len, true);
}

/* The sample stream: four sections, every put type, one critical one, one
 * empty one. Offsets of its sections, for the tests that damage them. */
#define SEC0 40	 /* T_SCALARS: 29 bytes of payload, 32 padded */
#define SEC1 88	 /* T_BLOB, critical: 13 bytes, 16 padded */
#define SEC2 120 /* T_EMPTY */
#define SEC3 136 /* T_TAIL: one u64 */
#define SAMPLE_LEN 168

static uint8_t *
sample(size_t *len)
{
	struct vgw_state_writer w;
	void *buf;

	assert_int_equal(vgw_state_writer_init(&w, "net", 0), 0);
	assert_int_equal(vgw_state_section_begin(&w, T_SCALARS, 1, 0), 0);
	assert_int_equal(vgw_state_put_u8(&w, 0xab), 0);
	assert_int_equal(vgw_state_put_u16(&w, 0xbeef), 0);
	assert_int_equal(vgw_state_put_u32(&w, 0xdeadbeef), 0);
	assert_int_equal(vgw_state_put_u64(&w, 0x0123456789abcdefull), 0);
	assert_int_equal(vgw_state_put_str(&w, "hello"), 0);
	assert_int_equal(vgw_state_put_str(&w, ""), 0);
	assert_int_equal(vgw_state_put_u8(&w, 0xff), 0);
	assert_int_equal(vgw_state_section_end(&w), 0);
	assert_int_equal(vgw_state_section_begin(&w, T_BLOB, 2, VGW_STATE_F_CRITICAL), 0);
	assert_int_equal(vgw_state_put_bytes(&w, blob, sizeof(blob)), 0);
	assert_int_equal(vgw_state_section_end(&w), 0);
	assert_int_equal(vgw_state_section_begin(&w, T_EMPTY, 1, 0), 0);
	assert_int_equal(vgw_state_section_end(&w), 0);
	assert_int_equal(vgw_state_section_begin(&w, T_TAIL, 7, 0), 0);
	assert_int_equal(vgw_state_put_u64(&w, UINT64_MAX), 0);
	assert_int_equal(vgw_state_section_end(&w), 0);
	assert_int_equal(vgw_state_finish(&w, &buf, len), 0);
	assert_int_equal(*len, SAMPLE_LEN);
	return buf;
}

static void
assert_one_line(const char *reason)
{
	assert_non_null(reason);
	assert_true(reason[0] != '\0');
	assert_null(strchr(reason, '\n'));
}

/* Initialising a reader on b fails with err and exactly reason. */
static void
expect_reject(const uint8_t *b, size_t len, const struct vgw_state_expect *e, int err,
	      const char *reason)
{
	struct vgw_state_reader r;
	struct vgw_state_section s;
	int rc = vgw_state_reader_init(&r, b, len, e);

	if (rc != err || strcmp(vgw_state_reader_reason(&r), reason) != 0) {
		print_error("got:  %d \"%s\"\n", rc, vgw_state_reader_reason(&r));
		print_error("want: %d \"%s\"\n", err, reason);
	}
	assert_int_equal(rc, err);
	assert_string_equal(vgw_state_reader_reason(&r), reason);
	/* Nothing is handed out by a rejected reader. */
	assert_int_equal(vgw_state_next_section(&r, &s), err);
}

static const struct vgw_state_expect expect_net = {
	.dev_type = "net",
	.known = known_all,
	.n_known = ARRAY_SIZE(known_all),
};

/* ---- CRC32C ---- */

static void
test_crc_vectors(void **state)
{
	/* RFC 3720, appendix B.4, and the customary check value. */
	/* clang-format off */
	static const uint8_t read_pdu[48] = {
		0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
		0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18,
		0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	/* clang-format on */
	uint8_t b[32];

	memset(b, 0, sizeof(b));
	assert_int_equal(vgw_crc32c(0, b, sizeof(b)), 0x8a9136aa);
	memset(b, 0xff, sizeof(b));
	assert_int_equal(vgw_crc32c(0, b, sizeof(b)), 0x62a8ab43);
	for (int i = 0; i < 32; i++)
		b[i] = i;
	assert_int_equal(vgw_crc32c(0, b, sizeof(b)), 0x46dd794e);
	for (int i = 0; i < 32; i++)
		b[i] = 31 - i;
	assert_int_equal(vgw_crc32c(0, b, sizeof(b)), 0x113fdb5c);
	assert_int_equal(vgw_crc32c(0, read_pdu, sizeof(read_pdu)), 0xd9963a56);
	assert_int_equal(vgw_crc32c(0, "123456789", 9), 0xe3069283);
	assert_int_equal(vgw_crc32c(0, "", 0), 0);
	/* Chaining equals one pass. */
	assert_int_equal(vgw_crc32c(vgw_crc32c(0, "1234", 4), "56789", 5), 0xe3069283);
}

/* ---- format ---- */

/* The exact bytes of a tiny stream: pins offsets, endianness, padding and
 * what each CRC covers. */
static void
test_golden(void **state)
{
	struct vgw_state_writer w;
	uint8_t want[72];
	uint8_t *got;
	size_t len;

	assert_int_equal(vgw_state_writer_init(&w, "fs", 0), 0);
	assert_int_equal(vgw_state_section_begin(&w, 0x0201, 3, VGW_STATE_F_CRITICAL), 0);
	assert_int_equal(vgw_state_put_u16(&w, 0x1234), 0);
	assert_int_equal(vgw_state_put_u8(&w, 0x56), 0);
	assert_int_equal(vgw_state_section_end(&w), 0);
	assert_int_equal(vgw_state_finish(&w, (void **)&got, &len), 0);

	memset(want, 0, sizeof(want));
	memcpy(want, "VGWS", 4);
	put16(want + 4, 1);
	memcpy(want + 8, "fs", 2);
	put64(want + 24, sizeof(want));
	put32(want + 32, 1);
	put32(want + 36, vgw_crc32c(0, want, 36));
	put16(want + 40, 0x0201);
	put16(want + 42, 3);
	put16(want + 44, 1);
	put32(want + 48, 3);
	want[56] = 0x34;
	want[57] = 0x12;
	want[58] = 0x56;
	put32(want + 52, vgw_crc32c(vgw_crc32c(0, want + 40, 12), want + 56, 8));
	memcpy(want + 64, "VGWE", 4);
	put32(want + 68, vgw_crc32c(0, want, 68));

	assert_int_equal(len, sizeof(want));
	assert_memory_equal(got, want, sizeof(want));
	free(got);
}

static void
test_round_trip(void **state)
{
	struct vgw_state_reader r;
	struct vgw_state_section s;
	uint8_t *b, u8, bytes[sizeof(blob)];
	const void *ref;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;
	char str[16];
	size_t len;

	b = sample(&len);
	assert_int_equal(vgw_state_reader_init(&r, b, len, &expect_net), 0);
	assert_string_equal(r.dev_type, "net");
	assert_int_equal(r.n_sections, 4);
	assert_int_equal(r.n_skipped, 0);

	assert_int_equal(vgw_state_next_section(&r, &s), 1);
	assert_int_equal(s.index, 0);
	assert_int_equal(s.type, T_SCALARS);
	assert_int_equal(s.version, 1);
	assert_int_equal(s.flags, 0);
	assert_int_equal(s.len, 29);
	assert_int_equal(vgw_state_get_u8(&s, &u8), 0);
	assert_int_equal(u8, 0xab);
	assert_int_equal(vgw_state_get_u16(&s, &u16), 0);
	assert_int_equal(u16, 0xbeef);
	assert_int_equal(vgw_state_get_u32(&s, &u32), 0);
	assert_int_equal(u32, 0xdeadbeef);
	assert_int_equal(vgw_state_get_u64(&s, &u64), 0);
	assert_true(u64 == 0x0123456789abcdefull);
	assert_int_equal(vgw_state_get_str(&s, str, sizeof(str)), 0);
	assert_string_equal(str, "hello");
	assert_int_equal(vgw_state_get_str(&s, str, sizeof(str)), 0);
	assert_string_equal(str, "");
	assert_int_equal(vgw_state_section_remaining(&s), 1);
	assert_int_equal(vgw_state_get_u8(&s, &u8), 0);
	assert_int_equal(u8, 0xff);
	assert_int_equal(vgw_state_section_remaining(&s), 0);

	assert_int_equal(vgw_state_next_section(&r, &s), 1);
	assert_int_equal(s.index, 1);
	assert_int_equal(s.type, T_BLOB);
	assert_int_equal(s.version, 2);
	assert_int_equal(s.flags, VGW_STATE_F_CRITICAL);
	assert_int_equal(vgw_state_get_bytes(&s, bytes, 3), 0);
	assert_memory_equal(bytes, blob, 3);
	assert_int_equal(vgw_state_get_ref(&s, &ref, sizeof(blob) - 3), 0);
	assert_memory_equal(ref, blob + 3, sizeof(blob) - 3);
	/* Zero-copy really points into the stream. */
	assert_ptr_equal(ref, b + SEC1 + 16 + 3);
	assert_int_equal(vgw_state_get_bytes(&s, NULL, 0), 0);

	assert_int_equal(vgw_state_next_section(&r, &s), 1);
	assert_int_equal(s.type, T_EMPTY);
	assert_int_equal(s.len, 0);
	assert_int_equal(vgw_state_section_remaining(&s), 0);

	assert_int_equal(vgw_state_next_section(&r, &s), 1);
	assert_int_equal(s.type, T_TAIL);
	assert_int_equal(s.version, 7);
	assert_int_equal(vgw_state_get_u64(&s, &u64), 0);
	assert_true(u64 == UINT64_MAX);

	assert_int_equal(vgw_state_next_section(&r, &s), 0);
	assert_int_equal(vgw_state_next_section(&r, &s), 0);
	assert_string_equal(vgw_state_reader_reason(&r), "");
	free(b);

	/* A stream without sections. */
	{
		struct vgw_state_writer w;

		assert_int_equal(vgw_state_writer_init(&w, "x", 0), 0);
		assert_int_equal(vgw_state_finish(&w, (void **)&b, &len), 0);
		assert_int_equal(len, 48);
		assert_int_equal(vgw_state_reader_init(&r, b, len, NULL), 0);
		assert_int_equal(vgw_state_next_section(&r, &s), 0);
		free(b);
	}
}

/* A section big enough to need several buffer growths, read back. */
static void
test_round_trip_large(void **state)
{
	struct vgw_state_writer w;
	struct vgw_state_reader r;
	struct vgw_state_section s;
	const size_t n = 3u << 20;
	uint8_t *b, *big;
	const void *ref;
	size_t len;

	big = malloc(n);
	assert_non_null(big);
	for (size_t i = 0; i < n; i++)
		big[i] = i * 7 + (i >> 12);
	assert_int_equal(vgw_state_writer_init(&w, "fs", 0), 0);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(vgw_state_section_begin(&w, i, 1, 0), 0);
		assert_int_equal(vgw_state_put_u32(&w, i), 0);
		assert_int_equal(vgw_state_section_end(&w), 0);
	}
	assert_int_equal(vgw_state_section_begin(&w, 0x1000, 1, 0), 0);
	assert_int_equal(vgw_state_put_bytes(&w, big, n), 0);
	assert_int_equal(vgw_state_section_end(&w), 0);
	assert_int_equal(vgw_state_finish(&w, (void **)&b, &len), 0);
	assert_int_equal(vgw_state_reader_init(&r, b, len, NULL), 0);
	for (uint32_t i = 0; i < 100; i++) {
		uint32_t v;

		assert_int_equal(vgw_state_next_section(&r, &s), 1);
		assert_int_equal(vgw_state_get_u32(&s, &v), 0);
		assert_int_equal(v, i);
	}
	assert_int_equal(vgw_state_next_section(&r, &s), 1);
	assert_int_equal(s.len, n);
	assert_int_equal(vgw_state_get_ref(&s, &ref, n), 0);
	assert_memory_equal(ref, big, n);
	assert_int_equal(vgw_state_next_section(&r, &s), 0);
	free(b);
	free(big);
}

/* ---- forward compatibility ---- */

static void
test_skip_unknown(void **state)
{
	/* This reader was written before T_EMPTY and T_TAIL existed. */
	static const uint16_t old[] = { T_SCALARS, T_BLOB };
	const struct vgw_state_expect e = {
		.dev_type = "net",
		.known = old,
		.n_known = ARRAY_SIZE(old),
	};
	struct vgw_state_reader r;
	struct vgw_state_section s;
	uint8_t *b;
	size_t len;

	b = sample(&len);
	assert_int_equal(vgw_state_reader_init(&r, b, len, &e), 0);
	assert_int_equal(r.n_skipped, 2);
	assert_int_equal(vgw_state_next_section(&r, &s), 1);
	assert_int_equal(s.type, T_SCALARS);
	assert_int_equal(vgw_state_next_section(&r, &s), 1);
	assert_int_equal(s.type, T_BLOB);
	assert_int_equal(vgw_state_next_section(&r, &s), 0);
	free(b);

	/* Unknown sections in the middle: the ones after are still read. */
	{
		static const uint16_t ends[] = { T_SCALARS, T_TAIL };
		const struct vgw_state_expect e2 = {
			.known = ends,
			.n_known = ARRAY_SIZE(ends),
		};

		b = sample(&len);
		/* T_BLOB is critical: make it optional for this case. */
		put16(b + SEC1 + 4, 0);
		reseal(b, len);
		assert_int_equal(vgw_state_reader_init(&r, b, len, &e2), 0);
		assert_int_equal(r.n_skipped, 2);
		assert_int_equal(vgw_state_next_section(&r, &s), 1);
		assert_int_equal(s.type, T_SCALARS);
		assert_int_equal(s.index, 0);
		assert_int_equal(vgw_state_next_section(&r, &s), 1);
		assert_int_equal(s.type, T_TAIL);
		assert_int_equal(s.index, 3);
		assert_int_equal(vgw_state_next_section(&r, &s), 0);
		free(b);
	}
}

static void
test_unknown_critical(void **state)
{
	static const uint16_t no_blob[] = { T_SCALARS, T_EMPTY, T_TAIL };
	const struct vgw_state_expect e = {
		.known = no_blob,
		.n_known = ARRAY_SIZE(no_blob),
	};
	const struct vgw_state_expect none = {
		.known = no_blob,
		.n_known = 0,
	};
	uint8_t *b;
	size_t len;

	b = sample(&len);
	expect_reject(b, len, &e, -EOPNOTSUPP, "section 1: unknown critical section type 0x0102");
	/* An empty list knows nothing (NULL would know everything). */
	expect_reject(b, len, &none, -EOPNOTSUPP,
		      "section 1: unknown critical section type 0x0102");
	free(b);
}

/* A newer writer appended a field to a section and bumped its version; an
 * older reader reads what it knows and leaves the rest. */
static void
test_section_grows(void **state)
{
	struct vgw_state_writer w;
	struct vgw_state_reader r;
	struct vgw_state_section s;
	uint32_t a, b32;
	uint8_t *b;
	size_t len;

	assert_int_equal(vgw_state_writer_init(&w, "net", 0), 0);
	assert_int_equal(vgw_state_section_begin(&w, 1, 2, 0), 0);
	assert_int_equal(vgw_state_put_u32(&w, 11), 0);
	assert_int_equal(vgw_state_put_u32(&w, 22), 0); /* new in v2 */
	assert_int_equal(vgw_state_section_end(&w), 0);
	assert_int_equal(vgw_state_section_begin(&w, 2, 1, 0), 0);
	assert_int_equal(vgw_state_put_u32(&w, 33), 0);
	assert_int_equal(vgw_state_section_end(&w), 0);
	assert_int_equal(vgw_state_finish(&w, (void **)&b, &len), 0);

	assert_int_equal(vgw_state_reader_init(&r, b, len, NULL), 0);
	assert_int_equal(vgw_state_next_section(&r, &s), 1);
	assert_int_equal(s.version, 2);
	assert_int_equal(vgw_state_get_u32(&s, &a), 0);
	assert_int_equal(a, 11);
	assert_int_equal(vgw_state_section_remaining(&s), 4);
	assert_int_equal(vgw_state_next_section(&r, &s), 1);
	assert_int_equal(vgw_state_get_u32(&s, &b32), 0);
	assert_int_equal(b32, 33);
	free(b);
}

/* ---- corruption ---- */

static void
test_truncated(void **state)
{
	char want[128];
	uint8_t *b;
	size_t len;

	b = sample(&len);
	for (size_t n = 0; n < len; n++) {
		struct vgw_state_reader r;
		uint8_t *t = malloc(n ? n : 1);

		/* A copy of exactly n bytes, so ASan sees any overread. */
		memcpy(t, b, n);
		assert_int_not_equal(vgw_state_reader_init(&r, t, n, NULL), 0);
		assert_one_line(vgw_state_reader_reason(&r));
		if (n < VGW_STATE_HDR_SIZE)
			snprintf(want, sizeof(want),
				 "header: truncated: %zu bytes, need at least 40", n);
		else
			snprintf(want, sizeof(want), "header: total length %zu but %zu bytes given",
				 len, n);
		assert_string_equal(vgw_state_reader_reason(&r), want);
		free(t);
	}
	expect_reject(NULL, 0, NULL, -EBADMSG, "header: truncated: 0 bytes, need at least 40");

	/* Longer than it says is as wrong as shorter. */
	b = realloc(b, len + 8);
	memset(b + len, 0, 8);
	expect_reject(b, len + 8, NULL, -EBADMSG, "header: total length 168 but 176 bytes given");
	free(b);
}

/* Every single-bit error anywhere in the stream is rejected. */
static void
test_bit_flips(void **state)
{
	uint8_t *b;
	size_t len;

	b = sample(&len);
	for (size_t off = 0; off < len; off++) {
		for (int bit = 0; bit < 8; bit++) {
			struct vgw_state_reader r;
			int rc;

			b[off] ^= 1u << bit;
			rc = vgw_state_reader_init(&r, b, len, NULL);
			if (rc == 0)
				print_error("flip of bit %d at %zu accepted\n", bit, off);
			assert_int_not_equal(rc, 0);
			assert_one_line(vgw_state_reader_reason(&r));
			b[off] ^= 1u << bit;
		}
		/* And every whole-byte error. */
		{
			struct vgw_state_reader r;

			b[off] ^= 0xff;
			assert_int_not_equal(vgw_state_reader_init(&r, b, len, NULL), 0);
			assert_one_line(vgw_state_reader_reason(&r));
			b[off] ^= 0xff;
		}
	}

	/* Each region names itself. */
	b[SEC0 + 16 + 5] ^= 0x10;
	expect_reject(b, len, NULL, -EBADMSG, "section 0 (type 0x0101): crc mismatch");
	b[SEC0 + 16 + 5] ^= 0x10;
	b[SEC3 + 20] ^= 1;
	expect_reject(b, len, NULL, -EBADMSG, "section 3 (type 0x0104): crc mismatch");
	b[SEC3 + 20] ^= 1;
	b[SEC1 + 2] ^= 1; /* the version: covered by the section CRC */
	expect_reject(b, len, NULL, -EBADMSG, "section 1 (type 0x0102): crc mismatch");
	b[SEC1 + 2] ^= 1;
	b[SEC1 + 12] ^= 1; /* the CRC itself */
	expect_reject(b, len, NULL, -EBADMSG, "section 1 (type 0x0102): crc mismatch");
	b[SEC1 + 12] ^= 1;
	b[9] ^= 1; /* the device type */
	expect_reject(b, len, NULL, -EBADMSG, "header: crc mismatch");
	b[9] ^= 1;
	b[len - 8] ^= 1;
	expect_reject(b, len, NULL, -EBADMSG, "trailer: bad magic");
	b[len - 8] ^= 1;
	b[len - 1] ^= 1;
	expect_reject(b, len, NULL, -EBADMSG, "trailer: crc mismatch");
	b[len - 1] ^= 1;
	assert_int_equal(vgw_state_reader_init(&(struct vgw_state_reader){ 0 }, b, len, NULL), 0);
	free(b);
}

static void
test_header(void **state)
{
	uint8_t *b;
	size_t len;

	b = sample(&len);
	b[0] = 'X';
	expect_reject(b, len, NULL, -EBADMSG, "header: bad magic (not a device-state stream)");
	b[0] = 'V';

	/* A newer major version: refused as such even though its CRC (which
	 * a newer format may compute differently) does not match. */
	put16(b + 4, 2);
	expect_reject(b, len, NULL, -EPROTONOSUPPORT,
		      "header: format version 2 is newer than this reader's (1)");
	reseal(b, len);
	expect_reject(b, len, NULL, -EPROTONOSUPPORT,
		      "header: format version 2 is newer than this reader's (1)");
	put16(b + 4, 0xffff);
	expect_reject(b, len, NULL, -EPROTONOSUPPORT,
		      "header: format version 65535 is newer than this reader's (1)");
	put16(b + 4, 0);
	reseal(b, len);
	expect_reject(b, len, NULL, -EBADMSG, "header: format version 0 invalid");
	put16(b + 4, 1);

	put16(b + 6, 0x0004);
	reseal(b, len);
	expect_reject(b, len, NULL, -EBADMSG, "header: unknown flags 0x0004");
	put16(b + 6, 0);

	/* Device type: unterminated, empty, unprintable, junk after NUL. */
	memset(b + 8, 'a', 16);
	reseal(b, len);
	expect_reject(b, len, NULL, -EBADMSG, "header: device type malformed");
	memset(b + 8, 0, 16);
	reseal(b, len);
	expect_reject(b, len, NULL, -EBADMSG, "header: device type malformed");
	memcpy(b + 8, "n\tt", 3);
	reseal(b, len);
	expect_reject(b, len, NULL, -EBADMSG, "header: device type malformed");
	memcpy(b + 8, "net\0x", 5);
	reseal(b, len);
	expect_reject(b, len, NULL, -EBADMSG, "header: device type not zero-padded");
	memset(b + 8, 0, 16);
	memcpy(b + 8, "net", 3);
	reseal(b, len);
	assert_int_equal(
		vgw_state_reader_init(&(struct vgw_state_reader){ 0 }, b, len, &expect_net), 0);
	free(b);
}

static void
test_dev_type(void **state)
{
	const struct vgw_state_expect fs = { .dev_type = "fs" };
	const struct vgw_state_expect longer = { .dev_type = "netx" };
	uint8_t *b;
	size_t len;

	b = sample(&len);
	expect_reject(b, len, &fs, -ENODEV, "header: device type 'net' but 'fs' expected");
	expect_reject(b, len, &longer, -ENODEV, "header: device type 'net' but 'netx' expected");
	free(b);
}

static void
test_lengths(void **state)
{
	uint8_t *b, *c;
	size_t len;

	b = sample(&len);

	/* Total length: huge, short, unaligned. */
	put64(b + 24, UINT64_MAX);
	reseal(b, len);
	expect_reject(b, len, NULL, -EBADMSG,
		      "header: total length 18446744073709551615 but 168 bytes given");
	put64(b + 24, 1ull << 40);
	reseal(b, len);
	expect_reject(b, len, NULL, -EBADMSG,
		      "header: total length 1099511627776 but 168 bytes given");
	put64(b + 24, len);
	reseal(b, len);

	c = calloc(1, 44);
	memcpy(c, b, 40);
	put64(c + 24, 44);
	put32(c + 36, vgw_crc32c(0, c, 36));
	expect_reject(c, 44, NULL, -EBADMSG,
		      "header: total length 44 leaves no room for the trailer");
	c = realloc(c, 57);
	put64(c + 24, 57);
	put32(c + 36, vgw_crc32c(0, c, 36));
	expect_reject(c, 57, NULL, -EBADMSG, "header: total length 57 not a multiple of 8");
	free(c);

	/* Section length: past the limit, past the end, one block too far. */
	put32(b + SEC1 + 8, UINT32_MAX);
	reseal(b, len);
	expect_reject(b, len, NULL, -EFBIG,
		      "section 1 (type 0x0102): length 4294967295 exceeds the limit of 67108864");
	put32(b + SEC1 + 8, 4096);
	reseal(b, len);
	expect_reject(b, len, NULL, -EBADMSG,
		      "section 1 (type 0x0102): length 4096 runs past the end (56 bytes left)");
	put32(b + SEC3 + 8, 9);
	put32(b + SEC1 + 8, 13);
	reseal(b, len);
	expect_reject(b, len, NULL, -EBADMSG,
		      "section 3 (type 0x0104): length 9 runs past the end (8 bytes left)");
	put32(b + SEC3 + 8, 8);
	/* Shorter: the remaining bytes parse as a section header that does
	 * not fit, or as a section whose CRC does not match. */
	put32(b + SEC1 + 8, 0);
	reseal_ext(b, len, false);
	expect_reject(b, len, NULL, -EBADMSG, "section 1 (type 0x0102): crc mismatch");
	put32(b + SEC1 + 8, 13);
	reseal(b, len);

	/* Section count. */
	put32(b + 32, 3);
	reseal(b, len);
	expect_reject(b, len, NULL, -EBADMSG, "header: section count 3 but 4 sections present");
	put32(b + 32, 5);
	reseal(b, len);
	expect_reject(b, len, NULL, -EBADMSG, "header: section count 5 but 4 sections present");
	put32(b + 32, UINT32_MAX);
	reseal(b, len);
	expect_reject(b, len, NULL, -EFBIG,
		      "header: section count 4294967295 exceeds the limit of 4096");
	put32(b + 32, 4);
	reseal(b, len);

	/* Bytes between the last section and the trailer. */
	c = malloc(len + 8);
	memcpy(c, b, len - 8);
	memset(c + len - 8, 0, 8);
	memcpy(c + len, b + len - 8, 8);
	put64(c + 24, len + 8);
	reseal(c, len + 8);
	expect_reject(c, len + 8, NULL, -EBADMSG,
		      "section 4: header truncated (8 bytes left, need 16)");
	free(c);

	/* Fields that must be zero. */
	put16(b + SEC2 + 6, 0x8000);
	reseal(b, len);
	expect_reject(b, len, NULL, -EBADMSG,
		      "section 2 (type 0x0103): reserved field 0x8000 not zero");
	put16(b + SEC2 + 6, 0);
	put16(b + SEC2 + 4, 0x0003);
	reseal(b, len);
	expect_reject(b, len, NULL, -EBADMSG, "section 2 (type 0x0103): unknown flags 0x0003");
	put16(b + SEC2 + 4, 0);
	b[SEC1 + 16 + 15] = 1;
	reseal(b, len);
	expect_reject(b, len, NULL, -EBADMSG, "section 1 (type 0x0102): padding not zero");
	b[SEC1 + 16 + 15] = 0;
	reseal(b, len);
	assert_int_equal(
		vgw_state_reader_init(&(struct vgw_state_reader){ 0 }, b, len, &expect_net), 0);
	free(b);
}

/* Limits set lower by the reader. */
static void
test_reader_limits(void **state)
{
	struct vgw_state_expect e = { 0 };
	uint8_t *b;
	size_t len;

	b = sample(&len);
	e.max_bytes = len - 1;
	expect_reject(b, len, &e, -EFBIG, "stream: 168 bytes exceed the limit of 167");
	e.max_bytes = len;
	assert_int_equal(vgw_state_reader_init(&(struct vgw_state_reader){ 0 }, b, len, &e), 0);
	e.max_sections = 3;
	expect_reject(b, len, &e, -EFBIG, "header: section count 4 exceeds the limit of 3");
	e.max_sections = 4;
	e.max_section = 28;
	expect_reject(b, len, &e, -EFBIG,
		      "section 0 (type 0x0101): length 29 exceeds the limit of 28");
	e.max_section = 29;
	assert_int_equal(vgw_state_reader_init(&(struct vgw_state_reader){ 0 }, b, len, &e), 0);
	free(b);
}

/* ---- getters ---- */

static void
test_get_past_end(void **state)
{
	struct vgw_state_reader r;
	struct vgw_state_section s, t;
	const void *ref;
	uint32_t u32;
	uint16_t u16;
	uint64_t u64;
	uint8_t *b, tmp[64];
	char str[8];
	size_t len;

	b = sample(&len);
	assert_int_equal(vgw_state_reader_init(&r, b, len, NULL), 0);
	assert_int_equal(vgw_state_next_section(&r, &s), 1);
	assert_int_equal(vgw_state_get_bytes(&s, tmp, 24), 0);
	assert_int_equal(vgw_state_get_u64(&s, &u64), -EBADMSG);
	assert_string_equal(
		vgw_state_reader_reason(&r),
		"section 0 (type 0x0101): u64 of 8 bytes at offset 24 runs past the end (length 29)");
	/* Sticky, and nothing was consumed. */
	assert_int_equal(s.pos, 24);
	assert_int_equal(vgw_state_get_u8(&s, tmp), -EBADMSG);
	assert_int_equal(vgw_state_next_section(&r, &s), -EBADMSG);

	/* Strings: too long for the destination, holding a NUL, or running
	 * past the end. */
	assert_int_equal(vgw_state_reader_init(&r, b, len, NULL), 0);
	assert_int_equal(vgw_state_next_section(&r, &s), 1);
	assert_int_equal(vgw_state_get_bytes(&s, tmp, 15), 0);
	assert_int_equal(vgw_state_get_str(&s, str, 5), -ENAMETOOLONG);
	assert_string_equal(
		vgw_state_reader_reason(&r),
		"section 0 (type 0x0101): string of 5 bytes at offset 15 does not fit in 5");
	assert_int_equal(s.pos, 15);

	b[SEC0 + 16 + 15 + 4 + 2] = 0; /* "he\0lo" */
	reseal(b, len);
	assert_int_equal(vgw_state_reader_init(&r, b, len, NULL), 0);
	assert_int_equal(vgw_state_next_section(&r, &s), 1);
	assert_int_equal(vgw_state_get_bytes(&s, tmp, 15), 0);
	assert_int_equal(vgw_state_get_str(&s, str, sizeof(str)), -EBADMSG);
	assert_string_equal(vgw_state_reader_reason(&r),
			    "section 0 (type 0x0101): string at offset 15 holds a NUL");
	put32(b + SEC0 + 16 + 15, 1000);
	reseal(b, len);
	assert_int_equal(vgw_state_reader_init(&r, b, len, NULL), 0);
	assert_int_equal(vgw_state_next_section(&r, &s), 1);
	assert_int_equal(vgw_state_get_bytes(&s, tmp, 15), 0);
	assert_int_equal(vgw_state_get_str(&s, str, sizeof(str)), -EBADMSG);
	assert_string_equal(
		vgw_state_reader_reason(&r),
		"section 0 (type 0x0101): string of 1000 bytes at offset 15 runs past the end (length 29)");
	free(b);

	/* Every getter fails on an empty section, huge sizes included. */
	b = sample(&len);
	assert_int_equal(vgw_state_reader_init(&r, b, len, NULL), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(vgw_state_next_section(&r, &s), 1);
	assert_int_equal(s.type, T_EMPTY);
	t = s;
	assert_int_equal(vgw_state_get_u32(&t, &u32), -EBADMSG);
	t = s;
	assert_int_equal(vgw_state_get_u16(&t, &u16), -EBADMSG);
	t = s;
	assert_int_equal(vgw_state_get_str(&t, str, sizeof(str)), -EBADMSG);
	t = s;
	assert_int_equal(vgw_state_get_bytes(&t, tmp, 1), -EBADMSG);
	t = s;
	assert_int_equal(vgw_state_get_ref(&t, &ref, SIZE_MAX), -EBADMSG);
	assert_int_equal(vgw_state_get_ref(&s, &ref, 0), 0);
	/* The reason is the first failure's. */
	assert_string_equal(
		vgw_state_reader_reason(&r),
		"section 2 (type 0x0103): u32 of 4 bytes at offset 0 runs past the end (length 0)");
	free(b);
}

static void
test_section_fail(void **state)
{
	struct vgw_state_reader r;
	struct vgw_state_section s;
	uint8_t *b;
	size_t len;

	b = sample(&len);
	assert_int_equal(vgw_state_reader_init(&r, b, len, NULL), 0);
	assert_int_equal(vgw_state_next_section(&r, &s), 1);
	assert_int_equal(vgw_state_next_section(&r, &s), 1);
	assert_int_equal(
		vgw_state_section_fail(&s, -EPROTONOSUPPORT, "version %u not supported", s.version),
		-EPROTONOSUPPORT);
	assert_string_equal(vgw_state_reader_reason(&r),
			    "section 1 (type 0x0102): version 2 not supported");
	assert_int_equal(vgw_state_next_section(&r, &s), -EPROTONOSUPPORT);
	free(b);
}

/* ---- writer errors ---- */

static void
test_write_errors(void **state)
{
	struct vgw_state_writer w;
	uint8_t junk[256] = { 0 };
	void *buf;
	size_t len;

	/* Cap exceeded: sticky, reported by finish, buffer released. */
	assert_int_equal(vgw_state_writer_init(&w, "net", 128), 0);
	assert_int_equal(vgw_state_section_begin(&w, 1, 1, 0), 0);
	assert_int_equal(vgw_state_put_bytes(&w, junk, 64), 0);
	assert_int_equal(vgw_state_put_bytes(&w, junk, 64), -EFBIG);
	assert_string_equal(vgw_state_writer_reason(&w), "stream cap of 128 bytes exceeded");
	assert_int_equal(vgw_state_put_u8(&w, 1), -EFBIG);
	assert_int_equal(vgw_state_section_end(&w), -EFBIG);
	assert_int_equal(vgw_state_finish(&w, &buf, &len), -EFBIG);
	assert_null(buf);
	assert_int_equal(len, 0);

	/* The cap is exact: the finished size fits, one byte less does not. */
	for (size_t cap = 0; cap <= 256; cap++) {
		int rc;

		vgw_state_writer_init(&w, "net", cap ? cap : 1);
		vgw_state_section_begin(&w, 1, 1, 0);
		vgw_state_put_bytes(&w, junk, 17); /* 40+16+24+8 = 88 */
		vgw_state_section_end(&w);
		rc = vgw_state_finish(&w, &buf, &len);
		if (cap >= 88) {
			assert_int_equal(rc, 0);
			assert_int_equal(len, 88);
			free(buf);
		} else {
			assert_int_equal(rc, -EFBIG);
		}
	}

	/* Nesting, put outside a section, end without begin, left open. */
	vgw_state_writer_init(&w, "net", 0);
	vgw_state_section_begin(&w, 1, 1, 0);
	assert_int_equal(vgw_state_section_begin(&w, 2, 1, 0), -EINVAL);
	assert_string_equal(vgw_state_writer_reason(&w),
			    "section 1 (type 0x0002) begun inside section 0 (type 0x0001)");
	assert_int_equal(vgw_state_finish(&w, &buf, &len), -EINVAL);

	vgw_state_writer_init(&w, "net", 0);
	assert_int_equal(vgw_state_put_u32(&w, 1), -EINVAL);
	assert_string_equal(vgw_state_writer_reason(&w), "put outside a section");
	assert_int_equal(vgw_state_finish(&w, &buf, &len), -EINVAL);

	vgw_state_writer_init(&w, "net", 0);
	assert_int_equal(vgw_state_section_end(&w), -EINVAL);
	vgw_state_writer_free(&w);

	vgw_state_writer_init(&w, "net", 0);
	vgw_state_section_begin(&w, 5, 1, 0);
	assert_int_equal(vgw_state_finish(&w, &buf, &len), -EINVAL);
	assert_string_equal(vgw_state_writer_reason(&w), "section 0 (type 0x0005) left open");

	vgw_state_writer_init(&w, "net", 0);
	assert_int_equal(vgw_state_section_begin(&w, 5, 1, 0x0002), -EINVAL);
	assert_string_equal(vgw_state_writer_reason(&w),
			    "section 0 (type 0x0005): unknown flags 0x0002");
	vgw_state_writer_free(&w);

	/* Device types. */
	assert_int_equal(vgw_state_writer_init(&w, "", 0), -EINVAL);
	assert_int_equal(vgw_state_finish(&w, &buf, &len), -EINVAL);
	assert_int_equal(vgw_state_writer_init(&w, "0123456789abcdef", 0), -EINVAL);
	assert_int_equal(vgw_state_writer_init(&w, "a b", 0), -EINVAL);
	assert_int_equal(vgw_state_writer_init(&w, NULL, 0), -EINVAL);
	assert_int_equal(vgw_state_writer_init(&w, "0123456789abcde", 0), 0);
	vgw_state_writer_free(&w);

	/* Too many sections. */
	vgw_state_writer_init(&w, "net", 0);
	for (int i = 0; i < VGW_STATE_MAX_SECTIONS; i++) {
		assert_int_equal(vgw_state_section_begin(&w, i, 1, 0), 0);
		assert_int_equal(vgw_state_section_end(&w), 0);
	}
	assert_int_equal(vgw_state_section_begin(&w, 0, 1, 0), -E2BIG);
	assert_string_equal(vgw_state_writer_reason(&w), "more than 4096 sections");
	assert_int_equal(vgw_state_finish(&w, &buf, &len), -E2BIG);

	/* A section over its limit. */
	{
		size_t n = VGW_STATE_MAX_SECTION + 1;
		uint8_t *big = calloc(1, n);

		assert_non_null(big);
		vgw_state_writer_init(&w, "net", 0);
		vgw_state_section_begin(&w, 9, 1, 0);
		assert_int_equal(vgw_state_put_bytes(&w, big, n), -EFBIG);
		assert_string_equal(vgw_state_writer_reason(&w),
				    "section 0 (type 0x0009): payload over 67108864 bytes");
		vgw_state_writer_free(&w);
		free(big);
	}
}

/* ---- pipe transfer ---- */

struct feeder {
	int fd;
	const void *buf;
	size_t len;
	int timeout_ms;
	int rc;
	bool close_after;
};

static void *
feeder_main(void *arg)
{
	struct feeder *f = arg;

	f->rc = vgw_state_write_fd(f->fd, f->buf, f->len, f->timeout_ms);
	if (f->close_after)
		close(f->fd);
	return NULL;
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A multi-MiB stream through a pipe, both ends blocking and non-blocking. */
static void
test_fd_transfer(void **state)
{
	const size_t n = (5u << 20) + 123;
	uint8_t *src = malloc(n);

	assert_non_null(src);
	for (size_t i = 0; i < n; i++)
		src[i] = i ^ (i >> 9);
	for (int mode = 0; mode < 4; mode++) {
		struct feeder f = {
			.buf = src, .len = n, .timeout_ms = 10000, .close_after = true
		};
		pthread_t th;
		void *got;
		size_t len;
		int p[2];

		assert_int_equal(pipe(p), 0);
		if (mode & 1)
			fcntl(p[0], F_SETFL, O_NONBLOCK);
		if (mode & 2)
			fcntl(p[1], F_SETFL, O_NONBLOCK);
		f.fd = p[1];
		assert_int_equal(pthread_create(&th, NULL, feeder_main, &f), 0);
		assert_int_equal(vgw_state_read_fd(p[0], n, 10000, &got, &len), 0);
		pthread_join(th, NULL);
		assert_int_equal(f.rc, 0);
		assert_int_equal(len, n);
		assert_memory_equal(got, src, n);
		free(got);
		close(p[0]);
	}
	free(src);
}

static void
test_fd_eof_and_limits(void **state)
{
	uint8_t src[1000];
	struct feeder f = { .buf = src, .timeout_ms = 5000, .close_after = true };
	pthread_t th;
	void *got;
	size_t len;
	int p[2];

	memset(src, 0x5a, sizeof(src));

	/* Immediate EOF: success, nothing. */
	assert_int_equal(pipe(p), 0);
	close(p[1]);
	assert_int_equal(vgw_state_read_fd(p[0], 0, 1000, &got, &len), 0);
	assert_null(got);
	assert_int_equal(len, 0);
	close(p[0]);

	/* Exactly max_bytes is fine, one more is -EFBIG. */
	for (size_t max = 999; max <= 1000; max++) {
		assert_int_equal(pipe(p), 0);
		f.fd = p[1];
		f.len = sizeof(src);
		assert_int_equal(pthread_create(&th, NULL, feeder_main, &f), 0);
		assert_int_equal(vgw_state_read_fd(p[0], max, 5000, &got, &len),
				 max < sizeof(src) ? -EFBIG : 0);
		if (max == sizeof(src)) {
			assert_int_equal(len, sizeof(src));
			free(got);
		} else {
			assert_null(got);
		}
		close(p[0]);
		pthread_join(th, NULL);
	}
}

static void
test_fd_timeout(void **state)
{
	static uint8_t big[1 << 20];
	int64_t t0;
	void *got;
	size_t len;
	int p[2];

	/* Reader: the writer keeps its end open and sends nothing. */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "abc", 3), 3);
	t0 = mono_ms();
	assert_int_equal(vgw_state_read_fd(p[0], 0, 100, &got, &len), -ETIMEDOUT);
	assert_true(mono_ms() - t0 >= 90);
	assert_true(mono_ms() - t0 < 2000);
	assert_null(got);

	/* Writer: nobody reads, the pipe fills up; a blocking fd must not
	 * block past the deadline. */
	t0 = mono_ms();
	assert_int_equal(vgw_state_write_fd(p[1], big, sizeof(big), 100), -ETIMEDOUT);
	assert_true(mono_ms() - t0 >= 90);
	assert_true(mono_ms() - t0 < 2000);
	close(p[0]);
	close(p[1]);

	/* Zero timeout: a write that fits still goes through. */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(vgw_state_write_fd(p[1], "abc", 3, 0), 0);
	close(p[0]);
	close(p[1]);
}

struct cutter {
	int cut_fd;
	int delay_ms;
};

static void *
cutter_main(void *arg)
{
	struct cutter *c = arg;

	usleep((useconds_t)c->delay_ms * 1000u);
	assert_int_equal(eventfd_write(c->cut_fd, 1), 0);
	return NULL;
}

/* A cut ends a transfer whose peer moved on without finishing (a 60 s
 * deadline would otherwise be waited out: the calls return -ECANCELED, not
 * -ETIMEDOUT); what was already there still completes. */
static void
test_fd_cut(void **state)
{
	static uint8_t big[1 << 20];
	struct cutter c = { .delay_ms = 100 };
	pthread_t th;
	void *got;
	size_t len;
	int p[2];

	c.cut_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(c.cut_fd >= 0);

	/* Reader: 3 bytes, the writer's end open, then the cut. */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "abc", 3), 3);
	assert_int_equal(pthread_create(&th, NULL, cutter_main, &c), 0);
	assert_int_equal(vgw_state_read_fd_cut(p[0], 0, 60000, c.cut_fd, &got, &len), -ECANCELED);
	assert_null(got);
	pthread_join(th, NULL);

	/* Writer: nobody reads, the pipe is full, then the cut. */
	assert_int_equal(eventfd_read(c.cut_fd, &(eventfd_t){ 0 }), 0);
	assert_int_equal(pthread_create(&th, NULL, cutter_main, &c), 0);
	assert_int_equal(vgw_state_write_fd_cut(p[1], big, sizeof(big), 60000, c.cut_fd),
			 -ECANCELED);
	pthread_join(th, NULL);
	close(p[0]);
	close(p[1]);

	/* A whole stream and EOF already there when the cut came: read whole. */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "state", 5), 5);
	close(p[1]);
	assert_int_equal(vgw_state_read_fd_cut(p[0], 0, 60000, c.cut_fd, &got, &len), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(got, "state", 5);
	free(got);
	close(p[0]);

	/* A write that fits goes through after the cut. */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(vgw_state_write_fd_cut(p[1], "abc", 3, 60000, c.cut_fd), 0);
	close(p[0]);
	close(p[1]);
	close(c.cut_fd);
}

/* The reader went away: -EPIPE, and no SIGPIPE (whose default action would
 * end this test program). */
static void
test_fd_epipe(void **state)
{
	static uint8_t big[1 << 18];
	sigset_t pending;
	int p[2];

	assert_true(signal(SIGPIPE, SIG_DFL) != SIG_ERR);
	assert_int_equal(pipe(p), 0);
	close(p[0]);
	assert_int_equal(vgw_state_write_fd(p[1], big, sizeof(big), 1000), -EPIPE);
	sigpending(&pending);
	assert_false(sigismember(&pending, SIGPIPE));
	close(p[1]);

	/* Bad fds. */
	assert_int_equal(vgw_state_write_fd(-1, big, 1, 100), -EBADF);
	assert_int_equal(vgw_state_write_fd(p[1], big, 1, 100), -EBADF);
	{
		void *got;
		size_t len;

		assert_int_equal(vgw_state_read_fd(-1, 0, 100, &got, &len), -EBADF);
		assert_int_equal(vgw_state_read_fd(p[0], 0, 100, &got, &len), -EBADF);
	}
}

/* A stream saved through the pipe loads on the other side. */
static void
test_fd_round_trip(void **state)
{
	struct feeder f = { .timeout_ms = 5000, .close_after = true };
	struct vgw_state_reader r;
	struct vgw_state_section s;
	pthread_t th;
	void *got;
	size_t len;
	int p[2];

	f.buf = sample(&f.len);
	assert_int_equal(pipe(p), 0);
	f.fd = p[1];
	assert_int_equal(pthread_create(&th, NULL, feeder_main, &f), 0);
	assert_int_equal(vgw_state_read_fd(p[0], 0, 5000, &got, &len), 0);
	pthread_join(th, NULL);
	close(p[0]);
	assert_int_equal(vgw_state_reader_init(&r, got, len, &expect_net), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(vgw_state_next_section(&r, &s), 1);
	assert_int_equal(vgw_state_next_section(&r, &s), 0);
	free(got);
	free((void *)f.buf);
}

/* A DEVICE_STATE fd open the wrong way for its direction is refused at
 * once: a pipe's write end given for a load was polled for input for the
 * deadline's whole time, and the event thread that joins the transfer
 * with it (fuzz_vhost_msg's state-load-wrong-end). */
static void
test_fd_usable(void **state)
{
	int p[2], ro, fd;

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(vgw_state_fd_usable(p[0], false), 0);
	assert_int_equal(vgw_state_fd_usable(p[0], true), -EINVAL);
	assert_int_equal(vgw_state_fd_usable(p[1], true), 0);
	assert_int_equal(vgw_state_fd_usable(p[1], false), -EINVAL);
	ro = open("/dev/null", O_RDONLY);
	assert_true(ro >= 0);
	assert_int_equal(vgw_state_fd_usable(ro, false), 0);
	assert_int_equal(vgw_state_fd_usable(ro, true), -EINVAL);
	fd = open("/dev/null", O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(vgw_state_fd_usable(fd, false), 0);
	assert_int_equal(vgw_state_fd_usable(fd, true), 0);
	close(fd);
	fd = open("/dev/null", O_PATH);
	assert_true(fd >= 0);
	assert_int_equal(vgw_state_fd_usable(fd, false), -EINVAL);
	assert_int_equal(vgw_state_fd_usable(fd, true), -EINVAL);
	close(fd);
	close(ro);
	close(p[0]);
	close(p[1]);
	assert_int_equal(vgw_state_fd_usable(p[0], false), -EBADF);
	assert_int_equal(vgw_state_fd_usable(-1, true), -EBADF);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc_vectors),   cmocka_unit_test(test_golden),
		cmocka_unit_test(test_round_trip),    cmocka_unit_test(test_round_trip_large),
		cmocka_unit_test(test_skip_unknown),  cmocka_unit_test(test_unknown_critical),
		cmocka_unit_test(test_section_grows), cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_bit_flips),     cmocka_unit_test(test_header),
		cmocka_unit_test(test_dev_type),      cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_reader_limits), cmocka_unit_test(test_get_past_end),
		cmocka_unit_test(test_section_fail),  cmocka_unit_test(test_write_errors),
		cmocka_unit_test(test_fd_transfer),   cmocka_unit_test(test_fd_eof_and_limits),
		cmocka_unit_test(test_fd_timeout),    cmocka_unit_test(test_fd_epipe),
		cmocka_unit_test(test_fd_cut),	      cmocka_unit_test(test_fd_round_trip),
		cmocka_unit_test(test_fd_usable),
	};

	return cmocka_run_group_tests_name("state", tests, NULL, NULL);
}
