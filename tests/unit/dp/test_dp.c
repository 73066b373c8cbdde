/* SPDX-License-Identifier: BSD-3-Clause */
/* The poll lists (lib/dp/dp.c) with real workers, on a minimal EAL
 * (--no-huge --no-pci --no-shconf, two worker lcores, no root): tasks
 * come and go and move between workers (placed by the busy cycles each
 * took since the last rebuild) at every rebuild, and
 * - a task never runs on two workers at once (the two-phase publish: a
 *   moved task is off every list for a grace period first);
 * - once vgw_dp_rebuild() returns, a removed task is never polled again;
 * - every present task keeps being polled, and busy cycles are counted. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_pause.h>

#include "vgw_dp.h"

#define N_TASKS 6

struct tstate {
	atomic_int running;
	atomic_bool gone; /* removed and rebuilt: never polled again */
	atomic_uint_fast64_t polls;
	atomic_uint workers; /* bit per worker that polled it */
};

static struct tstate ts[N_TASKS];
static bool present[N_TASKS];
static unsigned int shift;
static atomic_uint violations;

static uint16_t
poll_task(struct vgw_dp_task *t, struct vgw_dp_lcore *lc)
{
	struct tstate *s = t->arg;

	if (atomic_fetch_add(&s->running, 1) != 0 || atomic_load(&s->gone))
		atomic_fetch_add(&violations, 1);
	atomic_fetch_or(&s->workers, 1u << lc->idx);
	atomic_fetch_add(&s->polls, 1);
	for (int i = 0; i < 20; i++)
		rte_pause();
	atomic_fetch_sub(&s->running, 1);
	return 1;
}

/* The present tasks, rotated by shift so that their order (which breaks
 * ties between equal loads) changes from one rebuild to the next. */
static unsigned int
provider(struct vgw_dp_task *tasks, unsigned int max)
{
	unsigned int n = 0;

	for (unsigned int k = 0; k < N_TASKS && n < max; k++) {
		unsigned int i = (k + shift) % N_TASKS;

		if (!present[i])
			continue;
		tasks[n++] = (struct vgw_dp_task){
			.poll = poll_task, .arg = &ts[i], .queue = i, .slot = i
		};
	}
	return n;
}

static uint64_t
total_polls(unsigned int i)
{
	return atomic_load(&ts[i].polls);
}

static void
wait_polled(unsigned int i)
{
	uint64_t p = total_polls(i);
	uint64_t deadline = rte_get_tsc_cycles() + 10 * rte_get_tsc_hz();

	/* 10 s: a worker that shares its CPU with other busy pollers (a
	 * loaded machine) may wait long for its time slice */
	while (total_polls(i) == p && rte_get_tsc_cycles() < deadline)
		usleep(100);
	if (total_polls(i) == p) {
		vgw_dp_stop(); /* no worker left running into the next test */
		fail_msg("task %u not polled within 10 s", i);
	}
}

static void
test_publish_moves_and_removals(void **state)
{
	struct vgw_dp_qstats st;

	for (unsigned int i = 0; i < N_TASKS; i++)
		present[i] = true;
	assert_int_equal(vgw_dp_add_provider(provider), 0);
	assert_int_equal(vgw_dp_start(), 0);
	vgw_dp_rebuild();
	for (unsigned int round = 0; round < 300; round++) {
		unsigned int victim = round % N_TASKS;

		shift++;
		if (round % 3 == 0) {
			/* take one away: after the rebuild it is never polled */
			present[victim] = false;
			vgw_dp_rebuild();
			atomic_store(&ts[victim].gone, true);
		} else if (round % 3 == 2) {
			unsigned int back = (round - 2) % N_TASKS;

			atomic_store(&ts[back].gone, false);
			present[back] = true;
			vgw_dp_rebuild();
			wait_polled(back);
		} else {
			vgw_dp_rebuild();
		}
	}
	vgw_dp_stop();
	assert_int_equal(atomic_load(&violations), 0);
	for (unsigned int i = 0; i < N_TASKS; i++) {
		assert_true(total_polls(i) > 0);
		/* each task ran on both workers at some point: they moved */
		assert_int_equal(atomic_load(&ts[i].workers), 3);
		vgw_dp_stats_sum(i, &st);
		assert_true(st.busy_cycles > 0);
	}
}

/* EAL's runtime directory of our --file-prefix (its config and fbarray
 * files), once EAL is done with it: no test leaves one behind. */
static int
remove_runtime_dir(const char *dir, const char *prefix)
{
	const char *base = strrchr(dir, '/');
	struct dirent *e;
	DIR *d;

	if (base == NULL || strcmp(base + 1, prefix) != 0) {
		fprintf(stderr, "runtime directory %s is not our prefix %s's\n", dir, prefix);
		return -1;
	}
	d = opendir(dir);
	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
		    unlinkat(dirfd(d), e->d_name, 0) < 0)
			fprintf(stderr, "%s/%s: %s\n", dir, e->d_name, strerror(errno));
	closedir(d);
	if (rmdir(dir) < 0) {
		fprintf(stderr, "%s not removed: %s\n", dir, strerror(errno));
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	char prefix[64], rundir[PATH_MAX];
	char *eal[] = {
		argv[0],       "--no-huge",	 "--no-pci",
		"--no-shconf", "--no-telemetry", "-m",
		"32",	       "--lcores",	 "0@0,1@0,2@1",
		"--log-level", "lib.eal:error",	 "--file-prefix",
		prefix,
	};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_publish_moves_and_removals),
	};
	int ret;

	(void)argc;
	snprintf(prefix, sizeof(prefix), "vgw_test_dp_%d", (int)getpid());
	if (rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])), eal) < 0)
		return 1;
	if (vgw_dp_init(0) < 0 || vgw_dp_n_workers() != 2)
		return 1;
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	vgw_dp_fini();
	snprintf(rundir, sizeof(rundir), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	if (remove_runtime_dir(rundir, prefix) < 0)
		ret = 1;
	return ret;
}
