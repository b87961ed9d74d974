/*
 * The worker loop (see worker.h). Backoff is by time, not by round count: a worker keeps
 * polling (with pause) for the first 200 us without work, then sleeps 50 us at a time, and
 * after 10 ms of idleness blocks on its eventfd for up to deep_sleep_ns (or, without deep
 * sleep, naps 1 ms at a time); any work resets it. Sleeping early would let a ring fill
 * behind a sleeping consumer (1024 events take ~0.2 ms to arrive at full rate); blocking
 * late keeps an idle pipeline near zero CPU, and the wake by a producer keeps a blocked
 * consumer from adding latency to the first event.
 *
 * The sleepers mask pairs a blocking worker with the producers (Dekker's pattern): the
 * worker sets its bit (seq_cst), runs one more round, and blocks only if that round found
 * nothing; a worker whose round did work issues a full fence, then loads the mask. Either
 * the re-check round sees the producer's enqueue, or the producer sees the bit. The waker
 * clears the bit (fetch_and) and writes the eventfd only if it cleared it, so one sleep
 * costs at most one write however many producers see it.
 */
#include "worker.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_pause.h>
#include <rte_rcu_qsbr.h>

#define WORKER_SPIN_US	      200
#define WORKER_SHORT_IDLE_US  10000
#define WORKER_SHORT_SLEEP_NS 50000
#define WORKER_LONG_SLEEP_NS  1000000
#define WORKER_TABLE_MAX      64

static struct sl_worker *worker_tab[WORKER_TABLE_MAX];
static unsigned worker_n;
static uint64_t worker_sleepers; /* bit i: worker i blocks or is about to */

static void worker_sleep_ns(long ns)
{
	struct timespec ts = { 0, ns };

	nanosleep(&ts, NULL);
}

int sl_worker_table(struct sl_worker *ws, unsigned n)
{
	if (n > WORKER_TABLE_MAX)
		return -E2BIG;
	for (unsigned i = 0; i < n; i++) {
		ws[i].index = i;
		ws[i].wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (ws[i].wake_fd < 0) {
			int e = errno;

			while (i-- > 0) {
				close(ws[i].wake_fd);
				ws[i].wake_fd = -1;
			}
			return -e;
		}
		worker_tab[i] = &ws[i];
	}
	worker_n = n;
	__atomic_store_n(&worker_sleepers, 0, __ATOMIC_RELAXED);
	return 0;
}

void sl_worker_table_fini(void)
{
	for (unsigned i = 0; i < worker_n; i++) {
		if (worker_tab[i]->wake_fd >= 0)
			close(worker_tab[i]->wake_fd);
		worker_tab[i]->wake_fd = -1;
		worker_tab[i] = NULL;
	}
	worker_n = 0;
}

/* Wake the sleepers in mask s (other than self). */
static void worker_wake(uint64_t s)
{
	while (s) {
		unsigned i = (unsigned)__builtin_ctzll(s);
		uint64_t bit = 1ull << i;

		s &= s - 1;
		if (__atomic_fetch_and(&worker_sleepers, ~bit, __ATOMIC_ACQ_REL) & bit) {
			uint64_t one = 1;
			ssize_t r = write(worker_tab[i]->wake_fd, &one, sizeof(one));

			(void)r; /* EAGAIN: the counter is full, so a wake is pending anyway */
		}
	}
}

void sl_worker_wake_all(void)
{
	/* Pairs with the sleeper's seq_cst fetch_or: what the caller stored before (a
	 * published list, a stop, a done flag) is seen by the round after the wake. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	worker_wake(__atomic_load_n(&worker_sleepers, __ATOMIC_RELAXED));
}

/* Block on the eventfd for up to ns, then drain it. */
static void worker_block(struct sl_worker *w, uint64_t ns)
{
	struct pollfd pfd = { .fd = w->wake_fd, .events = POLLIN };
	struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };
	uint64_t v;

	if (ppoll(&pfd, 1, &ts, NULL) > 0) {
		ssize_t r = read(w->wake_fd, &v, sizeof(v));

		(void)r;
	}
	__atomic_fetch_and(&worker_sleepers, ~(1ull << w->index), __ATOMIC_RELAXED);
}

__thread uint64_t sl_worker_tsc;

int sl_worker_loop(void *arg)
{
	struct sl_worker *w = arg;
	uint64_t us_tsc = rte_get_tsc_hz() / 1000000;
	uint64_t idle_since = 0, self = 0, last = 0;
	bool deep = w->wake_fd >= 0 && w->deep_sleep_ns && worker_n > 0, armed = false;

	if (deep)
		self = 1ull << w->index;
	sl_worker_tsc = last = rte_rdtsc();
	if (w->qs)
		rte_rcu_qsbr_thread_online(w->qs, w->qs_id);
	for (;;) {
		/* Pairs with the controller's release store of a new list (graph/pipeline.c). */
		const struct sl_task_list *l = __atomic_load_n(&w->list, __ATOMIC_ACQUIRE);
		unsigned work = 0, fin = 0;
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
			fin += t->finished;
		}
		/* Nothing of l is used past this point: the controller may reuse it. */
		if (w->qs)
			rte_rcu_qsbr_quiescent(w->qs, w->qs_id);
		w->n_rounds++;
		/* Alone, no other worker can be asleep waiting for what this one did. */
		if ((work || fin) && worker_n > 1) {
			/* Our enqueues (or done flags) before the load of the mask: pairs with
			 * the sleeper's fetch_or before its re-check round. */
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			uint64_t s = __atomic_load_n(&worker_sleepers, __ATOMIC_RELAXED) & ~self;

			if (s)
				worker_wake(s);
		}
		/* The round's clock: the last reading a task took in this round (the end of
		 * its timed call), or a fresh one when none took any. */
		now = sl_worker_tsc;
		if (now == last)
			now = rte_rdtsc();
		sl_worker_tsc = last = now;
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
			if (armed) {
				__atomic_fetch_and(&worker_sleepers, ~self, __ATOMIC_RELAXED);
				armed = false;
			}
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
		if (deep && idle >= WORKER_SHORT_IDLE_US && !armed) {
			/* Say we are about to block, then look once more (see the file comment). */
			__atomic_fetch_or(&worker_sleepers, self, __ATOMIC_SEQ_CST);
			armed = true;
			continue;
		}
		/* Asleep, the worker holds no list: grace periods need not wait for it. */
		if (w->qs)
			rte_rcu_qsbr_thread_offline(w->qs, w->qs_id);
		if (armed) {
			/* The longer idle, the longer the block, up to deep_sleep_ns: 1 ms at
			 * 64 ms idle, idle / 64 after that (deep_ramp: tests block sooner). */
			uint64_t ns = RTE_MAX((uint64_t)WORKER_LONG_SLEEP_NS,
					      idle * 1000 / (w->deep_ramp ? w->deep_ramp : 64));

			worker_block(w, RTE_MIN(ns, w->deep_sleep_ns));
			armed = false;
			w->n_deep_sleeps++;
		} else {
			worker_sleep_ns(idle < WORKER_SHORT_IDLE_US ? WORKER_SHORT_SLEEP_NS
								    : WORKER_LONG_SLEEP_NS);
		}
		if (w->qs)
			rte_rcu_qsbr_thread_online(w->qs, w->qs_id);
		w->n_sleeps++;
	}
	if (armed)
		__atomic_fetch_and(&worker_sleepers, ~self, __ATOMIC_RELAXED);
	if (w->qs)
		rte_rcu_qsbr_thread_offline(w->qs, w->qs_id);
	return 0;
}
