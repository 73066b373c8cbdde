/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_pause.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "vgw_log.h"
#include "vgw_dp.h"
#include "dp_assign.h"

RTE_LOG_REGISTER_SUFFIX(vgw_logtype_dp, dp, INFO);

static struct vgw_dp_lcore *workers;
static unsigned int n_workers;
static struct rte_rcu_qsbr *qsbr;
static atomic_bool stop_flag;
static uint32_t idle_sleep;
/* an idle pass yields the CPU (threads of ours that share the workers'
 * CPUs: io_uring's workers, see vgw_dp_idle_yield) */
static atomic_bool idle_yield;
#define VGW_DP_IDLE_PAUSES 8
static bool running;
/* Serializes rebuilds (control thread, rte_vhost event thread). */
static pthread_mutex_t publish_lock = PTHREAD_MUTEX_INITIALIZER;
#define MAX_PROVIDERS 4
#define MAX_TASKS (VGW_DP_MAX_SLOTS + 64)
static vgw_dp_provider_fn providers[MAX_PROVIDERS];
static unsigned int n_providers;
static atomic_bool rebuild_pending;
/* Each slot's busy cycles (summed over the workers) at the last rebuild:
 * a task's load is what its slot took since. Rebuild lock. */
static uint64_t slot_busy_seen[VGW_DP_MAX_SLOTS];

static int
worker_main(void *arg)
{
	struct vgw_dp_lcore *lc = arg;

	rte_rcu_qsbr_thread_register(qsbr, lc->idx);
	rte_rcu_qsbr_thread_online(qsbr, lc->idx);
	while (!atomic_load_explicit(&stop_flag, memory_order_relaxed)) {
		struct vgw_dp_list *l = atomic_load_explicit(&lc->list, memory_order_acquire);
		unsigned int work = 0;

		lc->idle_yield = false;
		if (l != NULL) {
			for (uint16_t i = 0; i < l->n; i++) {
				struct vgw_dp_task *t = &l->tasks[i];
				uint64_t t0 = rte_rdtsc();
				uint16_t n = t->poll(t, lc);

				if (n != 0) {
					lc->stats[t->slot].busy_cycles += rte_rdtsc() - t0;
					work += n;
				}
			}
		}
		lc->loops++;
		rte_rcu_qsbr_quiescent(qsbr, lc->idx);
		if (work != 0) {
			lc->busy_loops++;
		} else if (idle_sleep != 0) {
			rte_delay_us_sleep(idle_sleep);
		} else if (lc->idle_yield &&
			   atomic_load_explicit(&idle_yield, memory_order_relaxed)) {
			sched_yield();
		} else {
			/* an idle pass: let a sibling hardware thread (a guest's
			 * vCPU, often) have the core's pipeline for a moment;
			 * costs a new request well under a microsecond */
			for (int i = 0; i < VGW_DP_IDLE_PAUSES; i++)
				rte_pause();
		}
	}
	rte_rcu_qsbr_thread_offline(qsbr, lc->idx);
	rte_rcu_qsbr_thread_unregister(qsbr, lc->idx);
	return 0;
}

void
vgw_dp_idle_yield(bool on)
{
	atomic_store(&idle_yield, on);
}

int
vgw_dp_init(uint32_t idle_sleep_us)
{
	unsigned int lcore, i = 0;
	size_t sz;

	n_workers = rte_lcore_count() - 1;
	if (n_workers == 0)
		return -ENODEV;
	idle_sleep = idle_sleep_us;
	workers = rte_zmalloc("vgw_dp_workers", n_workers * sizeof(*workers), RTE_CACHE_LINE_SIZE);
	if (workers == NULL)
		return -ENOMEM;
	sz = rte_rcu_qsbr_get_memsize(n_workers);
	qsbr = rte_zmalloc("vgw_dp_qsbr", sz, RTE_CACHE_LINE_SIZE);
	if (qsbr == NULL || rte_rcu_qsbr_init(qsbr, n_workers) < 0)
		goto fail;
	RTE_LCORE_FOREACH_WORKER(lcore) {
		struct vgw_dp_lcore *lc = &workers[i];

		lc->lcore_id = lcore;
		lc->idx = i++;
		atomic_init(&lc->list, NULL);
		lc->stats =
			rte_zmalloc_socket("vgw_dp_stats", VGW_DP_MAX_SLOTS * sizeof(*lc->stats),
					   RTE_CACHE_LINE_SIZE, rte_lcore_to_socket_id(lcore));
		if (lc->stats == NULL)
			goto fail;
	}
	return 0;
fail:
	vgw_dp_fini();
	return -ENOMEM;
}

