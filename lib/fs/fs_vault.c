/* SPDX-License-Identifier: BSD-3-Clause */
/* The vault: the fds of files unlinked while the session still holds
 * them, kept across a crash of the gateway (doc/keeper.rst).
 *
 * A file the guest removed while it holds it (open, or looked up) has no
 * name left: a take-over cannot find it again by its hint, and without an
 * fd the guest's open file would answer ESTALE. Its O_PATH fd is therefore
 * parked, at the UNLINK, in the queue of a unix datagram socket pair the
 * session creates and hands the keeper with its tables: a message queued
 * in a socket holds its fds for as long as the socket lives, and the
 * keeper holds both ends. The keeper never reads it. A gateway that takes
 * the session over takes both ends, reads every parked fd out, gives the
 * stale inodes that match one (device, inode) their fd back, and parks
 * again those it kept. A second crash in the few system calls between
 * the read and the new parking loses them (their files are ESTALE). */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fs_priv.h"

#define FS_VAULT_MAX 65536u /* fds read back at a take-over */
#define FS_VAULT_BATCH 64u  /* fds per message read */

/* a - b, or 0 */
static inline uint64_t
fs_sub_floor(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

int
vgw_fs_vault_open(struct vgw_fs *fs)
{
	int sv[2], bytes = 4 << 20;

	if (fs == NULL)
		return -EINVAL;
	if (fs->vault[0] >= 0)
		return 0;
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
		return -errno;
	/* room for many parked files (SO_*BUFFORCE needs CAP_NET_ADMIN) */
	if (setsockopt(sv[1], SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof(bytes)) < 0)
		(void)setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
	if (setsockopt(sv[0], SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) < 0)
		(void)setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
	fs->vault[0] = sv[0];
	fs->vault[1] = sv[1];
	return 0;
}

void
fs_vault_close(struct vgw_fs *fs)
{
	for (int i = 0; i < 2; i++) {
		if (fs->vault[i] >= 0)
			close(fs->vault[i]);
		fs->vault[i] = -1;
	}
	fs->vault_dead = fs->vault_left = 0;
	fs->stats.vault_parked = 0;
}

unsigned int
vgw_fs_vault_fds(const struct vgw_fs *fs, int *fds)
{
	if (fs == NULL || fs->vault[0] < 0)
		return 0;
	fds[0] = fs->vault[0];
	fds[1] = fs->vault[1];
	return 2;
}

/* Park fd (a copy of it goes into the queue). */
static int
fs_vault_send(struct vgw_fs *fs, int fd)
{
	char ctl[CMSG_SPACE(sizeof(int))];
	char byte = 'v';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr m = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)
	};
	struct cmsghdr *c;

	memset(ctl, 0, sizeof(ctl));
	c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	if (sendmsg(fs->vault[1], &m, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		return -errno;
	fs->stats.vault_parked++;
	return 0;
}

/* Once per inode: an UNLINK or RENAME that failed after the parking (the
 * file kept its name) and is asked again, or another name of it removed
 * later, finds it parked already; a parked fd stays in the queue until a
 * take-over reads it out. */
void
fs_vault_keep(struct vgw_fs *fs, uint32_t idx)
{
	int rc;

	if (fs->vault[1] < 0 || fs->ino_fd[idx] < 0 || fs->ino_vaulted[idx])
		return;
	rc = fs_vault_send(fs, fs->ino_fd[idx]);
	if (rc < 0) {
		fs->stats.vault_full++; /* the file is ESTALE after a crash */
	} else {
		fs->stats.vault_kept++;
		fs->ino_vaulted[idx] = 1;
	}
}

/* The fds of one message (up to FS_VAULT_BATCH; ours carry one each):
 * how many, -EAGAIN when the queue is empty, or another error. */
static int
fs_vault_recv_fds(int rx, int *fds)
{
	char ctl[CMSG_SPACE(FS_VAULT_BATCH * sizeof(int))], byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr m = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)
	};
	struct cmsghdr *c;
	int n = 0;

	if (recvmsg(rx, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) < 0)
		return -errno;
	for (c = CMSG_FIRSTHDR(&m); c != NULL; c = CMSG_NXTHDR(&m, c)) {
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < k && n < (int)FS_VAULT_BATCH; i++)
			memcpy(&fds[n++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
	}
	return n;
}

/* Read one message's fds into e[*n...]. 0 when the queue is empty, 1
 * when a message was read, or an error. */
static int
fs_vault_recv(struct vgw_fs *fs, int rx, struct fs_vault_ent *e, uint32_t *n, uint32_t max)
{
	int fds[FS_VAULT_BATCH], k = fs_vault_recv_fds(rx, fds);
	struct statx st;

	if (k < 0)
		return k == -EAGAIN ? 0 : k;
	fs->stats.vault_parked = fs_sub_floor(fs->stats.vault_parked, (uint64_t)k);
	for (int i = 0; i < k; i++) {
		int fd = fds[i];

		if (*n >= max || statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW,
				       STATX_BASIC_STATS | STATX_MNT_ID, &st) < 0) {
			close(fd);
			continue;
		}
		e[*n].fd = fd;
		e[*n].dev = makedev(st.stx_dev_major, st.stx_dev_minor);
		e[*n].ino = st.stx_ino;
		e[*n].used = false;
		(*n)++;
	}
	return 1;
}

