/*
 * The worker loop (see worker.h). Backoff: after 64 idle rounds the worker pauses, after
 * 512 it sleeps, starting at 20 us and doubling up to 1 ms; any work resets it. A 1 ms
 * ceiling bounds the latency an idle pipeline adds to its first event.
 */
#include "worker.h"

#include <time.h>

#include <rte_cycles.h>
#include <rte_pause.h>

static void worker_sleep_ns(long ns)
{
	struct timespec ts = { 0, ns };

	nanosleep(&ts, NULL);
}

int sl_worker_loop(void *arg)
{
	struct sl_worker *w = arg;
	uint32_t idle = 0;
	long sleep_ns = 20000;

	for (;;) {
		unsigned work = 0;
		bool alive = false;

		if (w->stop)
			break;
		for (uint32_t i = 0; i < w->n_tasks; i++) {
			struct sl_task *t = w->tasks[i];
			if (t->finished)
				continue;
			work += t->run(t);
			alive |= !t->finished;
		}
		w->n_rounds++;
		if (w->tick) {
			uint64_t now = rte_rdtsc();
			if (now >= w->next_tick_tsc) {
				w->next_tick_tsc = now + w->tick_period_tsc;
				if (!w->tick(w->tick_arg))
					break;
			}
		} else if (!alive) {
			break;
		}
		if (work) {
			idle = 0;
			sleep_ns = 20000;
			continue;
		}
		w->n_idle_rounds++;
		if (++idle < 64)
			continue;
		if (idle < 512) {
			rte_pause();
			continue;
		}
		worker_sleep_ns(sleep_ns);
		w->n_sleeps++;
		if (sleep_ns < 1000000)
			sleep_ns *= 2;
	}
	return 0;
}
