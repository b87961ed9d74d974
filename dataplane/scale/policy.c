/*
 * The scaling policy (see policy.h). Pure: everything it knows comes in the sample and
 * the state the caller keeps for it.
 */
#include "policy.h"

#include <math.h>
#include <string.h>

#define MS 1000000ull

void sl_scale_params_default(struct sl_scale_params *p, uint32_t min, uint32_t max)
{
	*p = (struct sl_scale_params){
		.min = min,
		.max = max,
		.target = 0.7,
		.down_target = 0.5,
		.panic_threshold = 2.0,
		.queue_high = 0.25,
		.stable_ns = 100 * MS,
		.panic_ns = 2 * MS,
		.down_delay_ns = 100 * MS,
		.idle_ns = 100 * MS,
	};
}

void sl_scale_state_init(struct sl_scale_state *s)
{
	memset(s, 0, sizeof(*s));
}

static void hist_push(struct sl_scale_state *s, uint64_t t, double busy)
{
	uint32_t slot = (s->head + s->n) % SL_SCALE_HISTORY;

	if (s->n == SL_SCALE_HISTORY) {
		slot = s->head;
		s->head = (s->head + 1) % SL_SCALE_HISTORY;
	} else {
		s->n++;
	}
	s->hist[slot] = (struct sl_scale_hist){ .t = t, .busy = busy };
}

/* Mean load of the samples newer than now - window (the newest always counts). */
static double hist_avg(const struct sl_scale_state *s, uint64_t now, uint64_t window)
{
	double sum = 0;
	uint32_t k = 0;

	for (uint32_t i = s->n; i-- > 0;) {
		const struct sl_scale_hist *h = &s->hist[(s->head + i) % SL_SCALE_HISTORY];

		if (k && now - h->t >= window)
			break;
		sum += h->busy;
		k++;
	}
	return k ? sum / k : 0;
}

/* Replicas for a load at a per-replica target (a hair under an exact multiple rounds
 * down, so 1.4 cores at 0.7 is 2, not 3). */
static uint32_t replicas_for(double load, double target)
{
	double r = ceil(load / target - 1e-9);

	return r <= 0 ? 0 : r >= 65535 ? 65535 : (uint32_t)r;
}

static uint32_t umax(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

uint32_t sl_scale_policy(const struct sl_scale_params *p, struct sl_scale_state *s,
			 const struct sl_scale_sample *x)
{
	uint64_t now = x->now_ns;
	uint32_t cur = x->replicas, want_stable, want_panic, desired;
	double stable, panic;
	bool qhigh;

	if (!s->started) {
		s->started = true;
		s->last_change_ns = now;
		s->last_active_ns = now;
	}
	hist_push(s, now, x->busy);
	if (x->arrived || x->queued || x->busy > 1e-3)
		s->last_active_ns = now;
	stable = hist_avg(s, now, p->stable_ns);
	panic = hist_avg(s, now, p->panic_ns);
	want_stable = replicas_for(stable, p->target);
	want_panic = replicas_for(panic, p->target);
	qhigh = x->capacity && (double)x->queued > p->queue_high * (double)x->capacity;

	if ((cur > 0 && want_panic >= p->panic_threshold * cur) || qhigh) {
		/* A full ring says the running replicas cannot keep up even when their busy
		 * share does not show it yet (the step just happened): one more at least. */
		uint32_t floor = umax(want_panic, qhigh ? cur + 1 : cur);

		s->panic = true;
		s->panic_end_ns = now + p->stable_ns;
		s->panic_floor = umax(s->panic_floor, floor);
	} else if (s->panic && now >= s->panic_end_ns) {
		s->panic = false;
		s->panic_floor = 0;
	}

	if (s->panic) {
		desired = umax(umax(s->panic_floor, want_stable), cur);
	} else if (want_stable > cur) {
		desired = want_stable;
	} else {
		uint32_t down = replicas_for(stable, p->down_target);

		desired = cur;
		if (down < cur && now - s->last_change_ns >= p->down_delay_ns)
			desired = down;
	}
	/* Zero only after idle_ns of nothing; from zero at the first sign of input. */
	if (desired == 0 && cur > 0 && now - s->last_active_ns < p->idle_ns)
		desired = 1;
	if (desired == 0 && (x->queued || x->arrived))
		desired = 1;
	if (desired < p->min)
		desired = p->min;
	if (desired > p->max)
		desired = p->max;
	if (desired != cur)
		s->last_change_ns = now;
	s->last_desired = desired;
	return desired;
}

void sl_scale_budget(uint32_t n, const uint32_t *want, const uint32_t *min, uint32_t cores,
		     uint32_t *grant)
{
	uint64_t used = 0;

	for (uint32_t i = 0; i < n; i++) {
		grant[i] = want[i] > min[i] ? min[i] : want[i];
		if (grant[i] < min[i])
			grant[i] = min[i];
		used += grant[i];
	}
	if (cores == 0) {
		for (uint32_t i = 0; i < n; i++)
			grant[i] = want[i] > min[i] ? want[i] : min[i];
		return;
	}
	while (used < cores) {
		int best = -1;
		double best_unmet = 0;

		for (uint32_t i = 0; i < n; i++) {
			double unmet;

			if (grant[i] >= want[i])
				continue;
			unmet = (double)(want[i] - grant[i]) / (double)want[i];
			if (best < 0 || unmet > best_unmet) {
				best = (int)i;
				best_unmet = unmet;
			}
		}
		if (best < 0)
			break;
		grant[best]++;
		used++;
	}
}
