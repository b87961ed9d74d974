/*
 * The scaling policy (policy.h) against a simulated stage, with a fake clock: every tick
 * (1 ms) the stage is offered `load` cores of work; the replicas running do what they can
 * (busy = min(offered + backlog, replicas)), the rest waits in the ring (100 events per
 * core-ms, capacity 1024), and the policy's answer is applied at once. Each table row is
 * a load profile in phases and what must hold at the end of each phase (a replica range)
 * and over the whole run (most changes, first scale-up no later than a tick count). The
 * budget is tested on its own, table-driven too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scale/policy.h"

#define TICK_NS		   1000000ull
#define EVENTS_PER_CORE_MS 100.0
#define RING		   1024
#define MAX_PHASES	   8

struct phase {
	uint32_t ms;
	double load;	 /* offered, in cores */
	uint32_t lo, hi; /* replicas at the end of the phase */
};

struct row {
	const char *name;
	uint32_t min, max, start;
	struct phase ph[MAX_PHASES];
	uint32_t max_changes;  /* over the run */
	uint32_t up_within_ms; /* first increase at most this long after the first load
				 * above the running replicas' share (0: not checked) */
};

static const struct row rows[] = {
	{ "step up then idle to min",
	  1,
	  4,
	  1,
	  { { 50, 0.3, 1, 1 }, { 300, 1.8, 3, 3 }, { 400, 0.0, 1, 1 } },
	  4,
	  3 },
	{ "step to saturation of max", 1, 4, 1, { { 20, 0.2, 1, 1 }, { 300, 9.0, 4, 4 } }, 3, 3 },
	{ "one busy tick does not scale",
	  1,
	  4,
	  1,
	  { { 50, 0.3, 1, 1 }, { 1, 1.0, 1, 1 }, { 300, 0.3, 1, 1 } },
	  0,
	  0 },
	{ "a spike goes up, then down once",
	  1,
	  4,
	  1,
	  { { 50, 0.3, 1, 1 }, { 3, 3.0, 2, 4 }, { 400, 0.3, 1, 1 } },
	  3,
	  2 },
	{ "ramp up and down",
	  1,
	  8,
	  1,
	  { { 100, 0.5, 1, 1 },
	    { 200, 1.3, 2, 2 },
	    { 200, 2.6, 4, 4 },
	    { 400, 1.3, 2, 3 },
	    { 600, 0.2, 1, 1 } },
	  8,
	  0 },
	{ "min and max hold",
	  2,
	  3,
	  2,
	  { { 100, 0.0, 2, 2 }, { 300, 5.0, 3, 3 }, { 500, 0.0, 2, 2 } },
	  2,
	  3 },
	{ "scale to zero and back",
	  0,
	  4,
	  0,
	  { { 10, 0.0, 0, 0 },
	    { 50, 0.4, 1, 1 },
	    { 50, 0.0, 1, 1 },	/* idle, but not for idle_ns yet */
	    { 200, 0.0, 0, 0 }, /* now parked */
	    { 1, 0.1, 1, 1 } }, /* the first event wakes one in the same tick */
	  3,
	  1 },
	{ "no flapping near a threshold",
	  1,
	  4,
	  1,
	  { { 2000, -1.0, 1, 3 } },
	  3,
	  0 }, /* load -1: alternates 0.2 / 1.2 every 10 ms */
	{ "no flapping at a steady load", 1, 8, 1, { { 2000, 1.35, 2, 2 } }, 1, 3 },
};

static double offered(const struct phase *ph, uint64_t tick)
{
	if (ph->load >= 0)
		return ph->load;
	return (tick / 10) % 2 ? 1.2 : 0.2;
}

