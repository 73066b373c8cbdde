/* SPDX-License-Identifier: BSD-3-Clause */
/* vhostgw: argument parsing, start-up, the control thread's loop, shutdown.
 * Only this file exits the process. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "vgw_common.h"
#include "vgw_conf.h"
#include "vgw_ctl.h"
#include "vgw_device.h"
#include "vgw_dp.h"
#include "vgw_fsdev.h"
#include "vgw_log.h"
#include "vgw_net.h"
#include "vgw_vhost.h"
#include "vgw_version.h"

#include "msgguard.h"

RTE_LOG_REGISTER_SUFFIX(vgw_logtype_app, app, INFO);

#define EXIT_CONFIG 2
#define MAX_EAL_ARGS 128

static volatile sig_atomic_t quit_signal;

struct app_opts {
	const char *config;
	const char *keeper_dir; /* run under vhostgw-keeper: sockets there */
	const char *control_socket;
	uint32_t idle_sleep_us;
	bool check_only;
};

static void
usage(const char *prog)
{
	printf("Usage: %s [EAL options] -- [options]\n"
	       "       %s [options]   (EAL options at their defaults)\n"
	       "\n"
	       "vhostgw: a poll-mode vhost-user gateway for virtio-net devices,\n"
	       "switched to each other and to DPDK ports.\n"
	       "\n"
	       "Options:\n"
	       "  --config FILE          JSON configuration (see README). Without it an\n"
	       "                         embedded default serves two net devices, net0 and\n"
	       "                         net1, cross-connected, on sockets net0.sock and\n"
	       "                         net1.sock, and a virtio-fs device fs0 (socket\n"
	       "                         fs0.sock, tag vhostgw) sharing " VGW_CONF_DEFAULT_SHARED_DIR
	       ",\n"
	       "                         in the runtime directory " VGW_CONF_DEFAULT_RUNTIME_DIR
	       ".\n"
	       "  --control-socket PATH  control socket (JSON lines), default\n"
	       "                         <runtime_dir>/control.sock\n"
	       "  --idle-sleep-us N      let a worker sleep N us after a pass that found\n"
	       "                         no work (default 0: pure busy polling)\n"
	       "  --check-config         validate the configuration and exit\n"
	       "  --keeper DIR           run under vhostgw-keeper (it passes this): every\n"
	       "                         net and fs device listens on DIR/<name>.sock,\n"
	       "                         the keeper owns the configured sockets\n"
	       "  --help                 this text\n"
	       "  --version              print the version and exit\n"
	       "\n"
	       "EAL options default to --file-prefix=vhostgw --huge-unlink; the main\n"
	       "lcore runs the control thread, every other lcore is a polling worker.\n"
	       "Exit status: 0 after a clean stop (SIGINT, SIGTERM), 1 on a start-up\n"
	       "failure, 2 on a bad configuration or command line.\n",
	       prog, prog);
}

/* vhostgw's own options: after "--", or first on a command line without
 * one (then there are no EAL options). EAL has none of these names. */
