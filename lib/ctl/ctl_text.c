/* SPDX-License-Identifier: BSD-3-Clause */
/* The text of the control socket's replies (ctl_text.h). */
#include <stdint.h>

#include "ctl_text.h"

/* The length of the valid UTF-8 sequence at p (RFC 3629, as jansson
 * checks it), or 0. */
static size_t
utf8_seq(const unsigned char *p)
{
	unsigned char c = p[0];
	size_t n;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0; /* a continuation byte, an overlong lead, or past U+10FFFF */
	}
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0; /* cut (the NUL included) */
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

size_t
vgw_ctl_utf8_fix(char *s)
{
	unsigned char *p = (unsigned char *)s;
	size_t fixed = 0, n;

	while (*p != '\0') {
		n = utf8_seq(p);
		if (n == 0) {
			*p++ = '?';
			fixed++;
		} else {
			p += n;
		}
	}
	return fixed;
}
