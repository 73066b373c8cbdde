/* SPDX-License-Identifier: BSD-3-Clause */
/* vhostgw-keeper [keeper options] -- vhostgw [EAL options] -- [vhostgw options]
 *
 * Runs the gateway as its child, owns the front-end sockets of every net
 * and fs device, relays (relay.c), restarts a gateway that died and
 * replays. Single-threaded, poll(2), no DPDK. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "keeper.h"
#include "vgw_version.h"

#define EXIT_USAGE 2

uint64_t
kp_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

uint64_t
kp_real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

void
kp_log(const char *fmt, ...)
{
	struct timespec ts;
	char line[1024];
	va_list ap;
	int n;

	/* one write per line: the gateways share the output */
	clock_gettime(CLOCK_REALTIME, &ts);
	n = snprintf(line, sizeof(line), "vhostgw-keeper[%ld.%03ld]: ", (long)ts.tv_sec,
		     ts.tv_nsec / 1000000);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

static void
usage(void)
{
	printf("Usage: vhostgw-keeper [options] -- vhostgw [EAL options] -- [vhostgw options]\n"
	       "\n"
	       "Keeps the front-end connections of every net and fs device of a vhostgw\n"
	       "open across a crash of the gateway: starts the gateway, relays each\n"
	       "vhost-user message to it, restarts it when it dies and replays what the\n"
	       "front-ends had set up. doc/keeper.rst.\n"
	       "\n"
	       "Options:\n"
	       "  --dir DIR           the gateway's device sockets (default\n"
	       "                      <runtime_dir>/keeper)\n"
	       "  --max-restarts N    restarts in a crash loop before giving up (default 5)\n"
	       "  --stable-ms MS      a gateway that dies sooner after its start is in a\n"
	       "                      crash loop: restarted after a back-off of 100 ms,\n"
	       "                      doubling up to 5 s (default 1000)\n"
	       "  --window-ms MS      a crash loop ends after this long (default 30000)\n"
	       "  --no-standby        no hot standby: a gateway that dies is replaced by a\n"
	       "                      cold start (by default a second gateway waits with\n"
	       "                      its EAL up and takes over at once; the two use the\n"
	       "                      gateway's --file-prefix with -k0 and -k1 added)\n"
	       "  --help              this text\n"
	       "  --version           print the version and exit\n"
	       "\n"
	       "The gateway gets --keeper DIR. SIGHUP starts a gateway the keeper gave up on\n"
	       "again. Exit status: 0 after SIGINT/SIGTERM (the\n"
	       "gateway stopped cleanly), 1 on a start-up failure, 2 on a bad command line\n"
	       "or configuration.\n");
}

static int
parse_uint(const char *opt, const char *s, unsigned long max, unsigned long *v)
{
	char *end;

	errno = 0;
	*v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || *v > max) {
		fprintf(stderr, "vhostgw-keeper: %s: expected 0..%lu, got \"%s\"\n", opt, max, s);
		return -EINVAL;
	}
	return 0;
}

static int
parse_opts(struct keeper *k, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "max-restarts", required_argument, NULL, 'm' },
		{ "window-ms", required_argument, NULL, 'w' },
		{ "stable-ms", required_argument, NULL, 's' },
		{ "no-standby", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long v;
	int opt;

	k->gw.loop_max = 5;
	k->gw.window_ns = 30000000000ull;
	k->gw.stable_ns = 1000000000ull;
	k->gw.standby = true;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			if (strlen(optarg) + VGW_NAME_MAX + 6 > VGW_SOCKET_MAX) {
				fprintf(stderr, "vhostgw-keeper: --dir: path too long\n");
				return -EINVAL;
			}
			strcpy(k->dir, optarg);
			break;
		case 'm':
			if (parse_uint("--max-restarts", optarg, 1000, &v) < 0)
				return -EINVAL;
			k->gw.loop_max = v;
			break;
		case 'w':
			if (parse_uint("--window-ms", optarg, 3600000, &v) < 0)
				return -EINVAL;
			k->gw.window_ns = v * 1000000ull;
			break;
		case 'n':
			k->gw.standby = false;
			break;
		case 's':
			if (parse_uint("--stable-ms", optarg, 3600000, &v) < 0)
				return -EINVAL;
			k->gw.stable_ns = v * 1000000ull;
			break;
		case 'h':
			usage();
			exit(0);
		case 'V':
			printf("vhostgw-keeper %s\n", VGW_VERSION);
			exit(0);
		default:
			fprintf(stderr, "vhostgw-keeper: unknown option \"%s\" (try --help)\n",
				argv[optind - 1]);
			return -EINVAL;
		}
	}
	return optind;
}