static const struct option app_longopts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "control-socket", required_argument, NULL, 's' },
	{ "idle-sleep-us", required_argument, NULL, 'i' },
	{ "check-config", no_argument, NULL, 'k' },
	{ "keeper", required_argument, NULL, 'K' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static bool
is_app_option(const char *arg)
{
	size_t n = strcspn(arg, "=");

	if (strncmp(arg, "--", 2) != 0 || strcmp(arg, "--help") == 0)
		return false;
	for (const struct option *o = app_longopts; o->name != NULL; o++)
		if (strlen(o->name) == n - 2 && strncmp(arg + 2, o->name, n - 2) == 0)
			return true;
	return false;
}

static int
parse_app_args(int argc, char **argv, struct app_opts *o)
{
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", app_longopts, NULL)) != -1) {
		char *end;
		unsigned long v;

		switch (opt) {
		case 'c':
			o->config = optarg;
			break;
		case 's':
			o->control_socket = optarg;
			break;
		case 'i':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || v > 1000000) {
				fprintf(stderr,
					"vhostgw: --idle-sleep-us: expected 0..1000000, got \"%s\"\n",
					optarg);
				return -EINVAL;
			}
			o->idle_sleep_us = v;
			break;
		case 'k':
			o->check_only = true;
			break;
		case 'K':
			o->keeper_dir = optarg;
			break;
		case 'h':
			usage("vhostgw");
			exit(0);
		case 'V':
			printf("vhostgw %s\n", VGW_VERSION);
			exit(0);
		default:
			fprintf(stderr, "vhostgw: unknown option \"%s\" (try --help)\n",
				argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vhostgw: unexpected argument \"%s\" (try --help)\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

static bool
has_arg(int argc, char **argv, const char *prefix)
{
	for (int i = 0; i < argc; i++)
		if (strncmp(argv[i], prefix, strlen(prefix)) == 0)
			return true;
	return false;
}

/* A server socket path must be free: remove a stale socket left by a
 * process that died, refuse one somebody still listens on. */
static int
prepare_socket_path(const char *path, const char *dev, struct vgw_errlist *errs)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, ret;

	if (lstat(path, &st) < 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		vgw_errlist_add(errs, "device %s: %s exists and is not a socket", dev, path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	strcpy(sa.sun_path, path);
	ret = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	if (ret == 0) {
		vgw_errlist_add(errs, "device %s: socket %s is in use by another process", dev,
				path);
		return -EADDRINUSE;
	}
	if (unlink(path) < 0) {
		vgw_errlist_add(errs, "device %s: cannot remove stale socket %s: %s", dev, path,
				strerror(errno));
		return -errno;
	}
	return 0;
}

static int
mkdir_p(const char *dir)
{
	char tmp[PATH_MAX];

	if (vgw_strlcpy_checked(tmp, dir, sizeof(tmp)) < 0)
		return -ENAMETOOLONG;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int
prepare_paths(const struct vgw_conf *conf, struct vgw_errlist *errs)
{
	int ret = mkdir_p(conf->runtime_dir);

	if (ret < 0) {
		vgw_errlist_add(errs, "runtime_dir: cannot create %s: %s", conf->runtime_dir,
				strerror(-ret));
		return ret;
	}
	for (uint16_t i = 0; i < conf->n_devs; i++) {
		const struct vgw_conf_dev *d = &conf->devs[i];
		char dir[VGW_SOCKET_MAX];
		struct stat st;

		if (d->type == VGW_DEV_ETHDEV)
			continue;
		strcpy(dir, d->socket);
		*strrchr(dir, '/') = '\0';
		if (dir[0] != '\0' && (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))) {
			vgw_errlist_add(errs, "devices[%u].socket: directory %s does not exist", i,
					dir);
			ret = -ENOENT;
			continue;
		}
		if (d->mode == VGW_MODE_SERVER && prepare_socket_path(d->socket, d->name, errs) < 0)
			ret = -EEXIST;
	}
	return ret;
}

/* Under the keeper the configured sockets are the keeper's: the gateway
 * serves each net and fs device on DIR/<name>.sock, in server mode, and
 * the keeper connects there (doc/keeper.rst). Their owner, group and mode
 * are the keeper's to apply, to the sockets it listens on; the gateway's
 * stay its own, in the keeper's private DIR. */
static int
keeper_sockets(struct vgw_conf *conf, const char *dir)
{
	for (uint16_t i = 0; i < conf->n_devs; i++) {
		struct vgw_conf_dev *d = &conf->devs[i];
		char path[VGW_SOCKET_MAX];

		if (d->type == VGW_DEV_ETHDEV)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s.sock", dir, d->name) >= (int)sizeof(path)) {
			fprintf(stderr, "vhostgw: --keeper: %s/%s.sock is too long\n", dir,
				d->name);
			return -ENAMETOOLONG;
		}
		strcpy(d->socket, path);
		d->mode = VGW_MODE_SERVER;
		d->sockperm = (struct vgw_conf_sockperm){ .uid = VGW_CONF_ID_KEEP,
							  .gid = VGW_CONF_ID_KEEP,
							  .mode = VGW_CONF_MODE_KEEP };
	}
	return 0;
}

static void
on_signal(int sig)
{
	quit_signal = sig;
}

/* A hot standby of vhostgw-keeper (doc/keeper.rst): EAL is up; wait for
 * the keeper's word on the pipe VHOSTGW_STANDBY_FD ("go RESTARTS LAST
 * EXIT\n") before taking the devices. -1: the keeper closed the pipe
 * without a word, or a signal came. */
static int
standby_wait(void)
{
	const char *v = getenv("VHOSTGW_STANDBY_FD");
	char line[160], *sp;
	size_t n = 0;
	int fd;

	if (v == NULL)
		return 0;
	fd = atoi(v);
	VGW_LOG(app, INFO, "standby: EAL up, waiting for the keeper");
	/* the keeper may have said "go" and closed its end already */
	if (write(fd, "ready\n", 6) != 6)
		VGW_LOG(app, DEBUG, "standby: ready not sent: %s", strerror(errno));
	while (quit_signal == 0 && n < sizeof(line) - 1) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, 100) <= 0)
			continue;
		r = read(fd, line + n, 1);
		if (r <= 0)
			break;
		if (line[n++] == '\n')
			break;
	}
	close(fd);
	unsetenv("VHOSTGW_STANDBY_FD");
	if (n == 0 || line[n - 1] != '\n' || strncmp(line, "go ", 3) != 0)
		return -1;
	line[n - 1] = '\0';
	sp = strchr(line + 3, ' ');
	if (sp != NULL) {
		*sp = '\0';
		setenv("VHOSTGW_KEEPER_LAST_EXIT", sp + 1, 1);
	}
	setenv("VHOSTGW_KEEPER_RESTARTS", line + 3, 1);
	VGW_LOG(app, INFO, "standby: taking over");
	return 0;
}

