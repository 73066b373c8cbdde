/* SPDX-License-Identifier: BSD-3-Clause */
/* What the fuzz targets share. The targets that compile sources calling
 * DPDK (fuzz_ctl, fuzz_vhost_msg) link fuzz_stubs.c: rte_log, the log
 * type registration and rte_log_set_level_pattern stubbed, no EAL.
 * fz_open_fds() is header-only, for the targets that check no fd is left
 * open (fuzz_keeper_msg, fuzz_vhost_msg). */
#ifndef VGW_FUZZ_STUBS_H
#define VGW_FUZZ_STUBS_H

#include <dirent.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

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

/* Is the count of open fds n again (a transfer thread may still be closing
 * one)? If not, what is open goes to stderr for the report. */
static inline bool
fz_open_fds_are(unsigned int n)
{
	DIR *d;
	struct dirent *e;

	for (int i = 0; i < 200; i++) {
		if (fz_open_fds() == n)
			return true;
		usleep(1000);
	}
	/* what is open, for the report */
	d = opendir("/proc/self/fd");
	while (d != NULL && (e = readdir(d)) != NULL) {
		char path[300], to[256];
		ssize_t k;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		k = readlink(path, to, sizeof(to) - 1);
		to[k > 0 ? k : 0] = '\0';
		fprintf(stderr, "fd %s -> %s\n", e->d_name, to);
	}
	if (d != NULL)
		closedir(d);
	return false;
}

#endif
