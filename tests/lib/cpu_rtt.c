/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vgw-cpu-rtt: how long a cache line takes to go from one CPU to another
 * and back, now. Two threads, pinned to the CPUs given, pass a counter
 * back and forth; the median of 7 batches of round trips is printed as
 * "rtt_ns=N". On a VM this moves with where the host puts the two vCPUs
 * (on this project's 2-vCPU machines: about 50 ns, or about 310 ns, from
 * one minute to the next), and a benchmark whose two sides exchange
 * cache lines for every packet moves with it: vhostgw-bench runs it
 * before and after each window, while the pairs are stopped.
 *
 * Usage: vgw-cpu-rtt CPU_A CPU_B [ROUND_TRIPS_PER_BATCH]
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCHES 7

static _Alignas(64) _Atomic uint64_t ball;
static _Atomic int peer_ready;

static int
pin(int cpu)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	return pthread_setaffinity_np(pthread_self(), sizeof(s), &s);
}

static double
now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* Returns odd values +1; UINT64_MAX ends it. */
static void *
peer(void *arg)
{
	if (pin(*(int *)arg) != 0)
		return (void *)1;
	atomic_store(&peer_ready, 1);
	for (;;) {
		uint64_t v = atomic_load_explicit(&ball, memory_order_acquire);

		if (v == UINT64_MAX)
			break;
		if (v & 1)
			atomic_store_explicit(&ball, v + 1, memory_order_release);
	}
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int
parse_cpu(const char *s, int *cpu)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < 0 || v >= CPU_SETSIZE)
		return -1;
	*cpu = (int)v;
	return 0;
}

int
main(int argc, char **argv)
{
	int a, b;
	long n = 100000;
	double t[BATCHES];
	pthread_t th;
	void *ret;

	if (argc < 3 || argc > 4 || parse_cpu(argv[1], &a) != 0 || parse_cpu(argv[2], &b) != 0 ||
	    (argc == 4 && ((n = strtol(argv[3], NULL, 10)) < 1 || n > 100000000))) {
		fprintf(stderr, "usage: vgw-cpu-rtt CPU_A CPU_B [ROUND_TRIPS_PER_BATCH]\n");
		return 2;
	}
	if (pin(a) != 0) {
		fprintf(stderr, "vgw-cpu-rtt: cannot run on CPU %d\n", a);
		return 1;
	}
	if (pthread_create(&th, NULL, peer, &b) != 0) {
		fprintf(stderr, "vgw-cpu-rtt: no thread\n");
		return 1;
	}
	while (!atomic_load(&peer_ready)) {
		if (pthread_tryjoin_np(th, &ret) == 0) {
			fprintf(stderr, "vgw-cpu-rtt: cannot run on CPU %d\n", b);
			return 1;
		}
	}
	for (int k = 0; k < BATCHES; k++) {
		double t0 = now_ns();

		for (long i = 0; i < n; i++) {
			uint64_t v = atomic_load_explicit(&ball, memory_order_relaxed) + 1;

			atomic_store_explicit(&ball, v, memory_order_release);
			while (atomic_load_explicit(&ball, memory_order_acquire) == v)
				;
		}
		t[k] = (now_ns() - t0) / (double)n;
	}
	atomic_store(&ball, UINT64_MAX);
	pthread_join(th, NULL);
	qsort(t, BATCHES, sizeof(t[0]), cmp_double);
	printf("rtt_ns=%.0f min_ns=%.0f max_ns=%.0f\n", t[BATCHES / 2], t[0], t[BATCHES - 1]);
	return 0;
}