/* The gateway's --config, or NULL for its embedded default. */
static const char *
gw_config(int argc, char **argv)
{
	int i = 1;

	while (i < argc && strcmp(argv[i], "--") != 0)
		i++;
	for (i++; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			return argv[i + 1];
		if (strncmp(argv[i], "--config=", 9) == 0)
			return argv[i] + 9;
	}
	return NULL;
}

/* The gateway's command line with "--keeper DIR" among its options. */
static char **
gw_argv(struct keeper *k, int argc, char **argv)
{
	char **a = calloc(argc + 4, sizeof(*a));
	bool sep = false;
	int n = 0;

	if (a == NULL)
		return NULL;
	for (int i = 0; i < argc; i++) {
		a[n++] = argv[i];
		if (i > 0 && strcmp(argv[i], "--") == 0)
			sep = true;
	}
	if (!sep)
		a[n++] = "--";
	a[n++] = "--keeper";
	a[n++] = k->dir;
	a[n] = NULL;
	return a;
}

/* argv with the EAL's --file-prefix P made P-kSLOT (vhostgw-kSLOT
 * without one): a standby and the running gateway are two DPDK primaries.
 * The one string made is argv_slot's last entry after the NULL. */
static char **
slot_argv(char **argv, int slot)
{
	int argc = 0, at = -1, eq = 0;
	char **a, *pfx;

	while (argv[argc] != NULL)
		argc++;
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strncmp(argv[i], "--file-prefix=", 14) == 0) {
			at = i;
			eq = 1;
		} else if (strcmp(argv[i], "--file-prefix") == 0 && i + 1 < argc) {
			at = i + 1;
			eq = 0;
		}
	}
	a = calloc(argc + 3, sizeof(*a));
	if (a == NULL)
		return NULL;
	if (at < 0) {
		if (asprintf(&pfx, "--file-prefix=vhostgw-k%d", slot) < 0)
			pfx = NULL;
	} else if (asprintf(&pfx, "%s%s-k%d", eq ? "--file-prefix=" : "", argv[at] + (eq ? 14 : 0),
			    slot) < 0) {
		pfx = NULL;
	}
	if (pfx == NULL) {
		free(a);
		return NULL;
	}
	for (int i = 0, n = 0; i < argc; i++) {
		a[n++] = i == at ? pfx : argv[i];
		if (i == 0 && at < 0)
			a[n++] = pfx;
	}
	a[argc + 2] = pfx; /* after the NULL: to free */
	return a;
}

static void
slot_argv_free(char **a, int argc)
{
	if (a != NULL)
		free(a[argc + 2]);
	free(a);
}

static int
load_config(struct keeper *k, const char *path)
{
	struct vgw_errlist errs;

	vgw_errlist_init(&errs);
	k->conf = path != NULL ? vgw_conf_parse_file(path, &errs) :
				 vgw_conf_parse_string(vgw_conf_default_json(), "<default>", &errs);
	for (unsigned int i = 0; i < errs.n; i++)
		fprintf(stderr, "vhostgw-keeper: %s\n", errs.lines[i]);
	vgw_errlist_free(&errs);
	return k->conf != NULL ? 0 : -EINVAL;
}

static void
setenv_u64(const char *name, uint64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	setenv(name, buf, 1);
}

static const char *k_ctl_path = "";

