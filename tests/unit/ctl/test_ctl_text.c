/* SPDX-License-Identifier: BSD-3-Clause */

/* Unit tests of the control socket's reply text (lib/ctl/ctl_text.c),
 * built without DPDK: an error message that quotes a client's request,
 * cut at a byte limit in the middle of a character, is made valid UTF-8,
 * so that jansson makes the reply (it made none, and the client was
 * dropped as if the gateway were out of memory: fuzz_ctl found it). */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "ctl_text.h"

static void
expect_fix(const char *in, const char *out, size_t fixed)
{
	char buf[64];
	json_t *s;

	snprintf(buf, sizeof(buf), "%s", in);
	assert_int_equal(vgw_ctl_utf8_fix(buf), fixed);
	assert_string_equal(buf, out);
	s = json_string(buf);
	assert_non_null(s);
	json_decref(s);
}

static void
test_valid_unchanged(void **state)
{
	(void)state;
	expect_fix("", "", 0);
	expect_fix("unknown command \"help\"", "unknown command \"help\"", 0);
	expect_fix("\xc3\xa9t\xc3\xa9", "\xc3\xa9t\xc3\xa9", 0); /* 2 bytes */
	expect_fix("\xe2\x82\xac", "\xe2\x82\xac", 0);		 /* 3: euro */
	expect_fix("\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80", 0);	 /* 4: U+1F600 */
	expect_fix("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf", 0);	 /* U+10FFFF */
	expect_fix("\xed\x9f\xbf\xee\x80\x80", "\xed\x9f\xbf\xee\x80\x80",
		   0); /* around surrogates */
}

static void
test_cut(void **state)
{
	(void)state;
	expect_fix("ab\xc3", "ab?", 1);
	expect_fix("ab\xe2\x82", "ab??", 2);
	expect_fix("ab\xf0\x9f\x98", "ab???", 3);
	/* cut in the middle of the text (jansson's "near '...'" quote) */
	expect_fix("near '\xc3\xa9\xc3' at", "near '\xc3\xa9?' at", 1);
}

static void
test_invalid(void **state)
{
	(void)state;
	expect_fix("\x80x", "?x", 1);		   /* a lone continuation byte */
	expect_fix("\xc0\xaf", "??", 2);	   /* overlong '/' */
	expect_fix("\xe0\x80\xaf", "???", 3);	   /* overlong, 3 bytes */
	expect_fix("\xf0\x80\x80\xaf", "????", 4); /* overlong, 4 bytes */
	expect_fix("\xed\xa0\x80", "???", 3);	   /* a surrogate */
	expect_fix("\xf4\x90\x80\x80", "????", 4); /* past U+10FFFF */
	expect_fix("\xf5\x80\x80\x80", "????", 4); /* no such lead byte */
	expect_fix("\xfe\xff", "??", 2);
}

/* What vgw_ctl_error() does: a message over its 512 bytes quoting a
 * command name of two-byte characters, cut in one. */
static void
test_error_message(void **state)
{
	char name[700], msg[512];
	json_t *r;

	(void)state;
	name[0] = 'a';
	for (size_t i = 1; i + 2 < sizeof(name); i += 2)
		memcpy(name + i, "\xc3\xa9", 2);
	name[sizeof(name) - 1] = '\0';
	snprintf(msg, sizeof(msg), "unknown command \"%s\" (try \"help\")", name);
	assert_null(json_pack("{s:b, s:s}", "ok", 0, "error", msg)); /* jansson refuses */
	assert_int_equal(vgw_ctl_utf8_fix(msg), 1);
	r = json_pack("{s:b, s:s}", "ok", 0, "error", msg);
	assert_non_null(r);
	assert_int_equal(strlen(json_string_value(json_object_get(r, "error"))), sizeof(msg) - 1);
	json_decref(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_unchanged),
		cmocka_unit_test(test_cut),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_error_message),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
