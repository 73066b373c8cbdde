/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdlib.h>

#include "dp_assign.h"

struct by_load {
	uint64_t load;
	unsigned int task;
};

/* Heaviest first; equal loads in task order (qsort is not stable). */
static int
cmp_load(const void *a, const void *b)
{
	const struct by_load *x = a, *y = b;

	if (x->load != y->load)
		return x->load > y->load ? -1 : 1;
	return x->task < y->task ? -1 : x->task > y->task;
}

int
vgw_dp_assign(const uint64_t *load, unsigned int n, unsigned int n_workers, unsigned int *worker)
{
	struct by_load *order;
	uint64_t *wload;
	unsigned int *wtasks;

	if (n_workers == 0)
		return -EINVAL;
	if (n == 0)
		return 0;
	order = malloc(n * sizeof(*order));
	wload = calloc(n_workers, sizeof(*wload));
	wtasks = calloc(n_workers, sizeof(*wtasks));
	if (order == NULL || wload == NULL || wtasks == NULL) {
		free(order);
		free(wload);
		free(wtasks);
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < n; i++)
		order[i] = (struct by_load){ .load = load[i], .task = i };
	qsort(order, n, sizeof(*order), cmp_load);
	for (unsigned int k = 0; k < n; k++) {
		unsigned int best = 0;

		for (unsigned int w = 1; w < n_workers; w++)
			if (wload[w] < wload[best] ||
			    (wload[w] == wload[best] && wtasks[w] < wtasks[best]))
				best = w;
		worker[order[k].task] = best;
		wload[best] = wload[best] + order[k].load < wload[best] ?
				      UINT64_MAX :
				      wload[best] + order[k].load;
		wtasks[best]++;
	}
	free(order);
	free(wload);
	free(wtasks);
	return 0;
}
