/* SPDX-License-Identifier: BSD-3-Clause */
/* What the fuzz targets share. The targets that compile sources calling
 * DPDK (fuzz_ctl, fuzz_vhost_msg) link fuzz_stubs.c: rte_log, the log
 * type registration and rte_log_set_level_pattern stubbed, no EAL.
 * fz_open_fds() is header-only, for the targets that check no fd is left
 * open (fuzz_keeper_msg, fuzz_vhost_msg). */
#ifndef VGW_FUZZ_STUBS_H
#define VGW_FUZZ_STUBS_H

#include <dirent.h>
#include <stdlib.h>

/* fuzz_stubs.c: every line logged goes to this hook when one is set (a
 * target that checks what is logged), else nowhere. */
extern void (*fz_log_hook)(const char *line);

/* The fds this process holds open. */
static inline unsigned int
fz_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned int n = 0;

	if (d == NULL)
		abort();
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

#endif