static void
print_errors(const struct vgw_errlist *errs)
{
	for (unsigned int i = 0; i < errs->n; i++)
		fprintf(stderr, "vhostgw: %s\n", errs->lines[i]);
}

static void
report_start(const struct vgw_conf *conf, const char *ctl_path)
{
	struct rte_malloc_socket_stats ms;
	struct vgw_net_mem m;
	uint64_t heap = 0;

	vgw_net_mem_info(&m);
	for (int s = 0; s < RTE_MAX_NUMA_NODES; s++)
		if (rte_malloc_get_socket_stats(s, &ms) == 0)
			heap += ms.heap_totalsz_bytes;
	for (uint16_t i = 0; i < conf->n_devs; i++) {
		const struct vgw_conf_dev *d = &conf->devs[i];

		if (d->type == VGW_DEV_ETHDEV)
			VGW_LOG(app, INFO, "device %s: ethdev %s, %u queue(s)", d->name, d->devargs,
				d->queues);
		else if (d->type == VGW_DEV_FS)
			VGW_LOG(app, INFO, "device %s: fs, %s socket %s, tag \"%s\", sharing %s",
				d->name, d->mode == VGW_MODE_CLIENT ? "client" : "server",
				d->socket, d->tag, d->shared_dir);
		else
			VGW_LOG(app, INFO, "device %s: %s, %s socket %s, %u queue(s)", d->name,
				vgw_conf_dev_type_str(d->type),
				d->mode == VGW_MODE_CLIENT ? "client" : "server", d->socket,
				d->queues);
	}
	VGW_LOG(app, INFO,
		"mbuf pool: %u mbufs of %u bytes = %.1f MiB; hugepage memory in use: %.1f MiB",
		m.mbufs, m.mbuf_size, m.bytes / 1048576.0, heap / 1048576.0);
	VGW_LOG(app, INFO, "%u worker lcore(s), control socket %s; serving", vgw_dp_n_workers(),
		ctl_path);
}

/* An fs device holds a file descriptor for every node the guest looked up
 * (and every file it opened): take as many as the system lets us, as the
 * virtiofsd do. The soft limit up to the hard one; as root, both up to
 * fs.nr_open (at most 1,048,576). The limit reached, or 0s if unknown. */
