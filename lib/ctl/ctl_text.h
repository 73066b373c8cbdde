/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef VGW_CTL_TEXT_H
#define VGW_CTL_TEXT_H

/* The text of the control socket's replies. jansson takes only valid
 * UTF-8 (json_string and json_pack fail on anything else), and an error
 * message is made of what a client sent, cut at a byte limit: by
 * vsnprintf in vgw_ctl_error(), or by jansson in the "near '...'" quote of
 * a parse error, possibly in the middle of a character. No DPDK. */

#include <stddef.h>

/* Make s valid UTF-8 in place: every byte of an invalid, overlong or cut
 * sequence (surrogates and code points past U+10FFFF included) becomes
 * '?'. The number of bytes replaced. */
size_t vgw_ctl_utf8_fix(char *s);

#endif /* VGW_CTL_TEXT_H */
