/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vgw_common.h"

void
vgw_errlist_init(struct vgw_errlist *e)
{
	e->lines = NULL;
	e->n = 0;
	e->cap = 0;
}

void
vgw_errlist_vadd(struct vgw_errlist *e, const char *fmt, va_list ap)
{
	char *line;

	if (vasprintf(&line, fmt, ap) < 0)
		return;
	if (e->n == e->cap) {
		unsigned int cap = e->cap ? e->cap * 2 : 8;
		char **l = realloc(e->lines, cap * sizeof(*l));

		if (l == NULL) {
			free(line);
			return;
		}
		e->lines = l;
		e->cap = cap;
	}
	e->lines[e->n++] = line;
}

void
vgw_errlist_add(struct vgw_errlist *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vgw_errlist_vadd(e, fmt, ap);
	va_end(ap);
}

void
vgw_errlist_free(struct vgw_errlist *e)
{
	for (unsigned int i = 0; i < e->n; i++)
		free(e->lines[i]);
	free(e->lines);
	vgw_errlist_init(e);
}

int
vgw_strlcpy_checked(char *dst, const char *src, size_t n)
{
	size_t l = strlen(src);

	if (l >= n)
		return -ENAMETOOLONG;
	memcpy(dst, src, l + 1);
	return 0;
}
