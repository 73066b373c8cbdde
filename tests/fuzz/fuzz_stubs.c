/* SPDX-License-Identifier: BSD-3-Clause */
/* rte_log stubbed for the fuzz targets that compile DPDK-using sources
 * with DPDK's headers only (fuzz_stubs.h). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include <rte_log.h>

#include "fuzz_stubs.h"

void (*fz_log_hook)(const char *line);

int
rte_log_register_type_and_pick_level(const char *name, uint32_t level_def)
{
	(void)name;
	(void)level_def;
	return 0;
}

int
rte_log(uint32_t level, uint32_t logtype, const char *format, ...)
{
	char line[1024];
	va_list ap;

	(void)level;
	(void)logtype;
	if (fz_log_hook == NULL)
		return 0;
	va_start(ap, format);
	vsnprintf(line, sizeof(line), format, ap);
	va_end(ap);
	fz_log_hook(line);
	return 0;
}

int
rte_log_set_level_pattern(const char *pattern, uint32_t level)
{
	(void)level;
	return pattern[0] == '\0' ? -1 : 0;
}
