/* SPDX-License-Identifier: BSD-3-Clause */
/* Device-state codec: writer and reader. The format is described in
 * vgw_state.h. */

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vgw_state.h"

static const uint8_t hdr_magic[4] = { 'V', 'G', 'W', 'S' };
static const uint8_t end_magic[4] = { 'V', 'G', 'W', 'E' };

/* Header field offsets. */
#define H_MAGIC 0
#define H_VERSION 4
#define H_FLAGS 6
#define H_DEV_TYPE 8
#define H_TOTAL 24
#define H_COUNT 32
#define H_CRC 36

/* Section header field offsets. */
#define S_TYPE 0
#define S_VERSION 2
#define S_FLAGS 4
#define S_RESERVED 6
#define S_LEN 8
#define S_CRC 12

#define WRITER_MIN_CAP 4096

static inline void
le16_put(uint8_t *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}

static inline void
le32_put(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}

static inline void
le64_put(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = v >> (8 * i);
}

static inline uint16_t
le16_get(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t
le32_get(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t
le64_get(const uint8_t *p)
{
	return (uint64_t)le32_get(p) | (uint64_t)le32_get(p + 4) << 32;
}

static inline uint64_t
align8(uint64_t n)
{
	return (n + VGW_STATE_ALIGN - 1) & ~(uint64_t)(VGW_STATE_ALIGN - 1);
}

/* A device type is 1..15 printable ASCII bytes without spaces, so that it
 * can be printed in a reason as is. */
static bool
dev_type_valid(const char *s, size_t n)
{
	if (n == 0 || n >= VGW_STATE_DEV_TYPE_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return false;
	return true;
}

/* ---- writer ---- */

static int __attribute__((format(__printf__, 3, 4)))
w_fail(struct vgw_state_writer *w, int err, const char *fmt, ...)
{
	va_list ap;

	if (w->err != 0)
		return w->err;
	w->err = err;
	va_start(ap, fmt);
	vsnprintf(w->reason, sizeof(w->reason), fmt, ap);
	va_end(ap);
	return err;
}

/* Grow the buffer to hold need bytes; the cap was checked by the caller. */
static int
w_grow(struct vgw_state_writer *w, size_t need)
{
	size_t cap;
	uint8_t *b;

	if (need <= w->cap)
		return 0;
	cap = w->cap ? w->cap : WRITER_MIN_CAP;
	while (cap < need)
		cap *= 2;
	if (cap > w->max)
		cap = w->max;
	b = realloc(w->buf, cap);
	if (b == NULL)
		return w_fail(w, -ENOMEM, "out of memory (%zu bytes)", cap);
	w->buf = b;
	w->cap = cap;
	return 0;
}

/* Make room for n more bytes at w->len. The cap is checked against what
 * the stream would be if it were finished right after them (padding and
 * trailer included), so finishing can never exceed it. */
static int
w_reserve(struct vgw_state_writer *w, size_t n)
{
	if (w->err != 0)
		return w->err;
	if (n > w->max || align8(w->len + n) + VGW_STATE_TRAILER_SIZE > w->max)
		return w_fail(w, -EFBIG, "stream cap of %zu bytes exceeded", w->max);
	return w_grow(w, w->len + n);
}

int
vgw_state_writer_init(struct vgw_state_writer *w, const char *dev_type, size_t max_bytes)
{
	memset(w, 0, sizeof(*w));
	w->sec_start = SIZE_MAX;
	w->max = max_bytes && max_bytes < VGW_STATE_MAX_STREAM ? max_bytes : VGW_STATE_MAX_STREAM;
	if (dev_type == NULL ||
	    !dev_type_valid(dev_type, strnlen(dev_type, VGW_STATE_DEV_TYPE_MAX)))
		return w_fail(w, -EINVAL, "invalid device type");
	strcpy(w->dev_type, dev_type);
	if (w_reserve(w, VGW_STATE_HDR_SIZE) != 0)
		return w->err;
	/* Filled in by finish. */
	memset(w->buf, 0, VGW_STATE_HDR_SIZE);
	w->len = VGW_STATE_HDR_SIZE;
	return 0;
}

int
vgw_state_section_begin(struct vgw_state_writer *w, uint16_t type, uint16_t version, uint16_t flags)
{
	uint8_t *h;

	if (w->err != 0)
		return w->err;
	if (w->sec_start != SIZE_MAX)
		return w_fail(w, -EINVAL,
			      "section %u (type 0x%04x) begun inside section %u (type 0x%04x)",
			      w->n_sections + 1, type, w->n_sections, w->sec_type);
	if (flags & ~VGW_STATE_F_CRITICAL)
		return w_fail(w, -EINVAL, "section %u (type 0x%04x): unknown flags 0x%04x",
			      w->n_sections, type, flags);
	if (w->n_sections >= VGW_STATE_MAX_SECTIONS)
		return w_fail(w, -E2BIG, "more than %u sections", VGW_STATE_MAX_SECTIONS);
	if (w_reserve(w, VGW_STATE_SEC_HDR_SIZE) != 0)
		return w->err;
	h = w->buf + w->len;
	memset(h, 0, VGW_STATE_SEC_HDR_SIZE);
	le16_put(h + S_TYPE, type);
	le16_put(h + S_VERSION, version);
	le16_put(h + S_FLAGS, flags);
	w->sec_start = w->len;
	w->sec_type = type;
	w->len += VGW_STATE_SEC_HDR_SIZE;
	return 0;
}

int
vgw_state_put_bytes(struct vgw_state_writer *w, const void *p, size_t n)
{
	size_t payload;

	if (w->err != 0)
		return w->err;
	if (w->sec_start == SIZE_MAX)
		return w_fail(w, -EINVAL, "put outside a section");
	payload = w->len - w->sec_start - VGW_STATE_SEC_HDR_SIZE;
	if (n > VGW_STATE_MAX_SECTION - payload)
		return w_fail(w, -EFBIG, "section %u (type 0x%04x): payload over %u bytes",
			      w->n_sections, w->sec_type, VGW_STATE_MAX_SECTION);
	if (w_reserve(w, n) != 0)
		return w->err;
	if (n > 0)
		memcpy(w->buf + w->len, p, n);
	w->len += n;
	return 0;
}

int
vgw_state_put_u8(struct vgw_state_writer *w, uint8_t v)
{
	return vgw_state_put_bytes(w, &v, 1);
}

int
vgw_state_put_u16(struct vgw_state_writer *w, uint16_t v)
{
	uint8_t b[2];

	le16_put(b, v);
	return vgw_state_put_bytes(w, b, sizeof(b));
}

int
vgw_state_put_u32(struct vgw_state_writer *w, uint32_t v)
{
	uint8_t b[4];

	le32_put(b, v);
	return vgw_state_put_bytes(w, b, sizeof(b));
}

int
vgw_state_put_u64(struct vgw_state_writer *w, uint64_t v)
{
	uint8_t b[8];

	le64_put(b, v);
	return vgw_state_put_bytes(w, b, sizeof(b));
}

int
vgw_state_put_str(struct vgw_state_writer *w, const char *s)
{
	size_t n = strlen(s);

	if (w->err != 0)
		return w->err;
	if (n > VGW_STATE_MAX_SECTION)
		return w_fail(w, -EFBIG, "section %u (type 0x%04x): payload over %u bytes",
			      w->n_sections, w->sec_type, VGW_STATE_MAX_SECTION);
	vgw_state_put_u32(w, (uint32_t)n);
	return vgw_state_put_bytes(w, s, n);
}

int
vgw_state_section_end(struct vgw_state_writer *w)
{
	size_t payload, pad;
	uint8_t *h;
	uint32_t crc;

	if (w->err != 0)
		return w->err;
	if (w->sec_start == SIZE_MAX)
		return w_fail(w, -EINVAL, "section end without a section");
	payload = w->len - w->sec_start - VGW_STATE_SEC_HDR_SIZE;
	pad = align8(payload) - payload;
	/* w_reserve already counted the padding, so this cannot fail on the
	 * cap; it may only have to grow the buffer. */
	if (w_reserve(w, pad) != 0)
		return w->err;
	memset(w->buf + w->len, 0, pad);
	w->len += pad;
	h = w->buf + w->sec_start;
	le32_put(h + S_LEN, (uint32_t)payload);
	crc = vgw_crc32c(0, h, S_CRC);
	crc = vgw_crc32c(crc, h + VGW_STATE_SEC_HDR_SIZE, payload + pad);
	le32_put(h + S_CRC, crc);
	w->sec_start = SIZE_MAX;
	w->n_sections++;
	return 0;
}

void
vgw_state_writer_free(struct vgw_state_writer *w)
{
	free(w->buf);
	w->buf = NULL;
	w->len = 0;
	w->cap = 0;
	w->sec_start = SIZE_MAX;
}

int
vgw_state_finish(struct vgw_state_writer *w, void **buf, size_t *len)
{
	uint8_t *h, *t;

	*buf = NULL;
	*len = 0;
	if (w->err == 0 && w->sec_start != SIZE_MAX)
		w_fail(w, -EINVAL, "section %u (type 0x%04x) left open", w->n_sections,
		       w->sec_type);
	if (w->err == 0)
		w_grow(w, w->len + VGW_STATE_TRAILER_SIZE);
	if (w->err != 0) {
		vgw_state_writer_free(w);
		return w->err;
	}
	h = w->buf;
	memcpy(h + H_MAGIC, hdr_magic, sizeof(hdr_magic));
	le16_put(h + H_VERSION, VGW_STATE_FORMAT_VERSION);
	le16_put(h + H_FLAGS, 0);
	memset(h + H_DEV_TYPE, 0, VGW_STATE_DEV_TYPE_MAX);
	memcpy(h + H_DEV_TYPE, w->dev_type, strlen(w->dev_type));
	le64_put(h + H_TOTAL, w->len + VGW_STATE_TRAILER_SIZE);
	le32_put(h + H_COUNT, w->n_sections);
	le32_put(h + H_CRC, vgw_crc32c(0, h, H_CRC));
	t = w->buf + w->len;
	memcpy(t, end_magic, sizeof(end_magic));
	le32_put(t + 4, vgw_crc32c(0, w->buf, w->len + 4));
	*buf = w->buf;
	*len = w->len + VGW_STATE_TRAILER_SIZE;
	w->buf = NULL;
	vgw_state_writer_free(w);
	return 0;
}

const char *
vgw_state_writer_reason(const struct vgw_state_writer *w)
{
	return w->reason;
}

/* ---- reader ---- */

static int __attribute__((format(__printf__, 3, 4)))
r_fail(struct vgw_state_reader *r, int err, const char *fmt, ...)
{
	va_list ap;

	if (r->err != 0)
		return r->err;
	r->err = err;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
	return err;
}

static bool
r_known(const struct vgw_state_reader *r, uint16_t type)
{
	if (r->known == NULL)
		return true;
	for (unsigned int i = 0; i < r->n_known; i++)
		if (r->known[i] == type)
			return true;
	return false;
}

static int
r_header(struct vgw_state_reader *r, size_t max_bytes, uint32_t max_sections)
{
	const uint8_t *h = r->buf;
	uint16_t version;
	uint64_t total;
	size_t n;

	if (r->len > max_bytes)
		return r_fail(r, -EFBIG, "stream: %zu bytes exceed the limit of %zu", r->len,
			      max_bytes);
	if (r->len < VGW_STATE_HDR_SIZE)
		return r_fail(r, -EBADMSG, "header: truncated: %zu bytes, need at least %d", r->len,
			      VGW_STATE_HDR_SIZE);
	if (memcmp(h + H_MAGIC, hdr_magic, sizeof(hdr_magic)) != 0)
		return r_fail(r, -EBADMSG, "header: bad magic (not a device-state stream)");
	/* The version is checked before the CRC: a newer format may lay out
	 * (and checksum) its header differently, and the reader should say
	 * "too new" rather than "corrupt". */
	version = le16_get(h + H_VERSION);
	if (version == 0)
		return r_fail(r, -EBADMSG, "header: format version 0 invalid");
	if (version > VGW_STATE_FORMAT_VERSION)
		return r_fail(r, -EPROTONOSUPPORT,
			      "header: format version %u is newer than this reader's (%u)", version,
			      VGW_STATE_FORMAT_VERSION);
	if (le32_get(h + H_CRC) != vgw_crc32c(0, h, H_CRC))
		return r_fail(r, -EBADMSG, "header: crc mismatch");
	r->flags = le16_get(h + H_FLAGS);
	if (r->flags != 0)
		return r_fail(r, -EBADMSG, "header: unknown flags 0x%04x", r->flags);
	total = le64_get(h + H_TOTAL);
	if (total != r->len)
		return r_fail(r, -EBADMSG, "header: total length %llu but %zu bytes given",
			      (unsigned long long)total, r->len);
	if (total < VGW_STATE_HDR_SIZE + VGW_STATE_TRAILER_SIZE)
		return r_fail(r, -EBADMSG,
			      "header: total length %llu leaves no room for the trailer",
			      (unsigned long long)total);
	if (total % VGW_STATE_ALIGN != 0)
		return r_fail(r, -EBADMSG, "header: total length %llu not a multiple of %d",
			      (unsigned long long)total, VGW_STATE_ALIGN);
	r->n_sections = le32_get(h + H_COUNT);
	if (r->n_sections > max_sections)
		return r_fail(r, -EFBIG, "header: section count %u exceeds the limit of %u",
			      r->n_sections, max_sections);
	n = strnlen((const char *)h + H_DEV_TYPE, VGW_STATE_DEV_TYPE_MAX);
	if (!dev_type_valid((const char *)h + H_DEV_TYPE, n))
		return r_fail(r, -EBADMSG, "header: device type malformed");
	for (size_t i = n; i < VGW_STATE_DEV_TYPE_MAX; i++)
		if (h[H_DEV_TYPE + i] != 0)
			return r_fail(r, -EBADMSG, "header: device type not zero-padded");
	memcpy(r->dev_type, h + H_DEV_TYPE, n);
	r->dev_type[n] = '\0';
	r->end = r->len - VGW_STATE_TRAILER_SIZE;
	return 0;
}

/* Walk every section, checking its bounds, CRC and reserved fields. Unknown
 * critical sections are only reported once the whole stream is known to be
 * intact, so that corruption is never mistaken for a newer writer. */
static int
r_sections(struct vgw_state_reader *r, uint32_t max_section, uint32_t *crit_index,
	   int32_t *crit_type)
{
	size_t pos = VGW_STATE_HDR_SIZE;
	uint32_t idx = 0;

	*crit_type = -1;
	while (pos < r->end) {
		const uint8_t *s = r->buf + pos;
		size_t left = r->end - pos;
		uint16_t type, flags, rsvd;
		uint32_t plen, crc;
		uint64_t padded;

		if (left < VGW_STATE_SEC_HDR_SIZE)
			return r_fail(r, -EBADMSG,
				      "section %u: header truncated (%zu bytes left, need %d)", idx,
				      left, VGW_STATE_SEC_HDR_SIZE);
		left -= VGW_STATE_SEC_HDR_SIZE;
		type = le16_get(s + S_TYPE);
		plen = le32_get(s + S_LEN);
		if (plen > max_section)
			return r_fail(r, -EFBIG,
				      "section %u (type 0x%04x): length %u exceeds the limit of %u",
				      idx, type, plen, max_section);
		padded = align8(plen);
		if (padded > left)
			return r_fail(
				r, -EBADMSG,
				"section %u (type 0x%04x): length %u runs past the end (%zu bytes left)",
				idx, type, plen, left);
		crc = vgw_crc32c(0, s, S_CRC);
		crc = vgw_crc32c(crc, s + VGW_STATE_SEC_HDR_SIZE, padded);
		if (crc != le32_get(s + S_CRC))
			return r_fail(r, -EBADMSG, "section %u (type 0x%04x): crc mismatch", idx,
				      type);
		rsvd = le16_get(s + S_RESERVED);
		if (rsvd != 0)
			return r_fail(r, -EBADMSG,
				      "section %u (type 0x%04x): reserved field 0x%04x not zero",
				      idx, type, rsvd);
		flags = le16_get(s + S_FLAGS);
		if (flags & ~VGW_STATE_F_CRITICAL)
			return r_fail(r, -EBADMSG, "section %u (type 0x%04x): unknown flags 0x%04x",
				      idx, type, flags);
		for (uint64_t i = plen; i < padded; i++)
			if (s[VGW_STATE_SEC_HDR_SIZE + i] != 0)
				return r_fail(r, -EBADMSG,
					      "section %u (type 0x%04x): padding not zero", idx,
					      type);
		if (!r_known(r, type)) {
			if ((flags & VGW_STATE_F_CRITICAL) && *crit_type < 0) {
				*crit_type = type;
				*crit_index = idx;
			}
			r->n_skipped++;
		}
		pos += VGW_STATE_SEC_HDR_SIZE + padded;
		idx++;
	}
	if (idx != r->n_sections)
		return r_fail(r, -EBADMSG, "header: section count %u but %u sections present",
			      r->n_sections, idx);
	return 0;
}

int
vgw_state_reader_init(struct vgw_state_reader *r, const void *buf, size_t len,
		      const struct vgw_state_expect *exp)
{
	static const struct vgw_state_expect dflt;
	const uint8_t *t;
	uint32_t max_sections, max_section, crit_index = 0;
	int32_t crit_type;
	size_t max_bytes;

	memset(r, 0, sizeof(*r));
	if (exp == NULL)
		exp = &dflt;
	r->buf = buf;
	r->len = len;
	r->known = exp->known;
	r->n_known = exp->n_known;
	if (buf == NULL && len != 0)
		return r_fail(r, -EINVAL, "stream: no buffer");
	max_sections = exp->max_sections && exp->max_sections < VGW_STATE_MAX_SECTIONS ?
			       exp->max_sections :
			       VGW_STATE_MAX_SECTIONS;
	max_section = exp->max_section && exp->max_section < VGW_STATE_MAX_SECTION ?
			      exp->max_section :
			      VGW_STATE_MAX_SECTION;
	max_bytes = exp->max_bytes && exp->max_bytes < VGW_STATE_MAX_STREAM ? exp->max_bytes :
									      VGW_STATE_MAX_STREAM;

	if (r_header(r, max_bytes, max_sections) != 0 ||
	    r_sections(r, max_section, &crit_index, &crit_type) != 0)
		return r->err;
	t = r->buf + r->end;
	if (memcmp(t, end_magic, sizeof(end_magic)) != 0)
		return r_fail(r, -EBADMSG, "trailer: bad magic");
	if (le32_get(t + 4) != vgw_crc32c(0, r->buf, r->end + 4))
		return r_fail(r, -EBADMSG, "trailer: crc mismatch");

	/* Intact: now whether this reader can take it. */
	if (exp->dev_type != NULL && strcmp(exp->dev_type, r->dev_type) != 0)
		return r_fail(r, -ENODEV, "header: device type '%s' but '%.15s' expected",
			      r->dev_type, exp->dev_type);
	if (crit_type >= 0)
		return r_fail(r, -EOPNOTSUPP, "section %u: unknown critical section type 0x%04x",
			      crit_index, (unsigned int)crit_type);
	r->pos = VGW_STATE_HDR_SIZE;
	return 0;
}

const char *
vgw_state_reader_reason(const struct vgw_state_reader *r)
{
	return r->reason;
}

int
vgw_state_next_section(struct vgw_state_reader *r, struct vgw_state_section *sec)
{
	if (r->err != 0)
		return r->err;
	while (r->pos < r->end) {
		const uint8_t *s = r->buf + r->pos;
		uint32_t plen = le32_get(s + S_LEN);
		uint16_t type = le16_get(s + S_TYPE);
		uint32_t idx = r->next_index++;

		r->pos += VGW_STATE_SEC_HDR_SIZE + align8(plen);
		if (!r_known(r, type))
			continue;
		memset(sec, 0, sizeof(*sec));
		sec->r = r;
		sec->data = s + VGW_STATE_SEC_HDR_SIZE;
		sec->len = plen;
		sec->index = idx;
		sec->type = type;
		sec->version = le16_get(s + S_VERSION);
		sec->flags = le16_get(s + S_FLAGS);
		return 1;
	}
	return 0;
}

static int
s_vfail(struct vgw_state_section *s, int err, const char *fmt, va_list ap)
{
	struct vgw_state_reader *r = s->r;
	int n;

	if (s->err != 0)
		return s->err;
	s->err = err;
	if (r == NULL || r->err != 0)
		return err;
	r->err = err;
	n = snprintf(r->reason, sizeof(r->reason), "section %u (type 0x%04x): ", s->index, s->type);
	if (n > 0 && (size_t)n < sizeof(r->reason))
		vsnprintf(r->reason + n, sizeof(r->reason) - n, fmt, ap);
	return err;
}

int
vgw_state_section_fail(struct vgw_state_section *s, int err, const char *fmt, ...)
{
	va_list ap;

	/* A failure must stay a failure, whatever the caller passed. */
	if (err >= 0)
		err = -EBADMSG;
	va_start(ap, fmt);
	err = s_vfail(s, err, fmt, ap);
	va_end(ap);
	return err;
}

/* The next n bytes of the section, not consumed yet; NULL (and a reason)
 * if they run past its end. */
static const uint8_t *
s_peek(struct vgw_state_section *s, size_t n, const char *what)
{
	if (s->err != 0)
		return NULL;
	if (n > s->len - s->pos) {
		vgw_state_section_fail(s, -EBADMSG,
				       "%s of %zu bytes at offset %u runs past the end (length %u)",
				       what, n, s->pos, s->len);
		return NULL;
	}
	return s->data + s->pos;
}

int
vgw_state_get_u8(struct vgw_state_section *s, uint8_t *v)
{
	const uint8_t *p = s_peek(s, 1, "u8");

	if (p == NULL)
		return s->err;
	*v = *p;
	s->pos += 1;
	return 0;
}

int
vgw_state_get_u16(struct vgw_state_section *s, uint16_t *v)
{
	const uint8_t *p = s_peek(s, 2, "u16");

	if (p == NULL)
		return s->err;
	*v = le16_get(p);
	s->pos += 2;
	return 0;
}

int
vgw_state_get_u32(struct vgw_state_section *s, uint32_t *v)
{
	const uint8_t *p = s_peek(s, 4, "u32");

	if (p == NULL)
		return s->err;
	*v = le32_get(p);
	s->pos += 4;
	return 0;
}

int
vgw_state_get_u64(struct vgw_state_section *s, uint64_t *v)
{
	const uint8_t *p = s_peek(s, 8, "u64");

	if (p == NULL)
		return s->err;
	*v = le64_get(p);
	s->pos += 8;
	return 0;
}

int
vgw_state_get_ref(struct vgw_state_section *s, const void **p, size_t n)
{
	const uint8_t *q = s_peek(s, n, "read");

	if (q == NULL)
		return s->err;
	*p = q;
	s->pos += n;
	return 0;
}

int
vgw_state_get_bytes(struct vgw_state_section *s, void *p, size_t n)
{
	const uint8_t *q = s_peek(s, n, "read");

	if (q == NULL)
		return s->err;
	if (n > 0)
		memcpy(p, q, n);
	s->pos += n;
	return 0;
}

int
vgw_state_get_str(struct vgw_state_section *s, char *dst, size_t size)
{
	const uint8_t *p = s_peek(s, 4, "string length");
	uint32_t n;

	if (p == NULL)
		return s->err;
	n = le32_get(p);
	if (n > s->len - s->pos - 4)
		return vgw_state_section_fail(
			s, -EBADMSG,
			"string of %u bytes at offset %u runs past the end (length %u)", n, s->pos,
			s->len);
	p += 4;
	if (memchr(p, '\0', n) != NULL)
		return vgw_state_section_fail(s, -EBADMSG, "string at offset %u holds a NUL",
					      s->pos);
	if (n >= size)
		return vgw_state_section_fail(s, -ENAMETOOLONG,
					      "string of %u bytes at offset %u does not fit in %zu",
					      n, s->pos, size);
	memcpy(dst, p, n);
	dst[n] = '\0';
	s->pos += 4 + n;
	return 0;
}

size_t
vgw_state_section_remaining(const struct vgw_state_section *s)
{
	return s->len - s->pos;
}
