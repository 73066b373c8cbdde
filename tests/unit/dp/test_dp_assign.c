/* SPDX-License-Identifier: BSD-3-Clause */
/* Task placement by busy cycles (lib/dp/dp_assign.c), a pure function:
 * no EAL. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "dp_assign.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static void
check(const uint64_t *load, unsigned int n, unsigned int n_workers, const unsigned int *expected)
{
	unsigned int got[64];

	assert_true(n <= ARRAY_SIZE(got));
	assert_int_equal(vgw_dp_assign(load, n, n_workers, got), 0);
	for (unsigned int i = 0; i < n; i++) {
		if (got[i] != expected[i])
			fail_msg("task %u: worker %u, expected %u", i, got[i], expected[i]);
	}
}

/* No history anywhere: round-robin, as placement always was. */
static void
test_no_history_round_robin(void **state)
{
	static const uint64_t load[5] = { 0 };
	static const unsigned int two[] = { 0, 1, 0, 1, 0 };
	static const unsigned int three[] = { 0, 1, 2, 0, 1 };
	static const unsigned int one[] = { 0, 0, 0, 0, 0 };

	check(load, 5, 2, two);
	check(load, 5, 3, three);
	check(load, 5, 1, one);
}

/* Heaviest first, each to the least-loaded worker: 100 alone on worker
 * 0, 60 + 30 + 10 on worker 1. */
static void
test_heaviest_first(void **state)
{
	static const uint64_t load[] = { 10, 100, 30, 60 };
	static const unsigned int exp[] = { 1, 0, 1, 1 };
	static const uint64_t load3[] = { 7, 5, 4, 3, 3 };
	/* 7 -> w0, 5 -> w1, 4 -> w2, 3 -> w2 (7), 3 -> w1 (8) */
	static const unsigned int exp3[] = { 0, 1, 2, 2, 1 };

	check(load, 4, 2, exp);
	check(load3, 5, 3, exp3);
}

/* Tasks without history (0) go last, to the least-loaded worker; among
 * equally loaded workers, to the one with fewer tasks. */
static void
test_new_tasks_to_least_loaded(void **state)
{
	static const uint64_t load[] = { 0, 50, 0, 20 };
	static const unsigned int exp[] = { 1, 0, 1, 1 };
	static const uint64_t idle[] = { 0, 0, 0, 9, 0 };
	/* 9 -> w0; then w1 and w2 (0, no tasks) in turn, then w1 (fewer) */
	static const unsigned int exp_idle[] = { 1, 2, 1, 0, 2 };

	check(load, 4, 2, exp);
	check(idle, 5, 3, exp_idle);
}

/* Equal loads: spread by task count, in task order. */
static void
test_ties(void **state)
{
	static const uint64_t load[] = { 5, 5, 5, 5 };
	static const unsigned int exp[] = { 0, 1, 0, 1 };

	check(load, 4, 2, exp);
}

/* Bounds: no workers, no tasks, loads that would overflow. */
static void
test_edges(void **state)
{
	static const uint64_t big[] = { UINT64_MAX, UINT64_MAX, 1 };
	static const unsigned int exp_big[] = { 0, 1, 0 };
	unsigned int w[3];

	assert_int_equal(vgw_dp_assign(big, 3, 0, w), -EINVAL);
	assert_int_equal(vgw_dp_assign(big, 0, 2, w), 0);
	check(big, 3, 2, exp_big);
}

/* Greedy heaviest-first on random loads: every worker ends within one
 * task's load of every other (the heaviest task's at most), and the same
 * input gives the same placement. */
static void
test_random_balance(void **state)
{
	uint64_t s = 88172645463325252ull;

	for (int round = 0; round < 200; round++) {
		uint64_t load[64], wl[8] = { 0 }, max = 0, lo = UINT64_MAX, hi = 0;
		unsigned int got[64], again[64];
		unsigned int n = 1 + round % 64, nw = 1 + round % 8;

		for (unsigned int i = 0; i < n; i++) {
			s ^= s << 13;
			s ^= s >> 7;
			s ^= s << 17;
			load[i] = (round % 3 == 0 && i % 4 == 0) ? 0 : s % 1000000;
			if (load[i] > max)
				max = load[i];
		}
		assert_int_equal(vgw_dp_assign(load, n, nw, got), 0);
		assert_int_equal(vgw_dp_assign(load, n, nw, again), 0);
		assert_memory_equal(got, again, n * sizeof(got[0]));
		for (unsigned int i = 0; i < n; i++) {
			assert_true(got[i] < nw);
			wl[got[i]] += load[i];
		}
		for (unsigned int w = 0; w < nw; w++) {
			lo = wl[w] < lo ? wl[w] : lo;
			hi = wl[w] > hi ? wl[w] : hi;
		}
		if (n >= nw)
			assert_true(hi - lo <= max);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_history_round_robin),
		cmocka_unit_test(test_heaviest_first),
		cmocka_unit_test(test_new_tasks_to_least_loaded),
		cmocka_unit_test(test_ties),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_random_balance),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
