/* SPDX-License-Identifier: BSD-3-Clause */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_keeper_common.h"

void
tk_msg(struct vk_msg *m, const struct tk_row *row)
{
	memset(m, 0, sizeof(*m));
	m->request = row->request;
	m->flags = row->flags;
	m->size = row->size;
	memcpy(m->payload, &row->w0, sizeof(row->w0));
	memcpy(m->payload + 4, &row->w1, sizeof(row->w1));
	for (m->n_fds = 0; m->n_fds < row->n_fds; m->n_fds++) {
		m->fds[m->n_fds] = open("/dev/null", O_RDWR | O_CLOEXEC);
		assert_true(m->fds[m->n_fds] >= 0);
	}
}

void
tk_msg_raw(struct vk_msg *m, uint32_t request, const void *payload, uint32_t size)
{
	memset(m, 0, sizeof(*m));
	m->request = request;
	m->flags = TK_V;
	m->size = size;
	if (size > 0)
		memcpy(m->payload, payload, size);
}

int
tk_fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

bool
tk_same_file(int a, int b)
{
	struct stat sa, sb;

	if (fstat(a, &sa) < 0 || fstat(b, &sb) < 0)
		return false;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int
tk_eventfd(void)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	assert_true(fd >= 0);
	return fd;
}

bool
tk_event_works(int a, int b)
{
	uint64_t v = 42, got = 0;

	return write(a, &v, sizeof(v)) == sizeof(v) && read(b, &got, sizeof(got)) == sizeof(got) &&
	       got == 42;
}