/* Run argv as a child; a standby gets standby_fd (its end of the pipe). */
static pid_t
spawn(char **argv, int standby_fd)
{
	pid_t pid;

	setenv_u64("VHOSTGW_KEEPER_PID", getpid());
	setenv("VHOSTGW_KEEPER_SOCKET", k_ctl_path, 1);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		sigset_t all;

		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (standby_fd >= 0) {
			fcntl(standby_fd, F_SETFD, 0);
			setenv_u64("VHOSTGW_STANDBY_FD", standby_fd);
		}
		execv(argv[0], argv);
		fprintf(stderr, "vhostgw-keeper: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

static void
gw_started(struct kp_gw *g, pid_t pid, int slot, const char *how)
{
	g->gen++;
	g->start_ns = kp_now_ns();
	g->pid = pid;
	g->slot = slot;
	g->next_start_ns = 0;
	kp_log("gateway %d started: pid %d%s", g->gen, (int)pid, how);
}

/* A cold start, on the slot the standby (if any) does not use. */
static void
gw_start(struct keeper *k)
{
	struct kp_gw *g = &k->gw;
	int slot = g->sb_pid > 0 ? 1 - g->slot : g->slot;
	pid_t pid;

	setenv_u64("VHOSTGW_KEEPER_RESTARTS", g->restarts);
	setenv("VHOSTGW_KEEPER_LAST_EXIT", g->last_exit, 1);
	pid = spawn(g->argv_slot[slot], -1);
	if (pid < 0) {
		kp_log("cannot start the gateway: %s", strerror(errno));
		g->next_start_ns = kp_now_ns() + 1000000000ull;
		return;
	}
	gw_started(g, pid, slot, "");
}

/* A standby next to the running gateway: EAL up, waiting on its pipe. */
static void
standby_start(struct keeper *k)
{
	struct kp_gw *g = &k->gw;
	int p[2];

	g->sb_next_ns = kp_now_ns() + 1000000000ull;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0)
		return;
	g->sb_pid = spawn(g->argv_slot[1 - g->slot], p[0]);
	close(p[0]);
	if (g->sb_pid < 0) {
		g->sb_pid = 0;
		close(p[1]);
		return;
	}
	g->sb_fd = p[1];
	g->sb_ready = false;
	kp_log("standby gateway started: pid %d (%s)", (int)g->sb_pid, g->argv[0]);
}

/* The standby takes over; false if there is none or it cannot be told. */
static bool
standby_promote(struct keeper *k)
{
	struct kp_gw *g = &k->gw;
	char line[160];
	int n;
	pid_t pid = g->sb_pid;

	if (pid <= 0 || g->sb_fd < 0)
		return false; /* none, or one told to go away */
	n = snprintf(line, sizeof(line), "go %u %s\n", g->restarts, g->last_exit);
	if (n >= (int)sizeof(line))
		n = sizeof(line) - 1, line[n - 1] = '\n';
	g->sb_pid = 0;
	if (write(g->sb_fd, line, n) != n) {
		close(g->sb_fd);
		g->sb_fd = -1;
		kill(pid, SIGTERM);
		return false;
	}
	close(g->sb_fd);
	g->sb_fd = -1;
	gw_started(g, pid, 1 - g->slot,
		   g->sb_ready ? " (the standby took over)" :
				 " (the standby, still starting, took over)");
	g->sb_next_ns = 0;
	return true;
}

static void
standby_stop(struct kp_gw *g)
{
	if (g->sb_pid > 0 && g->sb_fd >= 0) {
		close(g->sb_fd); /* it exits: "not needed" */
		g->sb_fd = -1;
	}
	g->sb_ready = false;
}

/* What the standby says: "ready" once its EAL is up. */
static void
standby_readable(struct keeper *k)
{
	struct kp_gw *g = &k->gw;
	char buf[16];
	ssize_t n = read(g->sb_fd, buf, sizeof(buf));

	if (n > 0 && memchr(buf, '\n', n) != NULL && !g->sb_ready) {
		g->sb_ready = true;
		kp_log("standby gateway ready: pid %d", (int)g->sb_pid);
	} else if (n == 0) {
		close(g->sb_fd); /* it is going; reaped by SIGCHLD */
		g->sb_fd = -1;
	}
}

static char *binary_owned; /* argv[0] given by an upgrade */

static void
set_binary(struct kp_gw *g, char *path)
{
	g->argv[0] = path;
	g->argv_slot[0][0] = path;
	g->argv_slot[1][0] = path;
}

/* Start an upgrade to binary (NULL: the same path, rebuilt): a standby of
 * it first; the running gateway is stopped once that is ready. */
int
kp_upgrade(struct keeper *k, const char *binary, char *why, size_t len)
{
	struct kp_gw *g = &k->gw;
	char *path;

	if (g->upgrade_pending || g->upgrading) {
		snprintf(why, len, "an upgrade is under way");
		return -EBUSY;
	}
	if (g->pid <= 0 || g->failed) {
		snprintf(why, len, "no gateway is running");
		return -ESRCH;
	}
	path = realpath(binary != NULL ? binary : g->argv[0], NULL);
	if (path == NULL || access(path, X_OK) < 0) {
		snprintf(why, len, "%s: %s", binary != NULL ? binary : g->argv[0], strerror(errno));
		free(path);
		return -ENOENT;
	}
	set_binary(g, path);
	free(binary_owned);
	binary_owned = path;
	g->upgrade_pending = true;
	standby_stop(g); /* the old binary's */
	g->sb_next_ns = 0;
	kp_log("upgrade to %s: starting a standby of it", path);
	return 0;
}

/* The new binary's standby is ready: stop the running gateway cleanly;
 * it takes over when that one has exited (gw_died). */
static void
upgrade_step(struct keeper *k)
{
	struct kp_gw *g = &k->gw;

	if (!g->upgrade_pending || !g->sb_ready || g->pid <= 0)
		return;
	g->upgrade_pending = false;
	g->upgrading = true;
	kp_log("upgrade: stopping gateway %d (pid %d)", g->gen, (int)g->pid);
	kill(g->pid, SIGTERM);
}

static void
describe_exit(char *buf, size_t len, int status)
{
	if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
}

/* The gateway died: every device's connection to it goes, the front-ends
 * stay; the next one starts now, after a back-off in a crash loop, or
 * never once the loop went on too long. */
static void
gw_died(struct keeper *k, int status)
{
	struct kp_gw *g = &k->gw;
	uint64_t now = kp_now_ns();

	describe_exit(g->last_exit, sizeof(g->last_exit), status);
	kp_log("gateway %d (pid %d) %s after %.1f s", g->gen, (int)g->pid, g->last_exit,
	       (now - g->start_ns) / 1e9);
	g->pid = 0;
	g->died_ns = now;
	g->died_real_ns = kp_real_ns();
	for (unsigned int i = 0; i < k->n_devs; i++) {
		if (k->devs[i].gw_fd < 0)
			continue;
		kp_gw_drain(k, &k->devs[i]);
		kp_gw_lost(k, &k->devs[i]);
	}
	if (k->stopping)
		return;
	if (g->upgrading) {
		/* the standby of the new binary takes over at once */
		g->upgrading = false;
		g->upgrades++;
		snprintf(g->last_exit, sizeof(g->last_exit), "upgraded");
		g->next_start_ns = 0;
		return;
	}
	g->restarts++;
	/* a gateway that ran for a while ends a crash loop */
	if (now - g->start_ns >= g->stable_ns || now - g->loop_start_ns > g->window_ns) {
		g->loop_start_ns = now;
		g->loop_count = 0;
		g->backoff_ns = 0;
	}
	if (++g->loop_count > g->loop_max) {
		g->failed = true;
		kp_log("gateway died %u times in a row within %.1f s of its start: not restarted; "
		       "front-end connections kept open, waiting for an operator (SIGHUP to the "
		       "keeper tries again)",
		       g->loop_count, g->stable_ns / 1e9);
		return;
	}
	/* the first restart at once, then 100 ms, 200 ms, ... up to 5 s */
	g->next_start_ns = now + g->backoff_ns;
	g->backoff_ns = g->backoff_ns == 0 ? 100000000ull : g->backoff_ns * 2;
	if (g->backoff_ns > 5000000000ull)
		g->backoff_ns = 5000000000ull;
}

static void
reap(struct keeper *k)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == k->gw.pid) {
			gw_died(k, status);
		} else if (pid == k->gw.sb_pid) {
			char why[96];

			describe_exit(why, sizeof(why), status);
			kp_log("standby gateway (pid %d) %s", (int)pid, why);
			if (k->gw.sb_fd >= 0)
				close(k->gw.sb_fd);
			k->gw.sb_fd = -1;
			k->gw.sb_pid = 0;
			if (k->gw.upgrade_pending && !k->stopping && k->gw.sb_next_ns > 0) {
				k->gw.upgrade_pending = false;
				kp_log("upgrade abandoned: the new binary's gateway %s", why);
			}
		}
	}
}