void
vgw_dp_fini(void)
{
	if (workers != NULL) {
		for (unsigned int i = 0; i < n_workers; i++) {
			rte_free(atomic_load(&workers[i].list));
			rte_free(workers[i].stats);
		}
	}
	rte_free(workers);
	rte_free(qsbr);
	workers = NULL;
	qsbr = NULL;
	n_workers = 0;
}

int
vgw_dp_start(void)
{
	atomic_store(&stop_flag, false);
	for (unsigned int i = 0; i < n_workers; i++) {
		int ret = rte_eal_remote_launch(worker_main, &workers[i], workers[i].lcore_id);
		if (ret < 0) {
			VGW_LOG(dp, ERR, "cannot launch worker on lcore %u: %s",
				workers[i].lcore_id, strerror(-ret));
			vgw_dp_stop();
			return ret;
		}
	}
	running = true;
	return 0;
}

void
vgw_dp_stop(void)
{
	atomic_store(&stop_flag, true);
	rte_eal_mp_wait_lcore();
	running = false;
}

unsigned int
vgw_dp_n_workers(void)
{
	return n_workers;
}

unsigned int
vgw_dp_worker_lcore(unsigned int idx)
{
	return idx < n_workers ? workers[idx].lcore_id : RTE_MAX_LCORE;
}

static struct vgw_dp_list *
list_alloc(uint16_t n)
{
	struct vgw_dp_list *l;

	l = rte_zmalloc("vgw_dp_list", sizeof(*l) + n * sizeof(l->tasks[0]), RTE_CACHE_LINE_SIZE);
	return l;
}

int
vgw_dp_add_provider(vgw_dp_provider_fn fn)
{
	if (n_providers == MAX_PROVIDERS)
		return -ENOSPC;
	providers[n_providers++] = fn;
	return 0;
}

void
vgw_dp_sync(void)
{
	if (qsbr != NULL)
		rte_rcu_qsbr_synchronize(qsbr, RTE_QSBR_THRID_INVALID);
}

static bool
task_same(const struct vgw_dp_task *a, const struct vgw_dp_task *b)
{
	return a->poll == b->poll && a->arg == b->arg && a->queue == b->queue;
}

static bool
list_has(const struct vgw_dp_list *l, const struct vgw_dp_task *t)
{
	for (uint16_t i = 0; l != NULL && i < l->n; i++)
		if (task_same(&l->tasks[i], t))
			return true;
	return false;
}

/* Publish lists[] to the workers and free what they ran before, after a
 * grace period. */
static void
publish(struct vgw_dp_list **lists)
{
	struct vgw_dp_list *old[RTE_MAX_LCORE];

	for (unsigned int w = 0; w < n_workers; w++)
		old[w] = atomic_exchange_explicit(&workers[w].list, lists[w], memory_order_acq_rel);
	vgw_dp_sync();
	for (unsigned int w = 0; w < n_workers; w++)
		rte_free(old[w]);
}

/* A task runs on one worker at a time: its state (an xconnect's held
 * frames, an fs queue's walker) has one owner. A task that moves to another
 * worker is first taken off every list for a grace period; the tasks that
 * stay where they are keep running meanwhile. */
static int
publish_kept(struct vgw_dp_list **lists)
{
	struct vgw_dp_list *kept[RTE_MAX_LCORE];
	bool moved = false;

	for (unsigned int w = 0; w < n_workers; w++) {
		struct vgw_dp_list *cur = atomic_load(&workers[w].list);

		kept[w] = list_alloc(lists[w]->n);
		if (kept[w] == NULL) {
			while (w-- > 0)
				rte_free(kept[w]);
			return -ENOMEM;
		}
		for (uint16_t i = 0; i < lists[w]->n; i++) {
			if (list_has(cur, &lists[w]->tasks[i]))
				kept[w]->tasks[kept[w]->n++] = lists[w]->tasks[i];
			else
				moved = true;
		}
	}
	if (moved) {
		publish(kept);
		return 0;
	}
	for (unsigned int w = 0; w < n_workers; w++)
		rte_free(kept[w]);
	return 0;
}

