/*
 * Fail-fast blame for trusted in-process stages (`isolation: none`, the default). A fault
 * in a stage (SIGSEGV, SIGBUS, SIGFPE, SIGILL) is not survivable: returning from the
 * handler would run the faulting code again, and the stage may have corrupted anything.
 * So the handler (blame.c) only writes a blame record, to stderr and to the blame file,
 * with async-signal-safe calls, then re-raises the signal with its default action. The
 * record names the stage, its kind, version and plugin, the ids of the events in the burst
 * it was processing, the fault address and the code address (and which plugin that code
 * belongs to). docs/resilience.md.
 *
 * Which stage runs where comes from a per-lcore slot the worker sets around each call to
 * process (sl_blame_enter / sl_blame_leave, three stores into a cache line only that lcore
 * writes; no fences: the handler runs on the same thread, so program order is enough).
 * Without them the handler still attributes a fault inside a plugin's code by its address.
 */
#ifndef SL_RESILIENCE_BLAME_H
#define SL_RESILIENCE_BLAME_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_config.h>

#include <sluice/stage.h>

struct sl_config;
struct sl_registry;

/* What lcore i is running: a stage replica's context and its burst, or ctx NULL. */
struct sl_blame_slot {
	const struct sl_ctx *ctx;
	const struct sl_burst *burst;
} __rte_cache_aligned;

extern struct sl_blame_slot sl_blame_slots[RTE_MAX_LCORE];

/* Before a stage's process: this lcore now runs ctx's stage on burst. */
static inline void sl_blame_enter(const struct sl_ctx *ctx, const struct sl_burst *burst)
{
	struct sl_blame_slot *s = &sl_blame_slots[ctx->lcore];

	/* A signal fence only: the reader is a signal handler on this very thread. */
	__atomic_store_n(&s->burst, burst, __ATOMIC_RELAXED);
	__atomic_signal_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&s->ctx, ctx, __ATOMIC_RELAXED);
}

/* After process returned: this lcore runs runtime code again. */
static inline void sl_blame_leave(const struct sl_ctx *ctx)
{
	__atomic_signal_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&sl_blame_slots[ctx->lcore].ctx, NULL, __ATOMIC_RELAXED);
}

/* An in-process stage wrote invalid output that the runtime cannot use (what is a printf
 * format with two unsigned arguments): write the blame record with this reason, as for a
 * fault, and die of SIGABRT. Called while the blame slot is still set. */
void sl_blame_garbage(const struct sl_ctx *ctx, const char *what, unsigned a, unsigned b)
	__attribute__((noreturn, format(printf, 2, 0)));

/* After process, before sl_blame_leave: an output count past SL_EMIT_CAP or a drop count
 * past its list means the stage scribbled on its emit lists, so none of their events can
 * be trusted (freeing or sending them could corrupt the pool): fail fast with a blame
 * record rather than crash somewhere later. A few compares per burst. */
static inline void sl_blame_check_emit(const struct sl_ctx *ctx, const struct sl_emit *o)
{
	for (uint16_t p = 0; p < o->n_ports && p < SL_PORT_MAX; p++)
		if (__builtin_expect(o->n[p] > SL_EMIT_CAP, 0))
			sl_blame_garbage(ctx,
					 "invalid output: count %u on output %u is past the cap",
					 o->n[p], p);
	if (__builtin_expect(o->n_drop > SL_PORT_MAX * SL_EMIT_CAP + SL_BURST_MAX, 0))
		sl_blame_garbage(ctx, "invalid output: drop count %u is past the cap (%u)",
				 o->n_drop, SL_PORT_MAX * SL_EMIT_CAP + SL_BURST_MAX);
}

/* Install the fault handlers for the process and an alternate signal stack for the calling
 * thread; open (create, truncate, 0600) the blame file at path, or when path is NULL at
 * DIR/blame-PID.json in the runtime directory ($XDG_RUNTIME_DIR/sluice, /run/sluice for
 * root, else /tmp/sluice-UID). Records every stage of cfg (name, kind, version, plugin and
 * the plugin's code range) for the handler. Control thread, after the pipeline is built
 * (cfg and reg must outlive the process's run). 0 or -errno (logged). */
int sl_blame_setup(const struct sl_config *cfg, const struct sl_registry *reg, const char *path);

/* Close the blame file at a clean end; the default one is removed when empty. */
void sl_blame_fini(void);

/* Give the calling thread its own alternate signal stack, so a stack overflow can still be
 * reported. Returns 0 or -errno. Shaped for rte_eal_mp_remote_launch (arg unused). */
int sl_blame_thread_init(void *arg);

/* The blame file in use ("" before setup). */
const char *sl_blame_path(void);

/* Where the blame file goes by default: DIR/blame-PID.json for pid (see sl_blame_setup). */
int sl_blame_default_path(char *buf, size_t len, long pid);

#endif