int
fs_vault_take(struct vgw_fs *fs, int rx, int tx, struct fs_vault_ent **ents, uint32_t *n)
{
	struct fs_vault_ent *e = NULL;
	uint32_t cap = 0;
	int a, b, rc;

	*ents = NULL;
	*n = 0;
	if (rx < 0 || tx < 0)
		return 0;
	a = fcntl(rx, F_DUPFD_CLOEXEC, 3);
	b = a < 0 ? -1 : fcntl(tx, F_DUPFD_CLOEXEC, 3);
	if (b < 0) {
		rc = -errno;
		if (a >= 0)
			close(a);
		return rc;
	}
	fs_vault_close(fs);
	fs->vault[0] = a;
	fs->vault[1] = b;
	for (;;) {
		if (cap - *n < FS_VAULT_BATCH && cap < FS_VAULT_MAX) {
			struct fs_vault_ent *g;

			cap = cap == 0 ? 256 : cap * 2;
			g = realloc(e, cap * sizeof(*e));
			if (g == NULL) {
				rc = -ENOMEM;
				break;
			}
			e = g;
		}
		rc = fs_vault_recv(fs, a, e, n, cap < FS_VAULT_MAX ? cap : FS_VAULT_MAX);
		if (rc <= 0)
			break;
	}
	*ents = e;
	if (rc < 0) {
		fs_vault_settle(fs, e, *n, false);
		*ents = NULL;
		*n = 0;
	}
	return rc;
}

int
fs_vault_find(struct fs_vault_ent *e, uint32_t n, uint64_t dev, uint64_t ino)
{
	for (uint32_t i = 0; i < n; i++) {
		if (e[i].dev == dev && e[i].ino == ino && !e[i].used) {
			e[i].used = true;
			return e[i].fd;
		}
	}
	return -1;
}

/* After the load: the fds the inodes took (their own now) parked again,
 * the others closed. A load that failed closed what it took. */
void
fs_vault_settle(struct vgw_fs *fs, struct fs_vault_ent *e, uint32_t n, bool loaded)
{
	for (uint32_t i = 0; i < n; i++) {
		if (!e[i].used)
			close(e[i].fd);
		else if (loaded && fs_vault_send(fs, e[i].fd) < 0)
			fs->stats.vault_full++;
		else if (loaded)
			fs->stats.vault_kept++;
	}
	free(e);
}

/* One parked fd looked at by a sweep: queued again if an inode the
 * session holds is parked on it and no other fd of this sweep was queued
 * for that inode (a file parked again by a later inode of the same file
 * after the first was let go); closed otherwise. Returns 1 if it was
 * let go (no inode held it). */
static int
fs_vault_sweep_fd(struct vgw_fs *fs, int fd)
{
	struct statx st;
	uint32_t idx = 0;
	bool held;

	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC,
		  STATX_BASIC_STATS | STATX_MNT_ID, &st) == 0)
		idx = fs_inode_find(fs, makedev(st.stx_dev_major, st.stx_dev_minor), st.stx_ino,
				    st.stx_mnt_id);
	held = idx != 0 && fs->ino_vaulted[idx] != 0 && fs->ino_vaulted[idx] != fs->vault_epoch;
	if (held) {
		if (fs_vault_send(fs, fd) == 0) {
			fs->ino_vaulted[idx] = fs->vault_epoch;
			close(fd); /* (the queue holds it) */
			return 0;
		}
		fs->stats.vault_full++; /* ESTALE after a crash, parked again at
					 * its next unlink */
		fs->ino_vaulted[idx] = 0;
	}
	/* let go, an unlinked file's last reference: its space goes back to
	 * the host (closed as an inode's own fd is) */
	fs_close_async(fs, fd);
	return !held;
}

/* A parked fd stays in the queue until something reads it out: without
 * a sweep, a file unlinked while held kept its space on the host until
 * the next take-over however soon the guest let it go, and a guest that
 * looks a file up, fails to remove it and forgets it, in a loop, filled
 * the queue (then real unlinks could not be parked). A sweep begins
 * when parked inodes were let go since the last began (fs_inode_free
 * counts them), takes each fd queued at that moment out once, and queues
 * again those an inode still holds parked: a crash in between loses that
 * one fd (its file ESTALE after the take-over), as a take-over's own
 * re-parking can. */
void
fs_vault_sweep(struct vgw_fs *fs, unsigned int budget)
{
	unsigned int released = 0;

	if (fs->vault[0] < 0)
		return;
	if (fs->vault_left == 0) {
		if (fs->vault_dead == 0)
			return;
		fs->vault_dead = 0;
		fs->vault_left = (uint32_t)fs->stats.vault_parked;
		/* 1 is "parked, not seen by a sweep"; a mark comes round
		 * again only after 254 sweeps, each of which saw every fd
		 * queued before it and marked its inode anew */
		fs->vault_epoch = fs->vault_epoch < 2 || fs->vault_epoch == UINT8_MAX ?
					  2 :
					  (uint8_t)(fs->vault_epoch + 1);
	}
	while (budget-- > 0 && fs->vault_left > 0) {
		int fds[FS_VAULT_BATCH], k = fs_vault_recv_fds(fs->vault[0], fds);

		if (k < 0) {
			if (k == -EAGAIN) /* fewer than counted: none left */
				fs->stats.vault_parked = 0;
			fs->vault_left = 0;
			break;
		}
		fs->vault_left = (uint32_t)fs_sub_floor(fs->vault_left, k > 0 ? (uint64_t)k : 1);
		fs->stats.vault_parked = fs_sub_floor(fs->stats.vault_parked, (uint64_t)k);
		for (int i = 0; i < k; i++)
			released += (unsigned int)fs_vault_sweep_fd(fs, fds[i]);
	}
	if (released == 0)
		return;
	/* given to the kernel now, not at the next pass, and counted once
	 * given: a reader who sees "released" move finds the space back
	 * (a close on io_uring runs at submit) */
	fs_io_flush(fs);
	fs->stats.vault_released += released;
}
