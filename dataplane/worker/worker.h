/*
 * Workers: one per EAL lcore, each looping over its task list (source pollers, stage
 * replicas, sink writers). A task's run returns how much work it did; a worker that finds
 * nothing to do backs off from polling to sleeps after 200 us, so idle cores cost little (and
 * more lcores than CPUs still make progress). The main lcore runs a worker too, calling
 * the controller's tick between rounds. The controller may publish a new task list for a
 * worker at any time (autoscaling, docs/scaling.md): the worker reads its list once per
 * round and reports a quiescent state (rte_rcu_qsbr) after each round, and is offline
 * while it sleeps, so the controller knows when an old list is no longer in use.
 *
 * Deep sleep (sl_worker_table set): a worker idle for 10 ms blocks on its eventfd for up
 * to deep_sleep_ns instead of napping. It first sets its bit in the sleepers mask and runs
 * one more round; any worker whose round did work (enqueued events, finished a task) then
 * checks the mask after a full fence and wakes the sleepers, so an event never waits for
 * a blocked consumer: a fence and a load per busy round, a system call only on the
 * sleep -> wake edge.
 */
#ifndef SL_WORKER_WORKER_H
#define SL_WORKER_WORKER_H

#include <stdbool.h>
#include <stdint.h>

struct sl_task;

/** Run once: returns events handled (0 = idle). Sets t->finished when it never runs again. */
typedef unsigned (*sl_task_run_fn)(struct sl_task *t);

struct sl_task {
	sl_task_run_fn run;
	bool finished;
	const char *name;
};

/** What a worker runs, published whole (release) by the controller. */
struct sl_task_list {
	uint32_t n;
	struct sl_task *tasks[];
};

struct rte_rcu_qsbr;

struct sl_worker {
	unsigned lcore;
	struct sl_task_list *list; /**< acquire-loaded once per round; pairs with the publish */
	struct rte_rcu_qsbr *qs;   /**< NULL: the list never changes */
	unsigned qs_id;		   /**< this worker's thread id in qs */
	/** Stay when every task has finished: the controller may still give them tasks, and
	 *  sets stop when the pipeline is done. */
	bool keep_running;
	volatile bool stop; /**< set by the controller: leave the loop now (then sl_worker_wake) */
	uint64_t n_rounds, n_idle_rounds, n_sleeps, n_deep_sleeps;
	/** Main lcore only: called between rounds; returns false to leave the loop. */
	bool (*tick)(void *arg);
	void *tick_arg;
	uint64_t tick_period_tsc, next_tick_tsc;
	/** Longest block of an idle worker (deep sleep); 0: 1 ms naps instead. Set before
	 *  the loop starts: shorter for workers with tasks that must look often (sources). */
	uint64_t deep_sleep_ns;
	uint32_t deep_ramp; /**< a block lasts idle / deep_ramp (at least 1 ms); 0 means 64 */
	unsigned index;	    /**< in the table given to sl_worker_table */
	int wake_fd;	    /**< eventfd (sl_worker_table), -1 without */
};

/** Enable deep sleep for workers ws[0..n) (n <= 64): one eventfd each. 0 or -errno; on
 *  error the workers nap as without. Call before any loop starts. */
int sl_worker_table(struct sl_worker *ws, unsigned n);

/** Release what sl_worker_table made, after every loop has returned. */
void sl_worker_table_fini(void);

/** Wake every blocked worker (after a list publish, a stop, a node marked done). */
void sl_worker_wake_all(void);

/** This thread's last TSC reading that a task may count from instead of reading the
 *  clock again (rdtsc costs ~25 cycles on a virtual machine): the worker loop sets it
 *  every round, a source's task as its poll starts (the dpdk source stamps its burst
 *  with it), and the pipeline's tasks at the end of each timed call, so a fused
 *  consumer's call starts where its producer's ended (docs/architecture.md, Fusion). */
extern __thread uint64_t sl_worker_tsc;

/** The worker loop; arg is a struct sl_worker. Returns when stop is set or every task has
 *  finished (and, on the main lcore, when tick returns false). */
int sl_worker_loop(void *arg);

#endif