static void
on_signal(struct keeper *k)
{
	struct signalfd_siginfo si;

	while (read(k->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD) {
			reap(k);
		} else if (si.ssi_signo == SIGHUP) {
			/* the operator acted: a gateway that gave up is tried again */
			if (k->gw.failed && !k->stopping) {
				kp_log("SIGHUP: starting the gateway again");
				k->gw.failed = false;
				k->gw.loop_count = 0;
				k->gw.backoff_ns = 0;
				k->gw.loop_start_ns = kp_now_ns();
				k->gw.next_start_ns = 0;
			}
		} else if (!k->stopping) {
			kp_log("signal %u: stopping the gateway", si.ssi_signo);
			k->stopping = true;
			if (k->gw.pid > 0)
				kill(k->gw.pid, SIGTERM);
			standby_stop(&k->gw);
		}
	}
}

/* A gateway that closed a device's connection and stays alive dropped it
 * on purpose: the front-end's connection goes too, as without a keeper. */
#define KP_EOF_GRACE_NS 500000000ull

static void
tick_dev(struct keeper *k, struct kp_dev *d, uint64_t now)
{
	if (d->fe_fd < 0 && d->conf->mode == VGW_MODE_CLIENT && !k->stopping &&
	    now >= d->next_try_ns)
		kp_fe_connect(k, d);
	if (d->gw_eof_ns != 0 && d->gw_gen == k->gw.gen && k->gw.pid > 0 && !k->gw.upgrading &&
	    now - d->gw_eof_ns > KP_EOF_GRACE_NS) {
		kp_log("device %s: the gateway closed the connection", d->conf->name);
		kp_fe_close(k, d, "closed by the gateway");
	}
	if (d->fe_fd >= 0 && d->gw_fd < 0 && k->gw.pid > 0 && !k->gw.failed)
		kp_gw_connect(k, d);
}

