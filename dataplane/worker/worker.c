/*
 * The worker loop (see worker.h). Backoff is by time, not by round count: a worker keeps
 * polling (with pause) for the first 200 us without work, then sleeps 50 us at a time, and
 * after 10 ms of idleness 1 ms at a time; any work resets it. Sleeping early would let a
 * ring fill behind a sleeping consumer (1024 events take ~0.2 ms to arrive at full rate);
 * sleeping late keeps an idle pipeline near zero CPU with at most 1 ms added to its first
 * event.
 */
#include "worker.h"

#include <time.h>

#include <rte_cycles.h>
#include <rte_pause.h>
#include <rte_rcu_qsbr.h>

#define WORKER_SPIN_US	      200
#define WORKER_SHORT_IDLE_US  10000
#define WORKER_SHORT_SLEEP_NS 50000
#define WORKER_LONG_SLEEP_NS  1000000

static void worker_sleep_ns(long ns)
{
	struct timespec ts = { 0, ns };

	nanosleep(&ts, NULL);
}

int sl_worker_loop(void *arg)
{
	struct sl_worker *w = arg;
	uint64_t us_tsc = rte_get_tsc_hz() / 1000000;
	uint64_t idle_since = 0;

	if (w->qs)
		rte_rcu_qsbr_thread_online(w->qs, w->qs_id);
	for (;;) {
		/* Pairs with the controller's release store of a new list (graph/pipeline.c). */
		const struct sl_task_list *l = __atomic_load_n(&w->list, __ATOMIC_ACQUIRE);
		unsigned work = 0;
		bool alive = false;
		uint64_t now, idle;

		if (w->stop)
			break;
		for (uint32_t i = 0; i < l->n; i++) {
			struct sl_task *t = l->tasks[i];
			if (t->finished)
				continue;
			work += t->run(t);
			alive |= !t->finished;
		}
		/* Nothing of l is used past this point: the controller may reuse it. */
		if (w->qs)
			rte_rcu_qsbr_quiescent(w->qs, w->qs_id);
		w->n_rounds++;
		now = rte_rdtsc();
		if (w->tick) {
			if (now >= w->next_tick_tsc) {
				w->next_tick_tsc = now + w->tick_period_tsc;
				if (!w->tick(w->tick_arg))
					break;
			}
		} else if (!alive && !w->keep_running) {
			break;
		}
		if (work) {
			idle_since = 0;
			continue;
		}
		w->n_idle_rounds++;
		if (idle_since == 0)
			idle_since = now;
		idle = (now - idle_since) / us_tsc;
		if (idle < WORKER_SPIN_US) {
			rte_pause();
			continue;
		}
		/* Asleep, the worker holds no list: grace periods need not wait for it. */
		if (w->qs)
			rte_rcu_qsbr_thread_offline(w->qs, w->qs_id);
		worker_sleep_ns(idle < WORKER_SHORT_IDLE_US ? WORKER_SHORT_SLEEP_NS
							    : WORKER_LONG_SLEEP_NS);
		if (w->qs)
			rte_rcu_qsbr_thread_online(w->qs, w->qs_id);
		w->n_sleeps++;
	}
	if (w->qs)
		rte_rcu_qsbr_thread_offline(w->qs, w->qs_id);
	return 0;
}