static uint64_t
slot_busy(uint16_t slot)
{
	uint64_t busy = 0;

	for (unsigned int i = 0; slot < VGW_DP_MAX_SLOTS && i < n_workers; i++)
		busy += workers[i].stats[slot].busy_cycles;
	return busy;
}

/* Each task's worker, by the busy cycles its slot took since the last
 * rebuild (vgw_dp_assign(): heaviest first, to the least-loaded worker). */
static int
place(const struct vgw_dp_task *tasks, unsigned int n, unsigned int *where)
{
	uint64_t *load, *now;
	int ret;

	load = malloc((n + 1) * sizeof(*load));
	now = malloc((n + 1) * sizeof(*now));
	if (load == NULL || now == NULL) {
		free(load);
		free(now);
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < n; i++) {
		uint16_t slot = tasks[i].slot;

		now[i] = slot_busy(slot);
		load[i] = slot < VGW_DP_MAX_SLOTS && now[i] > slot_busy_seen[slot] ?
				  now[i] - slot_busy_seen[slot] :
				  0;
	}
	ret = vgw_dp_assign(load, n, n_workers, where);
	if (ret == 0) {
		for (unsigned int i = 0; i < n; i++)
			if (tasks[i].slot < VGW_DP_MAX_SLOTS)
				slot_busy_seen[tasks[i].slot] = now[i];
	}
	free(load);
	free(now);
	return ret;
}

static void
rebuild_locked(void)
{
	struct vgw_dp_list *lists[RTE_MAX_LCORE];
	uint16_t count[RTE_MAX_LCORE] = { 0 };
	struct vgw_dp_task *tasks;
	unsigned int *where;
	unsigned int n = 0;

	atomic_store(&rebuild_pending, false);
	tasks = malloc(MAX_TASKS * sizeof(*tasks));
	where = malloc(MAX_TASKS * sizeof(*where));
	if (tasks == NULL || where == NULL)
		goto retry;
	for (unsigned int p = 0; p < n_providers; p++)
		n += providers[p](tasks + n, MAX_TASKS - n);
	if (place(tasks, n, where) < 0)
		goto retry;
	for (unsigned int i = 0; i < n; i++)
		count[where[i]]++;
	for (unsigned int w = 0; w < n_workers; w++) {
		lists[w] = list_alloc(count[w]);
		if (lists[w] == NULL) {
			while (w-- > 0)
				rte_free(lists[w]);
			goto retry;
		}
	}
	for (unsigned int i = 0; i < n; i++) {
		struct vgw_dp_list *l = lists[where[i]];

		l->tasks[l->n++] = tasks[i];
	}
	free(tasks);
	free(where);
	if (publish_kept(lists) < 0) {
		for (unsigned int w = 0; w < n_workers; w++)
			rte_free(lists[w]);
		tasks = NULL;
		where = NULL;
		goto retry;
	}
	publish(lists);
	return;
retry:
	free(tasks);
	free(where);
	VGW_LOG(dp, ERR, "out of memory for the poll lists; retrying");
	atomic_store(&rebuild_pending, true);
}

void
vgw_dp_rebuild(void)
{
	if (n_workers == 0)
		return;
	pthread_mutex_lock(&publish_lock);
	rebuild_locked();
	pthread_mutex_unlock(&publish_lock);
}

void
vgw_dp_rebuild_later(void)
{
	atomic_store(&rebuild_pending, true);
}

void
vgw_dp_tick(void)
{
	if (atomic_load(&rebuild_pending))
		vgw_dp_rebuild();
}

void
vgw_dp_stats_sum(uint16_t slot, struct vgw_dp_qstats *out)
{
	memset(out, 0, sizeof(*out));
	if (slot >= VGW_DP_MAX_SLOTS)
		return;
	for (unsigned int i = 0; i < n_workers; i++) {
		const struct vgw_dp_qstats *s = &workers[i].stats[slot];

		out->rx_pkts += s->rx_pkts;
		out->rx_bytes += s->rx_bytes;
		out->tx_pkts += s->tx_pkts;
		out->tx_bytes += s->tx_bytes;
		out->drops += s->drops;
		out->busy_cycles += s->busy_cycles;
		out->errors += s->errors;
		out->bytes_read += s->bytes_read;
		out->bytes_written += s->bytes_written;
	}
}

void
vgw_dp_worker_load(unsigned int idx, uint64_t *loops, uint64_t *busy)
{
	*loops = idx < n_workers ? workers[idx].loops : 0;
	*busy = idx < n_workers ? workers[idx].busy_loops : 0;
}