static struct rlimit
raise_nofile(void)
{
	struct rlimit r = { 0, 0 };
	rlim_t want = 1048576;
	FILE *f;

	if (getrlimit(RLIMIT_NOFILE, &r) < 0)
		return (struct rlimit){ 0, 0 };
	f = fopen("/proc/sys/fs/nr_open", "r");
	if (f != NULL) {
		unsigned long long v;

		if (fscanf(f, "%llu", &v) == 1 && v < want)
			want = (rlim_t)v;
		fclose(f);
	}
	if (r.rlim_max != RLIM_INFINITY && r.rlim_max < want) {
		struct rlimit up = { want, want };

		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			return up;
	}
	if (r.rlim_cur != r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &r) < 0)
			getrlimit(RLIMIT_NOFILE, &r);
	}
	return r;
}

int
main(int argc, char **argv)
{
	struct app_opts opts = { 0 };
	struct vgw_errlist errs;
	struct vgw_conf *conf;
	char *eal_argv[MAX_EAL_ARGS];
	char ctl_path[VGW_SOCKET_MAX];
	int eal_argc = 0, sep = argc, ret, status = 0;
	cpu_set_t cpus;
	struct rlimit nofile;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			sep = i;
			break;
		}
	}
	if (sep == argc && argc > 1 &&
	    (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(argv[0]);
		return 0;
	}
	/* vhostgw --check-config --config FILE: no EAL options, every
	 * argument is vhostgw's */
	if (sep == argc && argc > 1 && is_app_option(argv[1]))
		sep = 0;
	if (sep < argc && parse_app_args(argc - sep, argv + sep, &opts) < 0)
		return EXIT_CONFIG;

	vgw_errlist_init(&errs);
	if (opts.config != NULL)
		conf = vgw_conf_parse_file(opts.config, &errs);
	else
		conf = vgw_conf_parse_string(vgw_conf_default_json(), "<default>", &errs);
	if (conf == NULL) {
		print_errors(&errs);
		fprintf(stderr, "vhostgw: %u problem(s) in the configuration; nothing started\n",
			errs.n);
		vgw_errlist_free(&errs);
		return EXIT_CONFIG;
	}
	vgw_vhost_set_keeper_mode(opts.keeper_dir != NULL);
	if (opts.keeper_dir != NULL && keeper_sockets(conf, opts.keeper_dir) < 0) {
		vgw_conf_free(conf);
		vgw_errlist_free(&errs);
		return EXIT_CONFIG;
	}
	if (opts.control_socket != NULL)
		ret = snprintf(ctl_path, sizeof(ctl_path), "%s", opts.control_socket);
	else
		ret = snprintf(ctl_path, sizeof(ctl_path), "%s/control.sock", conf->runtime_dir);
	if (ret >= (int)sizeof(ctl_path)) {
		fprintf(stderr, "vhostgw: control socket path longer than %d bytes\n",
			VGW_SOCKET_MAX - 1);
		vgw_conf_free(conf);
		vgw_errlist_free(&errs);
		return EXIT_CONFIG;
	}
	if (opts.check_only) {
		printf("vhostgw: configuration OK: %u device(s), %u link(s)\n", conf->n_devs,
		       conf->n_links);
		vgw_conf_free(conf);
		vgw_errlist_free(&errs);
		return 0;
	}

	/* EAL arguments, with our defaults where the user gave none. */
	eal_argv[eal_argc++] = argv[0];
	for (int i = 1; i < sep && eal_argc < MAX_EAL_ARGS - 3; i++)
		eal_argv[eal_argc++] = argv[i];
	if (!has_arg(sep, argv, "--file-prefix"))
		eal_argv[eal_argc++] = "--file-prefix=vhostgw";
	if (!has_arg(sep, argv, "--huge-unlink") && !has_arg(sep, argv, "--in-memory") &&
	    !has_arg(sep, argv, "--no-huge"))
		eal_argv[eal_argc++] = "--huge-unlink";
	eal_argv[eal_argc] = NULL;

	if (opts.config == NULL && mkdir_p(VGW_CONF_DEFAULT_SHARED_DIR) < 0) {
		fprintf(stderr, "vhostgw: cannot create %s: %s\n", VGW_CONF_DEFAULT_SHARED_DIR,
			strerror(errno));
		vgw_conf_free(conf);
		vgw_errlist_free(&errs);
		return 1;
	}
	/* a standby's paths are its predecessor's until it takes over */
	if (getenv("VHOSTGW_STANDBY_FD") == NULL && prepare_paths(conf, &errs) < 0) {
		print_errors(&errs);
		vgw_conf_free(conf);
		vgw_errlist_free(&errs);
		return EXIT_CONFIG;
	}

	nofile = raise_nofile();
	/* before EAL pins this thread: the CPUs io_uring's workers may use */
	if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0)
		vgw_fsdev_set_cpus(&cpus);
	ret = rte_eal_init(eal_argc, eal_argv);
	if (ret < 0) {
		fprintf(stderr, "vhostgw: EAL initialisation failed: %s\n",
			rte_strerror(rte_errno));
		vgw_conf_free(conf);
		vgw_errlist_free(&errs);
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	/* a front-end that shrinks its guest memory under us stops its own
	 * device, not the gateway (lib/vhost/memguard.c) */
	if (vgw_memguard_install() < 0)
		VGW_LOG(app, WARNING,
			"no SIGBUS handler: a front-end that shrinks its guest "
			"memory would stop the gateway");
	if (opts.keeper_dir == NULL) /* the keeper checks what front-ends send */
		vgw_msgguard_enable();
	if (getenv("VHOSTGW_STANDBY_FD") != NULL) {
		if (standby_wait() < 0) {
			VGW_LOG(app, INFO, "standby: not needed; stopping");
			goto out_eal;
		}
		if (prepare_paths(conf, &errs) < 0) {
			print_errors(&errs);
			status = EXIT_CONFIG;
			goto out_eal;
		}
	}

	if (nofile.rlim_cur != 0)
		VGW_LOG(app, INFO, "open files: up to %llu", (unsigned long long)nofile.rlim_cur);
	ret = vgw_dp_init(opts.idle_sleep_us);
	if (ret < 0) {
		fprintf(stderr, "vhostgw: %s\n",
			ret == -ENODEV ?
				"no worker lcore: give EAL at least two lcores (e.g. -l 0,1)" :
				"out of memory for the workers");
		status = 1;
		goto out_eal;
	}
	ret = vgw_ctl_init(ctl_path, conf);
	if (ret == 0 && vgw_ctl_telemetry_init() < 0)
		VGW_LOG(app, WARNING, "rte_telemetry commands not registered");
	if (ret < 0) {
		fprintf(stderr, "vhostgw: cannot create control socket %s: %s\n", ctl_path,
			strerror(-ret));
		status = 1;
		goto out_dp;
	}
	ret = vgw_net_init(conf);
	if (ret == 0)
		ret = vgw_fsdev_init(conf);
	if (ret == 0)
		ret = vgw_dp_start();
	if (ret == 0)
		ret = vgw_net_start();
	if (ret == 0)
		ret = vgw_fsdev_start();
	if (ret < 0) {
		fprintf(stderr, "vhostgw: start-up failed (see the messages above); stopping\n");
		status = 1;
		goto out_net;
	}
	if (vgw_vhost_wake_events(conf->runtime_dir) < 0)
		VGW_LOG(app, WARNING,
			"could not wake rte_vhost's event thread: sockets are "
			"watched within 1 s");
	report_start(conf, ctl_path);
	/* Files a guest creates in a shared directory get the modes it asks
	 * for. Only now: the sockets above were created with the caller's. */
	umask(0);

	while (quit_signal == 0) {
		vgw_ctl_poll(10);
		vgw_dp_tick(); /* deferred poll-list rebuilds */
		vgw_net_age();
		vgw_memguard_poll();
	}
	VGW_LOG(app, INFO, "signal %d: stopping", (int)quit_signal);

out_net:
	vgw_fsdev_stop();
	vgw_net_stop();
	vgw_dp_stop();
	vgw_ctl_fini();
out_dp:
	vgw_dp_fini();
out_eal:
	rte_eal_cleanup();
	vgw_conf_free(conf);
	vgw_errlist_free(&errs);
	return status;
}