static void run_row(const struct row *r)
{
	struct sl_scale_params p;
	struct sl_scale_state *s = malloc(sizeof(*s));
	uint32_t n = r->start, changes = 0;
	uint64_t tick = 0, first_over = 0, first_up = 0;
	double backlog = 0;

	assert_non_null(s);
	sl_scale_params_default(&p, r->min, r->max);
	sl_scale_state_init(s);
	for (int k = 0; k < MAX_PHASES && r->ph[k].ms; k++) {
		const struct phase *ph = &r->ph[k];

		for (uint32_t ms = 0; ms < ph->ms; ms++, tick++) {
			double w = offered(ph, tick), avail = w + backlog;
			double busy = avail < n ? avail : n;
			struct sl_scale_sample x;
			uint32_t d;

			backlog = avail - busy;
			x = (struct sl_scale_sample){
				.now_ns = tick * TICK_NS,
				.replicas = n,
				.busy = busy,
				.queued = (uint64_t)(backlog * EVENTS_PER_CORE_MS),
				.capacity = RING,
				.arrived = (uint64_t)(w * EVENTS_PER_CORE_MS + 0.999),
			};
			if (x.queued > RING)
				x.queued = RING;
			if (!first_over && w > 0.7 * n && n < r->max)
				first_over = tick + 1;
			d = sl_scale_policy(&p, s, &x);
			assert_true(d >= r->min && d <= r->max);
			if (d > n && !first_up)
				first_up = tick + 1;
			if (d != n)
				changes++;
			n = d;
		}
		if (n < ph->lo || n > ph->hi)
			fail_msg("%s: phase %d ends with %u replicas, expected %u..%u", r->name, k,
				 n, ph->lo, ph->hi);
	}
	if (changes > r->max_changes)
		fail_msg("%s: %u changes, at most %u expected", r->name, changes, r->max_changes);
	if (r->up_within_ms) {
		assert_true(first_over != 0 && first_up != 0);
		if (first_up - first_over >= r->up_within_ms)
			fail_msg("%s: first scale-up %" PRIu64 " ms after the load rose (limit %u)",
				 r->name, (uint64_t)(first_up - first_over), r->up_within_ms);
	}
	free(s);
}

static void test_profiles(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		run_row(&rows[i]);
}

/* A full ring scales up even when busy does not show it (replicas on shared cores). */
static void test_queue_panic(void **state)
{
	struct sl_scale_params p;
	struct sl_scale_state *s = malloc(sizeof(*s));
	struct sl_scale_sample x = { .now_ns = 0, .replicas = 1, .busy = 0.3, .capacity = 1024 };

	(void)state;
	assert_non_null(s);
	sl_scale_params_default(&p, 1, 4);
	sl_scale_state_init(s);
	assert_int_equal(sl_scale_policy(&p, s, &x), 1);
	x.now_ns += TICK_NS;
	x.queued = 600;
	assert_int_equal(sl_scale_policy(&p, s, &x), 2);
	/* Still in panic: no scale-down while it lasts, even with the ring empty. */
	x.replicas = 2;
	x.queued = 0;
	x.busy = 0.1;
	for (int i = 0; i < 50; i++) {
		x.now_ns += TICK_NS;
		assert_int_equal(sl_scale_policy(&p, s, &x), 2);
	}
	free(s);
}

struct budget_row {
	uint32_t n, cores;
	uint32_t want[4], min[4], grant[4];
};

static const struct budget_row budget_rows[] = {
	{ 2, 0, { 5, 3 }, { 0, 0 }, { 5, 3 } },		 /* no budget */
	{ 2, 8, { 5, 3 }, { 0, 0 }, { 5, 3 } },		 /* fits */
	{ 2, 4, { 4, 4 }, { 0, 0 }, { 2, 2 } },		 /* split evenly */
	{ 2, 3, { 4, 4 }, { 0, 0 }, { 2, 1 } },		 /* tie: lower index first */
	{ 3, 4, { 6, 1, 3 }, { 1, 1, 0 }, { 2, 1, 1 } }, /* mins first, then unmet share */
	{ 2, 2, { 0, 0 }, { 2, 1 }, { 2, 1 } },		 /* mins even past the budget */
	{ 2, 4, { 0, 9 }, { 0, 0 }, { 0, 4 } },		 /* an idle stage gets nothing */
};

static void test_budget(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(budget_rows) / sizeof(budget_rows[0]); i++) {
		const struct budget_row *b = &budget_rows[i];
		uint32_t g[4] = { 0 };

		sl_scale_budget(b->n, b->want, b->min, b->cores, g);
		for (uint32_t k = 0; k < b->n; k++)
			if (g[k] != b->grant[k])
				fail_msg("budget row %zu: stage %u granted %u, expected %u", i, k,
					 g[k], b->grant[k]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_profiles),
		cmocka_unit_test(test_queue_panic),
		cmocka_unit_test(test_budget),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