enum kp_slot { KP_FE_LISTEN, KP_FE, KP_GW };

static int
run(struct keeper *k)
{
	struct pollfd pfd[3 + 3 * VGW_MAX_DEVICES];
	struct {
		struct kp_dev *d;
		enum kp_slot s;
	} who[3 + 3 * VGW_MAX_DEVICES];

	while (!k->stopping || k->gw.pid > 0 || k->gw.sb_pid > 0) {
		uint64_t now = kp_now_ns();
		unsigned int n = 0;
		int timeout = 1000;

		if (k->gw.pid == 0 && !k->stopping && !k->gw.failed && now >= k->gw.next_start_ns &&
		    !standby_promote(k))
			gw_start(k);
		if ((k->gw.standby || k->gw.upgrade_pending) && k->gw.pid > 0 &&
		    k->gw.sb_pid == 0 && !k->stopping && now >= k->gw.sb_next_ns)
			standby_start(k);
		upgrade_step(k);
		pfd[n++] = (struct pollfd){ .fd = k->sig_fd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = k->ctl_fd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = k->gw.sb_fd, .events = POLLIN };
		for (unsigned int i = 0; i < k->n_devs; i++) {
			struct kp_dev *d = &k->devs[i];

			tick_dev(k, d, now);
			if (d->fe_fd >= 0 && d->gw_fd < 0)
				timeout = 5; /* waiting for the gateway's socket */
			if (d->gw_eof_ns != 0 || (k->gw.pid == 0 && !k->gw.failed))
				timeout = 5;
			if (d->listen_fd >= 0) {
				who[n].d = d;
				who[n].s = KP_FE_LISTEN;
				pfd[n++] = (struct pollfd){ .fd = d->listen_fd, .events = POLLIN };
			}
			if (d->fe_fd >= 0) {
				who[n].d = d;
				who[n].s = KP_FE;
				pfd[n++] = (struct pollfd){ .fd = d->fe_fd, .events = POLLIN };
			}
			if (d->gw_fd >= 0 && d->gw_eof_ns == 0) {
				who[n].d = d;
				who[n].s = KP_GW;
				pfd[n++] = (struct pollfd){ .fd = d->gw_fd, .events = POLLIN };
			}
		}
		if (poll(pfd, n, timeout) < 0 && errno != EINTR) {
			kp_log("poll: %s", strerror(errno));
			return 1;
		}
		if (pfd[0].revents)
			on_signal(k);
		if (pfd[1].revents)
			kp_ctl_accept(k);
		if (pfd[2].revents && k->gw.sb_fd >= 0)
			standby_readable(k);
		for (unsigned int i = 3; i < n; i++) {
			struct kp_dev *d = who[i].d;

			if (pfd[i].revents == 0)
				continue;
			if (who[i].s == KP_FE_LISTEN)
				kp_fe_accept(k, d);
			else if (who[i].s == KP_FE && d->fe_fd == pfd[i].fd)
				kp_fe_readable(k, d);
			else if (who[i].s == KP_GW && d->gw_fd == pfd[i].fd)
				kp_gw_readable(k, d);
		}
	}
	return 0;
}

static int
setup(struct keeper *k)
{
	sigset_t set;
	int ret;

	if (k->dir[0] == '\0' &&
	    snprintf(k->dir, sizeof(k->dir), "%s/keeper", k->conf->runtime_dir) >=
		    (int)VGW_SOCKET_MAX - VGW_NAME_MAX - 6) {
		fprintf(stderr, "vhostgw-keeper: runtime_dir too long for the keeper's sockets\n");
		return -ENAMETOOLONG;
	}
	mkdir(k->conf->runtime_dir, 0755);
	if (mkdir(k->dir, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "vhostgw-keeper: cannot create %s: %s\n", k->dir, strerror(errno));
		return -errno;
	}
	for (uint16_t i = 0; i < k->conf->n_devs; i++) {
		const struct vgw_conf_dev *c = &k->conf->devs[i];
		struct kp_dev *d;
		int ret;

		if (c->type == VGW_DEV_ETHDEV)
			continue;
		d = &k->devs[k->n_devs++];
		kp_dev_init(k, d, c);
		if (c->mode != VGW_MODE_SERVER)
			continue;
		ret = kp_dev_listen(d);
		if (ret < 0) {
			fprintf(stderr, "vhostgw-keeper: device %s: cannot listen on %s: %s\n",
				c->name, c->socket, strerror(-ret));
			return ret;
		}
		ret = kp_dev_sockperm(d);
		if (ret < 0)
			return ret;
	}
	ret = kp_ctl_open(k);
	if (ret < 0) {
		fprintf(stderr, "vhostgw-keeper: control socket in %s: %s\n", k->dir,
			strerror(-ret));
		return ret;
	}
	k_ctl_path = k->ctl_path;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	k->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return k->sig_fd < 0 ? -errno : 0;
}

int
main(int argc, char **argv)
{
	static struct keeper k = { .ctl_fd = -1, .gw = { .sb_fd = -1 } };
	int first, ret;

	first = parse_opts(&k, argc, argv);
	if (first < 0)
		return EXIT_USAGE;
	if (first >= argc) {
		fprintf(stderr, "vhostgw-keeper: no gateway command line after \"--\" "
				"(try --help)\n");
		return EXIT_USAGE;
	}
	if (load_config(&k, gw_config(argc - first, argv + first)) < 0) {
		fprintf(stderr, "vhostgw-keeper: bad configuration; nothing started\n");
		return EXIT_USAGE;
	}
	if (setup(&k) < 0)
		return 1;
	k.gw.argv = gw_argv(&k, argc - first, argv + first);
	if (k.gw.argv == NULL)
		return 1;
	for (int i = 0; i < 2; i++) {
		k.gw.argv_slot[i] = k.gw.standby ? slot_argv(k.gw.argv, i) : k.gw.argv;
		if (k.gw.argv_slot[i] == NULL)
			return 1;
	}
	kp_log("keeping %u device(s); gateway sockets in %s", k.n_devs, k.dir);
	ret = run(&k);
	for (unsigned int i = 0; i < k.n_devs; i++)
		kp_dev_fini(&k.devs[i]);
	kp_ctl_close(&k);
	kp_log("stopped (gateway: %s; %u restart(s), %u upgrade(s))",
	       k.gw.last_exit[0] ? k.gw.last_exit : "-", k.gw.restarts, k.gw.upgrades);
	vgw_conf_free(k.conf);
	if (k.gw.standby) {
		int n = 0;

		while (k.gw.argv[n] != NULL)
			n++;
		for (int i = 0; i < 2; i++)
			slot_argv_free(k.gw.argv_slot[i], n);
	}
	free(k.gw.argv);
	free(binary_owned);
	return ret;
}
