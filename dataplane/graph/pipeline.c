/*
 * Pipeline instantiation and lifecycle (see pipeline.h).
 *
 * Layout: one struct rt_node per config node (input ring, output ports, shared state
 * flags) and one struct rt_replica per task (a source poller, a stage replica or a sink
 * writer), each cache-line aligned and touched on the data path only by the lcore that
 * runs it. The control thread reads replica counters while running (relaxed, aligned
 * 64-bit) and exactly after the workers have returned.
 *
 * Completion walks the graph: a node is done when it will never enqueue again. A source is
 * done when its poll said so and its pending output is flushed. A stage replica finishes
 * when every upstream node was done *before* a dequeue that came back empty (acquire on
 * the upstream's done flag, which its producer stored with release after its last
 * enqueue); the last replica of a stage to finish closes the final window (merging every
 * replica's state) and marks the node done. A sink is done when its upstream is done, its
 * ring is drained and its final flush returned.
 *
 * Windows: each replica of a windowed stage has two state buffers. When a processing-time
 * window ends, every replica flips to its other buffer on its own lcore and bumps
 * n_flipped; the replica whose bump completes the count merges the closed buffers of all
 * replicas and emits them over the next rounds, then advances the node's epoch (release)
 * so replicas may flip again. `window: all` closes once, at the end of input.
 *
 * Delivery (sources with `checkpoint:`; docs/architecture.md): such a source stamps each
 * event with its current epoch (meta->flags, SL_META_F_ACK_MASK) and closes an epoch every
 * checkpoint interval. Every replica keeps, per (checkpointed source, epoch % SL_ACK_EPOCHS),
 * a signed count it alone writes (release stores): a producer adds one per consumer before
 * it enqueues an event; a stage subtracts one per input event after its outputs were
 * added; a sink subtracts one per event once the sink says it is durable (sink.h,
 * durable). The controller sums one epoch's counts over every replica, downstream nodes
 * first (acquire loads): an event's + is made before the enqueue that passes it on, so a
 * controller that sees the - of an event also sees the + it answers, and the sum is never
 * below the number of deliveries outstanding. Once the oldest closed epoch sums to zero,
 * the source commits the position it recorded when that epoch closed. Without any such
 * source the tasks run variants compiled without the accounting (no branch per burst).
 */
#include "pipeline.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "base/check.h"
#include "base/lathist.h"
#include "base/log.h"
#include "edge/edge.h"
#include "event/event.h"
#include "format/json.h"
#include "fuse.h"
#include "projection.h"
#include "resilience/blame.h"
#include "scale/policy.h"
#include "sink/sink.h"
#include "source/source.h"
#include "worker/worker.h"

#define PIPELINE_CACHE	     256
#define SINK_FLUSH_PERIOD_MS 100
#define TICK_PERIOD_MS	     1
#define SCALE_TICKS_PER_MS   4

static const char *const drop_reason_names[SL_DROP_REASON_MAX] = {
	[SL_DROP_FILTERED] = "filtered",   [SL_DROP_CONSUMED] = "consumed",
	[SL_DROP_INVALID] = "invalid",	   [SL_DROP_UNROUTED] = "unrouted",
	[SL_DROP_RING_FULL] = "ring_full", [SL_DROP_OVERFLOW] = "overflow",
	[SL_DROP_NOMBUF] = "nombuf",	   [SL_DROP_LOST] = "lost",
};

struct rt_node;
struct rt_replica;

/* A fused consumer of an output port (fuse.h): its replica, that replica's input ring,
 * and the call that hands it a burst with its facts (stage_fused, sink_fused or their _ack
 * variants), which returns the events it took (all or none). */
struct rt_fuse_dest {
	struct rt_replica *to;
	struct rte_ring *ring;
	uint16_t (*call)(struct rt_replica *to, struct rte_mbuf **ev, uint16_t n, uint16_t facts);
};

/* An output port with at least one fused consumer: d[i] for the port's consumer i, whose
 * call is NULL when that one is reached through its ring; last: the last fused one. */
struct rt_fuse {
	uint16_t n_fused, last;
	struct rt_fuse_dest d[SL_EDGE_DEST_MAX];
};

struct rt_replica {
	struct sl_task task; /* first: the worker sees only this */
	struct rt_node *node;
	uint16_t index;
	unsigned lcore;
	struct sl_edge_out out;
	struct sl_ctx ctx;
	struct sl_ctx_host host;
	struct sl_emit *emit;
	void *io;	      /* this replica's source or sink instance */
	struct rt_fuse *fuse; /* per output port, or NULL when none is fused (fuse.h) */
	uint64_t n_fused_in;  /* events handed over by a fused producer's direct call */
	uint64_t counters[SL_NODE_COUNTER_MAX];

	/* counters written by this replica's lcore only */
	uint64_t n_in;	      /* dequeued (stages, sinks) */
	uint64_t n_generated; /* made here: source events, window results */
	uint64_t n_written;   /* sinks: taken by write */
	uint64_t n_drop[SL_DROP_REASON_MAX];
	uint64_t busy_tsc;
	uint64_t n_calls;
	uint64_t call_seq; /* stages: odd while inside process (sl_pipeline_stage_replace) */
	/* stages and sinks, per burst (base/lathist.h): cycles inside process or write, and
	 * the age (now - ingest_tsc) of the burst's first event when it was taken */
	uint64_t lat_call[SL_LAT_BUCKETS];
	uint64_t lat_age[SL_LAT_BUCKETS];

	/* stage windows */
	void *state[2];
	uint8_t cur;
	uint64_t epoch;
	bool closing, final_close;
	bool final_flush; /* the final window is emitted; done once nothing is pending */
	void *close_state;
	uint64_t cursor;

	/* sources */
	bool src_done, stop_seen;
	/* sinks: events offered to write but not yet taken */
	struct rte_mbuf *held[SL_BURST_MAX];
	uint16_t held_head, n_held;
	uint64_t next_flush_tsc;
	bool up_done;

	/* delivery accounting (sl_pipeline.n_ack > 0 only) */
	int64_t *ack_cnt;		  /* [n_ack * SL_ACK_EPOCHS]: this lcore stores (release) */
	uint32_t held_cell[SL_BURST_MAX]; /* sinks: the count cell of each held event */
	struct ack_run *runs;		  /* sinks: taken, not yet durable, in order */
	uint32_t run_head, n_runs;
	uint64_t n_taken, n_acked; /* sinks: events taken by write, acknowledged */

	/* autoscaled stages (see "scaling" below) */
	uint32_t mode;	   /* enum rt_mode */
	bool cold_pending; /* woke from standby: the next burst is a cold start */
	uint64_t n_cold, cold_tsc_sum, cold_tsc_max; /* this lcore */
	uint64_t activated_tsc; /* controller, before RUN is published; the replica zeroes it */
	uint64_t react_tsc_last, react_tsc_max; /* this lcore: activation -> first burst */
	uint64_t cold_in_tsc, react_at_tsc; /* ingest of the last cold start; last first burst */
	/* ordered_by: inputs taken whose outputs are all enqueued (release; order_remap) */
	uint64_t ord_done;
	/* controller only */
	bool listed, unlisting; /* in its home worker's list; leaving it (grace pending) */
	uint16_t burst_max;	/* events a stage call takes (see stage_adapt_burst) */
	unsigned home;		/* index into sl_pipeline.workers */
} __rte_cache_aligned;

/*
 * Replica modes of an autoscaled stage. Each transition has one writer: the controller
 * IDLE->RUN (before publishing the list that holds it), RUN->DRAIN, DRAIN->RUN,
 * PARKED->RUN|STANDBY|IDLE; the replica DRAIN->PARKED, STANDBY->RUN, RUN|STANDBY->FINISHED.
 * From RUN, DRAIN and STANDBY both may move, so those transitions are CASes.
 */
enum rt_mode {
	RM_IDLE = 0, /* in no task list */
	RM_RUN,	     /* dequeues and processes */
	RM_DRAIN,    /* takes nothing new; parks once its held outputs are enqueued */
	RM_PARKED,   /* holds nothing; the controller lists it as standby or removes it */
	RM_STANDBY,  /* the stage is at zero: checks the ring, wakes on the first event */
	RM_FINISHED, /* saw its input done and empty */
};

/* The controller's view of an autoscaled stage (main lcore only, but stats read
 * running/desired relaxed). */
struct node_scale {
	struct sl_scale_params params;
	struct sl_scale_state state;
	uint64_t last_busy, last_in, last_queued, last_tsc;
	uint32_t running;     /* replicas in RUN at the last tick */
	uint64_t replica_tsc; /* integral of running over time, in TSC cycles (ledger) */
	uint32_t desired;     /* the last decision (after pin and budget) */
	uint64_t n_up, n_down;
};

/*
 * ordered_by (docs/scaling.md): a stage that keeps per-key order gets a dispatcher task,
 * the only consumer of its input ring, and a small ring per replica. The dispatcher hashes
 * each event's key field into one of ORD_BUCKETS buckets, and each bucket maps to one
 * routed replica, so the events of one key pass one replica in ring order (events without
 * the field are bucket 0). An autoscaled stage routes to its replicas in RUN: when that
 * set changes, the dispatcher takes nothing new until every replica that loses buckets
 * has passed on (outputs enqueued) all it was sent, then switches the map, so the events
 * of a key are never on two replicas at once. A static stage routes to all its replicas.
 * Rings per replica are small, so a change waits for at most ORD_RING_SIZE events.
 */
#define ORD_BUCKETS   256
#define ORD_RING_SIZE 64

struct rt_order {
	struct sl_task task; /* first: the worker sees only this */
	struct rt_node *node;
	struct sl_rec_key key;
	struct rte_ring **sub;		     /* per replica */
	uint8_t *routed;		     /* per replica: in the map; release, dispatcher only */
	uint64_t *sent;			     /* per replica: events enqueued to its ring */
	uint16_t map[ORD_BUCKETS];	     /* bucket -> replica, when n_routed */
	uint32_t n_routed;		     /* replicas in the map */
	struct rte_mbuf *held[SL_BURST_MAX]; /* routed, not yet in their ring (full) */
	uint16_t held_to[SL_BURST_MAX];
	uint16_t n_held;
	uint32_t done; /* release-stored after the last enqueue; acquire in stage_up_done */
	uint64_t n_switch, n_wait; /* map changes; runs that waited for a drain */
};

/* Consecutive events taken by a sink with the same count cell. */
struct ack_run {
	uint32_t cell;
	uint32_t n;
};

#define ACK_NONE     UINT32_MAX
#define ACK_RUNS_MAX (1u << 16) /* a sink takes no more while this many runs wait */

/* A source with a checkpoint, as the controller sees it. */
struct ack_source {
	struct rt_node *node;
	void *io;
	struct sl_source_ack *st;
	uint64_t committed;	/* controller's copy of st->committed */
	uint64_t retry_tsc;	/* after a failed commit, the next attempt */
	uint64_t n_commit_fail; /* commits the source could not persist */
	bool warned;		/* a count went negative (logged once) */
};

struct rt_node {
	struct sl_config_node *cfg;
	uint32_t id;
	struct rte_ring **rings; /* input: one, or one per replica of a replicated stage */
	uint32_t n_rings;
	struct sl_edge_port *ports;
	uint16_t n_ports;
	uint32_t *upstream;
	uint32_t n_upstream;
	uint32_t n_replicas;
	struct rt_replica *replicas;
	uint64_t window_tsc; /* windowed stages: period; 0 = all */
	bool windowed;
	uint64_t fields_mask; /* stages: sl_ctx.fields_mask (projection.h) */
	struct rt_impl *impl; /* stages: set once replaced live (swap, reload); else cfg's */

	/* shared between replicas and the controller */
	uint32_t done;	     /* release-stored once; pairs with upstream_done's acquire */
	uint32_t n_finished; /* replicas finished; acq_rel */
	bool lost_logged;    /* stage_lost said so once */
	uint32_t n_flipped;  /* replicas flipped for the current epoch; acq_rel */
	uint64_t epoch;	     /* release-stored by the closer; acquire in window_check */
	uint64_t window_end_tsc;

	/* autoscaled (scale:): n_replicas is the max, all created; the controller runs some */
	bool scaled;
	int32_t pin; /* sluice scale: replicas pinned, -1 auto; control thread stores */
	struct node_scale *sc;
	/* ordered_by with more than one replica (or scale:); NULL otherwise. A fused edge
	 * (output handed straight to the next stage) must never target such a node. */
	struct rt_order *ord;
};

struct sl_pipeline {
	struct sl_config *cfg;
	struct rt_node *nodes;
	uint32_t n_nodes;
	struct rte_mempool *pool;
	int meta_offset;
	uint64_t tsc_hz;
	struct sl_worker *workers;
	unsigned n_workers;
	uint64_t start_tsc, end_tsc;
	bool forced;
	bool sink_failed;  /* a sink's final flush failed: the run's output is incomplete */
	uint32_t stopping; /* sources should stop; relaxed */

	/* delivery: sources with a checkpoint (none: no accounting anywhere) */
	uint32_t n_ack;
	struct ack_source *ack;
	uint16_t *ack_of_node;	       /* node id -> index in ack + 1, 0 = none */
	struct rt_replica **ack_order; /* every replica, downstream nodes first */
	uint32_t n_ack_order;

	/* autoscaling: task lists published with RCU (none scaled: lists never change) */
	uint32_t n_scaled;
	struct rte_rcu_qsbr *qs;
	struct sl_task_list **base;  /* per worker: the tasks of unscaled nodes */
	struct sl_task_list **spare; /* per worker: the list not published */
	uint64_t qs_token;
	bool qs_pending; /* a publish waits for its grace period */
	uint32_t *scale_want, *scale_min, *scale_grant;
};

/* The running pipeline: one per process, set before workers launch. */
static struct sl_pipeline *the_pipeline;
static volatile sig_atomic_t pipeline_signals;

void sl_pipeline_signal(int signo)
{
	(void)signo;
	pipeline_signals++;
}

static inline bool upstream_done(const struct rt_node *n, const struct sl_pipeline *p)
{
	for (uint32_t i = 0; i < n->n_upstream; i++)
		if (!__atomic_load_n(&p->nodes[n->upstream[i]].done, __ATOMIC_ACQUIRE))
			return false;
	return true;
}

static inline void node_mark_done(struct rt_node *n)
{
	/* Pairs with the acquire in upstream_done: our last enqueues are visible first. */
	__atomic_store_n(&n->done, 1, __ATOMIC_RELEASE);
}

/* ---- delivery accounting ---- */

/* The count cell of an event: (source's index in p->ack, epoch % SL_ACK_EPOCHS). */
static inline uint32_t ack_cell(const struct sl_pipeline *p, struct rte_mbuf *ev)
{
	const struct sl_meta *m = sl_event_meta(p->meta_offset, ev);
	uint32_t st = (m->flags & SL_META_F_ACK_MASK) >> SL_META_F_ACK_SHIFT;
	uint16_t a;

	if (st == 0 || m->source >= p->n_nodes || (a = p->ack_of_node[m->source]) == 0)
		return ACK_NONE;
	return (uint32_t)(a - 1) * SL_ACK_EPOCHS + (st - 1);
}

static inline void ack_add(struct rt_replica *r, uint32_t cell, int64_t d)
{
	int64_t *c = &r->ack_cnt[cell];

	/* Only this lcore writes c. Release pairs with the acquire in ack_sum: whatever this
	 * lcore did before (a + that this - answers, seen through a ring) is visible first. */
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + d, __ATOMIC_RELEASE);
}

/* Add d times the number of events in each run of equal cells of cell[0..n) (events of a
 * burst are nearly always of one epoch: one store per burst, not per event). */
static inline void ack_add_runs(struct rt_replica *r, const uint32_t *cell, uint16_t n, int64_t d)
{
	uint32_t run = ACK_NONE;
	int64_t k = 0;

	for (uint16_t i = 0; i < n; i++) {
		if (cell[i] != run) {
			if (run != ACK_NONE)
				ack_add(r, run, k * d);
			run = cell[i];
			k = 0;
		}
		k++;
	}
	if (run != ACK_NONE)
		ack_add(r, run, k * d);
}

/*
 * A port with fused consumers (fuse.h): the tap, n_out and the extra references as
 * sl_edge_send does them; then the consumers reached through rings get the burst there,
 * and each fused one takes it straight into its call, in chunks of a burst, while its ring
 * is empty (what is queued there goes first) and it takes them; the rest to its ring.
 * Every fused consumer but the last gets its own copy of the list (a call may reorder
 * what it is given; the events are shared, as on rings): facts are the burst's (struct
 * sl_burst), less SL_FACT_UNSHARED when the port has more than one consumer.
 */
static __rte_noinline void fuse_send(struct rt_replica *r, uint16_t port, struct rte_mbuf **ev,
				     uint16_t n, uint16_t facts)
{
	const struct rt_fuse *f = &r->fuse[port];
	uint16_t n_dest = r->out.ports[port].n_dest;

	if (!sl_edge_send_prep(&r->out, port, ev, n))
		return;
	if (n_dest > 1)
		facts &= (uint16_t)~SL_FACT_UNSHARED;
	for (uint16_t d = 0; f->n_fused < n_dest && d < n_dest; d++)
		if (!f->d[d].call)
			sl_edge_send_dest(&r->out, port, d, ev, n);
	for (uint16_t d = 0; d <= f->last; d++) {
		const struct rt_fuse_dest *fd = &f->d[d];
		struct rte_mbuf *copy[SL_EMIT_CAP], **list = ev;
		uint16_t k = 0, c;

		if (!fd->call)
			continue;
		if (d != f->last) {
			memcpy(copy, ev, n * sizeof(*ev));
			list = copy;
		}
		while (k < n && rte_ring_empty(fd->ring)) {
			c = (uint16_t)RTE_MIN(n - k, SL_BURST_MAX);
			if (fd->call(fd->to, list + k, c, facts) == 0)
				break;
			k += c;
		}
		if (k < n)
			sl_edge_send_dest(&r->out, port, d, list + k, (uint16_t)(n - k));
	}
}

static inline void replica_edge_send(struct rt_replica *r, uint16_t port, struct rte_mbuf **ev,
				     uint16_t n, uint16_t facts)
{
	if (r->fuse && r->fuse[port].n_fused && n)
		fuse_send(r, port, ev, n, facts);
	else
		sl_edge_send(&r->out, port, ev, n);
}

/* sl_edge_send, counting each tracked event once per consumer before it is enqueued, and
 * taking back what a drop_newest edge freed. */
static void ack_send(struct rt_replica *r, uint16_t port, struct rte_mbuf **ev, uint16_t n,
		     uint16_t facts)
{
	const struct sl_pipeline *p = the_pipeline;
	const struct sl_edge_port *pt = &r->out.ports[port];
	uint16_t base = r->out.pend_base[port];
	uint64_t before[SL_EDGE_DEST_MAX];
	uint32_t cell[SL_EMIT_CAP];
	bool lossy = false, any = false;

	for (uint16_t i = 0; i < n; i++) {
		cell[i] = ack_cell(p, ev[i]);
		any |= cell[i] != ACK_NONE;
	}
	if (any && pt->n_dest)
		ack_add_runs(r, cell, n, pt->n_dest);
	for (uint16_t d = 0; any && d < pt->n_dest; d++) {
		before[d] = r->out.n_full_drop[base + d];
		lossy |= pt->dest[d].drop_newest;
	}
	replica_edge_send(r, port, ev, n, facts);
	for (uint16_t d = 0; lossy && d < pt->n_dest; d++) {
		/* A drop_newest edge frees the tail of the burst that did not fit. */
		uint64_t lost = r->out.n_full_drop[base + d] - before[d];

		if (lost)
			ack_add_runs(r, cell + (n - lost), (uint16_t)lost, -1);
	}
}

/* Send a burst on an output port; facts: what holds for all its events (struct sl_burst). */
static inline void replica_send(struct rt_replica *r, uint16_t port, struct rte_mbuf **ev,
				uint16_t n, bool ack, uint16_t facts)
{
	if (ack)
		ack_send(r, port, ev, n, facts);
	else
		replica_edge_send(r, port, ev, n, facts);
}

/* Sum of one cell over every replica, downstream first (see the file comment). */
static int64_t ack_sum(const struct sl_pipeline *p, uint32_t cell)
{
	int64_t sum = 0;

	for (uint32_t i = 0; i < p->n_ack_order; i++)
		sum += __atomic_load_n(&p->ack_order[i]->ack_cnt[cell], __ATOMIC_ACQUIRE);
	return sum;
}

/* Controller: commit every source's closed epochs that nothing is outstanding for. */
static void ack_tick(struct sl_pipeline *p, uint64_t now)
{
	for (uint32_t a = 0; a < p->n_ack; a++) {
		struct ack_source *as = &p->ack[a];
		/* Pairs with the release in the source's epoch close: its position and the
		 * counts of its events are visible. */
		uint64_t opened = __atomic_load_n(&as->st->opened, __ATOMIC_ACQUIRE);
		uint64_t c = as->committed;
		int64_t sum = 0;

		if (now < as->retry_tsc)
			continue;
		/* Epoch c is closed when c < opened - 1. */
		while (c + 1 < opened &&
		       (sum = ack_sum(p, a * SL_ACK_EPOCHS + (uint32_t)(c % SL_ACK_EPOCHS))) == 0)
			c++;
		if (unlikely(sum < 0) && !as->warned) {
			/* More acknowledged than sent: an event's flags were changed on the way (a
			 * stage must copy them whole) or one was emitted twice. Committing could
			 * skip lines, so this epoch never commits and the source stops in time. */
			as->warned = true;
			SL_ERR(as->node->cfg->name,
			       "delivery counts for epoch %" PRIu64 " went negative (%" PRId64
			       "): an event's flags were altered or an event was emitted twice; "
			       "the checkpoint stops here",
			       c, sum);
		}
		if (c == as->committed)
			continue;
		if (as->node->cfg->source->commit(as->io, c - 1) < 0) {
			as->n_commit_fail++;
			as->retry_tsc = now + p->tsc_hz;
			continue;
		}
		as->committed = c;
		/* Pairs with the source's acquire before it reuses the slots of epochs < c. */
		__atomic_store_n(&as->st->committed, c, __ATOMIC_RELEASE);
	}
}

/* ---- sources ---- */

static __rte_always_inline unsigned source_run_impl(struct sl_task *t, bool ack)
{
	struct rt_replica *r = (struct rt_replica *)t;
	struct rt_node *n = r->node;
	const struct sl_source_ops *ops = n->cfg->source;
	struct rte_mbuf *ev[SL_BURST_MAX];
	bool done = false;
	uint64_t t0;
	uint16_t k;

	if (r->out.n_pending && sl_edge_flush(&r->out))
		return 0;
	if (r->src_done) {
		/* The node is done when its last replica is: others may still be reading. */
		if (__atomic_add_fetch(&n->n_finished, 1, __ATOMIC_ACQ_REL) == n->n_replicas)
			node_mark_done(n);
		t->finished = true;
		return 0;
	}
	if (!r->stop_seen && __atomic_load_n(&the_pipeline->stopping, __ATOMIC_RELAXED)) {
		r->stop_seen = true;
		if (ops->stop)
			ops->stop(r->io);
	}
	/* The poll's start, also where a source may stamp its burst (the dpdk source). */
	t0 = rte_rdtsc();
	sl_worker_tsc = t0;
	k = ops->poll(r->io, ev, SL_BURST_MAX, &done);
	sl_worker_tsc = rte_rdtsc();
	r->busy_tsc += sl_worker_tsc - t0;
	r->n_calls++;
	r->n_generated += k;
	if (k)
		replica_send(r, 0, ev, k, ack, ops->facts);
	if (done)
		r->src_done = true;
	return k;
}

static unsigned source_run(struct sl_task *t)
{
	return source_run_impl(t, false);
}

static unsigned source_run_ack(struct sl_task *t)
{
	return source_run_impl(t, true);
}

/* ---- stages ---- */

/* The age of a burst's first event as it is taken (read before the burst is processed:
 * afterwards the event may be freed). Events without an ingest time are not counted. */
static inline void lat_age_add(struct rt_replica *r, struct rte_mbuf *m, uint64_t now)
{
	uint64_t in = sl_event_meta(the_pipeline->meta_offset, m)->ingest_tsc;

	if (in && in <= now)
		r->lat_age[sl_lat_bucket(now - in)]++;
}

static __rte_always_inline void replica_account_emit(struct rt_replica *r, struct sl_emit *o,
						     bool ack)
{
	if (o->n_drop) {
		for (uint16_t i = 0; i < o->n_drop; i++)
			r->n_drop[o->drop_reason[i]]++;
		sl_event_free_bulk(o->drop, o->n_drop);
	}
	for (uint16_t p = 0; p < o->n_ports; p++)
		if (o->n[p])
			replica_send(r, p, o->port[p], o->n[p], ack, o->facts[p]);
}

static inline void emit_reset(struct sl_emit *o)
{
	memset(o->n, 0, sizeof(o->n[0]) * o->n_ports);
	memset(o->facts, 0, sizeof(o->facts[0]) * o->n_ports);
	o->n_drop = 0;
}

/* Merge every replica's closed state into dst, resetting the sources of the merge; all:
 * the final close, after which no state is used again but to be destroyed, so none is
 * reset (for p99 by path, megabytes of sketch pages cleared at the end of the run). */
static void window_merge(struct rt_node *n, void *dst, bool all)
{
	const struct sl_state_ops *st = n->cfg->stage->state;
	const void *conf = n->cfg->stage_conf;

	for (uint32_t i = 0; i < n->n_replicas; i++) {
		struct rt_replica *q = &n->replicas[i];
		for (int b = 0; b < 2; b++) {
			void *src = q->state[b];
			/* Periodic close: only the buffer each replica flipped away from. */
			if (src == dst || (!all && b != (q->cur ^ 1)))
				continue;
			st->merge(conf, dst, src);
			if (!all)
				st->reset(conf, src);
		}
	}
}

static unsigned stage_close_emit(struct rt_replica *r, bool ack)
{
	struct rt_node *n = r->node;
	const struct sl_state_ops *st = n->cfg->stage->state;
	struct sl_emit *o = r->emit;
	uint64_t t0 = rte_rdtsc();
	unsigned made = 0;
	bool more;

	emit_reset(o);
	r->ctx.now_tsc = t0;
	more = st->emit(n->cfg->stage_conf, r->close_state, &r->cursor, &r->ctx, o);
	for (uint16_t p = 0; p < o->n_ports; p++)
		made += o->n[p];
	r->n_generated += made + o->n_drop;
	/* Timed before the results leave: a fused consumer times its own call from here. */
	sl_worker_tsc = rte_rdtsc();
	r->busy_tsc += sl_worker_tsc - t0;
	replica_account_emit(r, o, ack);
	if (more)
		return made;
	if (!r->final_close) /* the last window's state is only destroyed (window_merge) */
		st->reset(n->cfg->stage_conf, r->close_state);
	r->closing = false;
	if (r->final_close) {
		/* Done only after the last results left: a full ring holds them as pending,
		 * and stage_run flushes those first (a source does the same). */
		r->final_flush = true;
		return made;
	}
	/* The emptied closed state, merged into every replica's other one (idle until the
	 * epoch below), adds no result but tells each replica what the close learnt: the
	 * aggregate stage's closed watermark (docs/aggregate.md, Time windows). */
	for (uint32_t i = 0; st->merge && i < n->n_replicas; i++) {
		void *q = n->replicas[i].state[n->replicas[i].cur ^ 1];

		if (q != r->close_state)
			st->merge(n->cfg->stage_conf, q, r->close_state);
	}
	/* Open the next window; replicas may flip again once they see the new epoch. */
	n->window_end_tsc += n->window_tsc;
	if (n->window_end_tsc < r->ctx.now_tsc)
		n->window_end_tsc = r->ctx.now_tsc + n->window_tsc;
	__atomic_store_n(&n->n_flipped, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&n->epoch, r->epoch, __ATOMIC_RELEASE);
	return made;
}

static void window_check(struct rt_replica *r, uint64_t now)
{
	struct rt_node *n = r->node;

	if (r->epoch != __atomic_load_n(&n->epoch, __ATOMIC_ACQUIRE) || now < n->window_end_tsc)
		return;
	r->cur ^= 1;
	r->ctx.state = r->state[r->cur];
	r->epoch++;
	if (__atomic_add_fetch(&n->n_flipped, 1, __ATOMIC_ACQ_REL) != n->n_replicas)
		return;
	r->close_state = r->state[r->cur ^ 1];
	window_merge(n, r->close_state, false);
	r->cursor = 0;
	r->closing = true;
	r->final_close = false;
}

/* Whether nothing more can reach a stage replica's input: its upstream nodes are done or,
 * with ordered_by, its dispatcher is (acquire pairs with order_run's release). */
static inline bool stage_up_done(const struct rt_node *n)
{
	if (n->ord)
		return __atomic_load_n(&n->ord->done, __ATOMIC_ACQUIRE);
	return upstream_done(n, the_pipeline);
}

/* The ring a stage replica takes its input from. */
static inline struct rte_ring *stage_ring(const struct rt_node *n, const struct rt_replica *r)
{
	if (n->ord)
		return n->ord->sub[r->index];
	return n->rings[n->n_rings > 1 ? r->index : 0];
}

/* ordered_by: all this replica took has its outputs enqueued. Release pairs with the
 * acquire in order_remap: those enqueues come first. */
static inline void stage_ord_done(struct rt_replica *r)
{
	if (r->out.n_pending == 0 && r->ord_done != r->n_in)
		__atomic_store_n(&r->ord_done, r->n_in, __ATOMIC_RELEASE);
}

/* An autoscaled replica's mode before each run: true to run as usual. */
static __rte_noinline bool stage_gate(struct rt_replica *r)
{
	struct rt_node *n = r->node;
	uint32_t m = __atomic_load_n(&r->mode, __ATOMIC_ACQUIRE), want;
	bool up;

	switch (m) {
	case RM_RUN:
		return true;
	case RM_DRAIN:
		/* ordered_by: what the dispatcher still routes here is processed here (until
		 * it switches the map away: order_remap). Pairs with its release store. */
		if (n->ord && (__atomic_load_n(&n->ord->routed[r->index], __ATOMIC_ACQUIRE) ||
			       !rte_ring_empty(n->ord->sub[r->index])))
			return true;
		/* What it took is processed; what it made must reach the next ring. */
		if (r->out.n_pending && sl_edge_flush(&r->out))
			return false;
		/* Release pairs with the controller's acquire: our enqueues come first. */
		__atomic_compare_exchange_n(&r->mode, &m, RM_PARKED, false, __ATOMIC_ACQ_REL,
					    __ATOMIC_ACQUIRE);
		return false;
	case RM_STANDBY:
		/* Read upstream state before the ring: empty after done means finished. */
		up = stage_up_done(n);
		if (rte_ring_empty(n->rings[0]) &&
		    (!n->ord || rte_ring_empty(n->ord->sub[r->index]))) {
			want = RM_FINISHED;
			if (up && __atomic_compare_exchange_n(&r->mode, &m, want, false,
							      __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
				r->task.finished = true;
			return false;
		}
		if (!__atomic_compare_exchange_n(&r->mode, &m, RM_RUN, false, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
			return false;
		r->cold_pending = true;
		return true;
	default:
		return false;
	}
}

/* The first burst of a replica just woken or activated: cold start (from the event's
 * ingest time: an upper bound of enqueue -> process) and reaction (from activation). */
static __rte_noinline void stage_first_burst(struct rt_replica *r, struct rte_mbuf *ev,
					     uint64_t now)
{
	uint64_t act = __atomic_load_n(&r->activated_tsc, __ATOMIC_RELAXED);

	if (r->cold_pending) {
		uint64_t in = sl_event_meta(the_pipeline->meta_offset, ev)->ingest_tsc, d;

		r->cold_pending = false;
		__atomic_store_n(&r->cold_in_tsc, in, __ATOMIC_RELAXED);
		if (in && in <= now) {
			d = now - in;
			r->cold_tsc_sum += d;
			if (d > r->cold_tsc_max)
				r->cold_tsc_max = d;
			r->n_cold++;
		}
	}
	if (act && act <= now) {
		__atomic_store_n(&r->react_at_tsc, now, __ATOMIC_RELAXED);
		r->react_tsc_last = now - act;
		if (r->react_tsc_last > r->react_tsc_max)
			r->react_tsc_max = r->react_tsc_last;
		__atomic_store_n(&r->activated_tsc, 0, __ATOMIC_RELAXED);
	}
}

static void stage_finish(struct rt_replica *r)
{
	struct rt_node *n = r->node;

	if (n->scaled) {
		/* The controller marks the node done once every listed replica finished. A
		 * replica asked to drain meanwhile parks on its next run instead. */
		uint32_t m = RM_RUN;

		if (__atomic_compare_exchange_n(&r->mode, &m, RM_FINISHED, false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			r->task.finished = true;
		return;
	}

	if (__atomic_add_fetch(&n->n_finished, 1, __ATOMIC_ACQ_REL) != n->n_replicas) {
		r->task.finished = true;
		return;
	}
	if (!n->windowed) {
		node_mark_done(n);
		r->task.finished = true;
		return;
	}
	/* Last replica: every other one has finished, so all states are quiescent. */
	r->close_state = r->state[r->cur];
	window_merge(n, r->close_state, true);
	r->cursor = 0;
	r->closing = true;
	r->final_close = true;
}

/* A stage's implementation after a live replacement (sluice swap / reload). */
struct rt_impl {
	const struct sl_stage_desc *desc;
	void *conf;
};

/* Enter process: the replica's call_seq turns odd (a full barrier, so the swapper either
 * sees the call or the call sees the new implementation), then the current one is read. */
static __rte_always_inline void stage_call(struct rt_replica *r, struct rt_node *n,
					   struct sl_burst *in, struct sl_emit *o)
{
	const struct rt_impl *im;

	__atomic_store_n(&r->call_seq, r->call_seq + 1, __ATOMIC_SEQ_CST);
	im = __atomic_load_n(&n->impl, __ATOMIC_SEQ_CST);
	if (likely(!im))
		n->cfg->stage->process(n->cfg->stage_conf, &r->ctx, in, o);
	else
		im->desc->process(im->conf, &r->ctx, in, o);
	__atomic_store_n(&r->call_seq, r->call_seq + 1, __ATOMIC_RELEASE);
}

/*
 * An autoscaled replica's burst size follows the time its calls take, aiming at about
 * STAGE_CALL_US a call: the tasks sharing its worker (the source feeding it, a sink) run
 * once per round, so a 64-event burst of a 7.7 us-an-event stage (490 us a round) capped
 * what they could move at 64 events per 490 us, and 2 replicas ran no faster than 1.
 * Halved when a full burst took over twice the aim, doubled when one took under half.
 */
#define STAGE_CALL_US 50
/* Where an autoscaled replica's burst starts: a stage's first calls after a cold start
 * take 8 events, not 64 (490 us of a 7.7 us-an-event stage, then 245, 123: the source on
 * its worker ran once per call, the ring filled 64 events a round minus what the call
 * took, and the controller saw the step 1.1-1.5 ms late); cheap stages double up to SL_BURST_MAX
 * within a few calls. */
#define STAGE_BURST_START 8

static inline void stage_adapt_burst(struct rt_replica *r, uint64_t cycles, uint16_t n)
{
	uint64_t aim = the_pipeline->tsc_hz / 1000000 * STAGE_CALL_US;

	if (n < r->burst_max)
		return;
	if (cycles > 2 * aim && r->burst_max > 1)
		r->burst_max /= 2;
	else if (cycles < aim / 2 && r->burst_max < SL_BURST_MAX)
		r->burst_max = (uint16_t)RTE_MIN(r->burst_max * 2, SL_BURST_MAX);
}

/* A call whose outputs and drops together hold fewer events than it was given: the stage
 * kept or forgot some (a bug: a stage owns a burst until it emits or drops each event).
 * Counted as dropped (lost), so in + generated = out + dropped still holds, and logged
 * once per node; the mbufs cannot be freed (an input the stage replaced by a copy is not
 * in the lists either, and is not ours to free). */
static __attribute__((noinline, cold)) void stage_lost(struct rt_replica *r, unsigned n)
{
	struct rt_node *nd = r->node;

	r->n_drop[SL_DROP_LOST] += n;
	if (!__atomic_exchange_n(&nd->lost_logged, true, __ATOMIC_RELAXED))
		SL_ERR(nd->cfg->name,
		       "the stage neither emitted nor dropped %u event(s) of a burst (a bug in "
		       "the stage): counted as dropped (lost); their buffers are not freed",
		       n);
}

/* One run of a stage replica's task; given: a burst handed over by a fused producer on
 * this lcore (fuse.h), processed as if dequeued now (stage_fused checked it may be). */
static __rte_always_inline unsigned stage_run_impl(struct sl_task *t, bool ack,
						   const struct sl_burst *given)
{
	struct rt_replica *r = (struct rt_replica *)t;
	struct rt_node *n = r->node;
	struct rte_mbuf *ev[SL_BURST_MAX];
	uint32_t in_cell[SL_BURST_MAX];
	struct sl_burst burst = { ev, 0 };
	struct sl_emit *o = r->emit;
	bool up_done;
	uint64_t t0, t1;

	if (n->scaled && !stage_gate(r))
		return 0;
	if (r->out.n_pending && sl_edge_flush(&r->out))
		return 0;
	if (n->ord)
		stage_ord_done(r);
	if (r->final_flush) {
		node_mark_done(n);
		r->task.finished = true;
		return 0;
	}
	if (r->closing)
		return stage_close_emit(r, ack);
	if (given) {
		/* The producer's list as it is: nothing reads it after process but the
		 * producer, at the events this call did not take. The call's time starts
		 * where the producer's ended (no second clock read). */
		burst.ev = given->ev;
		burst.n = given->n;
		burst.facts = given->facts;
		t0 = sl_worker_tsc;
		goto process;
	}
	/* The clock is read only for a burst (or a window to check): a fused consumer's
	 * task mostly finds its ring empty. */
	t0 = n->window_tsc ? rte_rdtsc() : 0;
	if (n->window_tsc) {
		window_check(r, t0);
		if (r->closing)
			return stage_close_emit(r, ack);
	}
	/* Read upstream state before dequeuing: empty after done means finished. */
	up_done = r->up_done || stage_up_done(n);
	r->up_done = up_done;
	burst.n =
		(uint16_t)rte_ring_dequeue_burst(stage_ring(n, r), (void **)ev, r->burst_max, NULL);
	if (burst.n == 0) {
		/* Own ring empty after upstream was done: nothing can arrive any more. */
		if (up_done) {
			stage_finish(r);
			return 0;
		}
		/* Help a busier lane: its events cross cores, but no replica idles while
		 * another has a queue (load still balances as with one shared ring). */
		for (uint32_t i = 1; i < n->n_rings && burst.n == 0; i++)
			burst.n = (uint16_t)rte_ring_dequeue_burst(
				n->rings[(r->index + i) % n->n_rings], (void **)ev, SL_BURST_MAX,
				NULL);
		if (burst.n == 0)
			return 0;
	}
	if (!n->window_tsc)
		t0 = rte_rdtsc();
process:
	emit_reset(o);
	r->ctx.now_tsc = t0;
	if (unlikely(r->cold_pending || r->activated_tsc))
		stage_first_burst(r, burst.ev[0], t0);
	lat_age_add(r, burst.ev[0], t0);
	/* Read before process: afterwards an input may be freed or passed on. */
	for (uint16_t i = 0; ack && i < burst.n; i++)
		in_cell[i] = ack_cell(the_pipeline, burst.ev[i]);
	sl_blame_enter(&r->ctx, &burst);
	stage_call(r, n, &burst, o);
	sl_blame_check_emit(&r->ctx, o);
	sl_blame_leave(&r->ctx);
	t1 = rte_rdtsc();
	sl_worker_tsc = t1;
	r->busy_tsc += t1 - t0;
	r->lat_call[sl_lat_bucket(t1 - t0)]++;
	r->n_calls++;
	r->n_in += burst.n;
	if (n->scaled)
		stage_adapt_burst(r, t1 - t0, burst.n);
	/* Each input leaves once (emitted or dropped); what leaves beyond that was made in
	 * the call (a copy to another output, a split, a new record): generated, so that
	 * in + generated = out + dropped holds for every stage. */
	{
		unsigned left = o->n_drop;

		for (uint16_t p = 0; p < o->n_ports; p++)
			left += o->n[p];
		if (left > burst.n)
			r->n_generated += left - burst.n;
		if (unlikely(left < burst.n))
			stage_lost(r, burst.n - left);
	}
	replica_account_emit(r, o, ack);
	if (n->ord)
		stage_ord_done(r);
	/* The inputs are done with only now that their outputs are counted. */
	if (ack)
		ack_add_runs(r, in_cell, burst.n, -1);
	return burst.n;
}

static unsigned stage_run(struct sl_task *t)
{
	return stage_run_impl(t, false, NULL);
}

static unsigned stage_run_ack(struct sl_task *t)
{
	return stage_run_impl(t, true, NULL);
}

/* A fused producer's call (fuse.h): takes the burst unless what this replica made before
 * still waits for a full ring, or its window is closing (a window that ends now starts
 * closing here, as the replica's own run would start it): then the producer's rest goes
 * to this replica's ring, taken when the closed window has been emitted. */
static __rte_always_inline uint16_t stage_fused_impl(struct rt_replica *r, struct rte_mbuf **ev,
						     uint16_t n, uint16_t facts, bool ack)
{
	const struct sl_burst b = { ev, n, facts };

	if (r->out.n_pending || r->task.finished || r->closing || r->final_flush)
		return 0;
	if (r->node->window_tsc) {
		window_check(r, rte_rdtsc());
		if (r->closing)
			return 0;
	}
	r->n_fused_in += n;
	stage_run_impl(&r->task, ack, &b);
	return n;
}

static uint16_t stage_fused(struct rt_replica *r, struct rte_mbuf **ev, uint16_t n, uint16_t facts)
{
	return stage_fused_impl(r, ev, n, facts, false);
}

static uint16_t stage_fused_ack(struct rt_replica *r, struct rte_mbuf **ev, uint16_t n,
				uint16_t facts)
{
	return stage_fused_impl(r, ev, n, facts, true);
}

/* ---- ordered_by: the dispatcher (see struct rt_order) ---- */

/* FNV-1a over bytes, then a murmur3 finalizer so that the low bits mix well (bytes
 * one at a time: keys are short, and record bytes have no alignment). */
static inline uint32_t order_hash(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return (uint32_t)h;
}

/* The bucket of an event's key: a hash of the field's value (integers by value, strings
 * by bytes, anything else by its encoding); bucket 0 without the field or a record. */
static inline uint32_t order_bucket(const struct rt_order *o, struct rte_mbuf *ev)
{
	struct sl_rec rec = sl_event_record(&o->node->replicas[0].ctx, ev);
	struct sl_val v;

	if (!sl_rec_get(rec, &o->key, &v))
		return 0;
	switch (v.type) {
	case SL_VAL_NONE:
	case SL_VAL_NIL:
		return 0;
	case SL_VAL_INT:
	case SL_VAL_UINT:
		return order_hash(&v.u, sizeof(v.u)) % ORD_BUCKETS;
	case SL_VAL_STR:
	case SL_VAL_BIN:
		return order_hash(v.s.p, v.s.len) % ORD_BUCKETS;
	default:
		return order_hash(v.raw, v.raw_len) % ORD_BUCKETS;
	}
}

/* Enqueue what is held to the replicas' rings, keeping each ring's events in order.
 * Returns events still held (a ring is full). */
static uint16_t order_flush(struct rt_order *o)
{
	struct rte_mbuf *grp[SL_BURST_MAX];
	uint16_t idx[SL_BURST_MAX], keep = 0;
	uint8_t seen[SL_BURST_MAX] = { 0 }; /* 1 visited, 2 enqueued */

	for (uint16_t i = 0; i < o->n_held; i++) {
		uint16_t to = o->held_to[i], g = 0;
		unsigned e;

		if (seen[i])
			continue;
		for (uint16_t j = i; j < o->n_held; j++)
			if (!seen[j] && o->held_to[j] == to) {
				seen[j] = 1;
				idx[g] = j;
				grp[g++] = o->held[j];
			}
		e = rte_ring_enqueue_burst(o->sub[to], (void *const *)grp, g, NULL);
		o->sent[to] += e;
		for (unsigned j = 0; j < e; j++)
			seen[idx[j]] = 2;
	}
	for (uint16_t i = 0; i < o->n_held; i++)
		if (seen[i] != 2) {
			o->held_to[keep] = o->held_to[i];
			o->held[keep++] = o->held[i];
		}
	o->n_held = keep;
	return keep;
}

/* Follow an autoscaled stage's replicas in RUN. Returns true while a change waits for the
 * replicas that lose buckets to pass on everything they were sent. */
static bool order_remap(struct rt_order *o)
{
	struct rt_node *n = o->node;
	uint16_t act[SL_CONFIG_SCALE_MAX], to;
	uint32_t m = 0;
	bool same = true;

	for (uint32_t k = 0; k < n->n_replicas; k++) {
		bool run = __atomic_load_n(&n->replicas[k].mode, __ATOMIC_ACQUIRE) == RM_RUN;

		if (run)
			act[m++] = (uint16_t)k;
		same &= run == (o->routed[k] != 0);
	}
	if (same)
		return false;
	for (uint32_t b = 0; o->n_routed && b < ORD_BUCKETS; b++) {
		struct rt_replica *q = &n->replicas[o->map[b]];

		to = m ? act[b % m] : UINT16_MAX;
		/* Pairs with stage_ord_done's release: its outputs are in the next ring. */
		if (to != o->map[b] &&
		    __atomic_load_n(&q->ord_done, __ATOMIC_ACQUIRE) != o->sent[o->map[b]]) {
			o->n_wait++;
			return true;
		}
	}
	for (uint32_t b = 0; m && b < ORD_BUCKETS; b++)
		o->map[b] = act[b % m];
	for (uint32_t k = 0; k < n->n_replicas; k++) {
		uint8_t in = 0;

		for (uint32_t i = 0; i < m; i++)
			in |= act[i] == k;
		/* Pairs with the acquire in stage_gate (RM_DRAIN): a replica that sees itself
		 * unrouted also sees every event this dispatcher enqueued to it. */
		if (in != o->routed[k])
			__atomic_store_n(&o->routed[k], in, __ATOMIC_RELEASE);
	}
	o->n_routed = m;
	o->n_switch++;
	return false;
}

static unsigned order_run(struct sl_task *t)
{
	struct rt_order *o = (struct rt_order *)t;
	struct rt_node *n = o->node;
	unsigned k;
	bool up;

	if (o->n_held && order_flush(o))
		return 0;
	if (n->scaled && order_remap(o))
		return 0;
	/* Read upstream state before the ring: empty after done means finished. */
	up = upstream_done(n, the_pipeline);
	if (o->n_routed == 0 || rte_ring_empty(n->rings[0])) {
		if (up && rte_ring_empty(n->rings[0])) {
			/* Pairs with the acquire in stage_up_done: our enqueues come first. */
			__atomic_store_n(&o->done, 1, __ATOMIC_RELEASE);
			t->finished = true;
		}
		return 0;
	}
	k = rte_ring_dequeue_burst(n->rings[0], (void **)o->held, SL_BURST_MAX, NULL);
	for (unsigned i = 0; i < k; i++)
		o->held_to[i] = o->map[order_bucket(o, o->held[i])];
	o->n_held = (uint16_t)k;
	order_flush(o);
	return k;
}

/* ---- sinks ---- */

/* Remember the cells of k events the sink just took (in order), or acknowledge them now
 * when the sink has no durable hook. */
static void ack_sink_taken(struct rt_replica *r, const uint32_t *cell, uint16_t k)
{
	if (!r->node->cfg->sink->durable) {
		ack_add_runs(r, cell, k, -1);
		return;
	}
	for (uint16_t i = 0; i < k; i++) {
		uint32_t last = (r->run_head + r->n_runs - 1) % ACK_RUNS_MAX;

		if (r->n_runs && r->runs[last].cell == cell[i]) {
			r->runs[last].n++;
			continue;
		}
		SL_BUG_ON_HOT(r->n_runs == ACK_RUNS_MAX);
		r->runs[(r->run_head + r->n_runs++) % ACK_RUNS_MAX] =
			(struct ack_run){ .cell = cell[i], .n = 1 };
	}
	r->n_taken += k;
}

/* Acknowledge what the sink reports durable. */
static void ack_sink_durable(struct rt_replica *r)
{
	const struct sl_sink_ops *ops = r->node->cfg->sink;
	uint64_t d;

	if (!ops->durable || r->n_acked == r->n_taken)
		return;
	d = ops->durable(r->io);
	SL_BUG_ON_HOT(d > r->n_taken);
	while (r->n_acked < d) {
		struct ack_run *run = &r->runs[r->run_head];
		uint32_t k = d - r->n_acked < run->n ? (uint32_t)(d - r->n_acked) : run->n;

		if (run->cell != ACK_NONE)
			ack_add(r, run->cell, -(int64_t)k);
		r->n_acked += k;
		run->n -= k;
		if (run->n == 0) {
			r->run_head = (r->run_head + 1) % ACK_RUNS_MAX;
			r->n_runs--;
		}
	}
}

/* Offer held events to write; with ack, no more than the run list can take. */
static __rte_always_inline uint16_t sink_offer(struct rt_replica *r, bool ack)
{
	uint16_t n = r->n_held, k;

	if (ack && r->node->cfg->sink->durable && ACK_RUNS_MAX - r->n_runs < n)
		n = (uint16_t)(ACK_RUNS_MAX - r->n_runs);
	if (n == 0) {
		/* The run list is full (events of alternating epochs, or tracked and untracked
		 * sources mixed): push the sink's buffers so they become durable and free runs;
		 * the periodic flush is not reached while events are held. */
		r->node->cfg->sink->flush(r->io, false);
		return 0;
	}
	k = r->node->cfg->sink->write(r->io, &r->held[r->held_head], n);
	if (ack)
		ack_sink_taken(r, &r->held_cell[r->held_head], k);
	r->held_head = (uint16_t)(r->held_head + k);
	r->n_held = (uint16_t)(r->n_held - k);
	r->n_written += k;
	return k;
}

/* One run of a sink's task; given: a burst handed over by a fused producer on this lcore
 * (fuse.h), taken as if dequeued now (sink_fused checked that nothing is held). */
static __rte_always_inline unsigned sink_run_impl(struct sl_task *t, bool ack,
						  const struct sl_burst *given)
{
	struct rt_replica *r = (struct rt_replica *)t;
	struct rt_node *n = r->node;
	const struct sl_sink_ops *ops = n->cfg->sink;
	/* A fused call starts where its producer's ended; an empty poll reads no clock
	 * (its flush timer goes by the worker's round, below). */
	uint64_t t0 = given ? sl_worker_tsc : 0;
	uint16_t k;
	bool up_done = false;

	if (ack)
		ack_sink_durable(r);
	if (r->n_held) {
		t0 = rte_rdtsc();
		k = sink_offer(r, ack);
		r->busy_tsc += rte_rdtsc() - t0;
		return k;
	}
	if (given) {
		memcpy(r->held, given->ev, sizeof(r->held[0]) * given->n);
		r->n_held = given->n;
		r->held_head = 0;
		goto take;
	}
	up_done = r->up_done || upstream_done(n, the_pipeline);
	r->up_done = up_done;
	/* A sink with lanes has a ring per replica (its own; it does not help other lanes). */
	r->n_held = (uint16_t)rte_ring_dequeue_burst(n->rings[r->index], (void **)r->held,
						     SL_BURST_MAX, NULL);
	r->held_head = 0;
	if (r->n_held)
		t0 = rte_rdtsc();
take:
	if (r->n_held) {
		uint64_t t1;

		r->n_in += r->n_held;
		lat_age_add(r, r->held[0], t0);
		for (uint16_t i = 0; ack && i < r->n_held; i++)
			r->held_cell[i] = ack_cell(the_pipeline, r->held[i]);
		k = sink_offer(r, ack);
		r->n_calls++;
		t1 = rte_rdtsc();
		sl_worker_tsc = t1;
		r->busy_tsc += t1 - t0;
		r->lat_call[sl_lat_bucket(t1 - t0)]++;
		return k ? k : 1;
	}
	if (up_done) {
		t0 = rte_rdtsc();
		if (ops->flush(r->io, true) < 0) {
			SL_ERR(n->cfg->name, "final flush failed");
			__atomic_store_n(&the_pipeline->sink_failed, true, __ATOMIC_RELAXED);
		}
		if (ack)
			ack_sink_durable(r);
		r->busy_tsc += rte_rdtsc() - t0;
		/* The node is done when its last replica is. */
		if (__atomic_add_fetch(&n->n_finished, 1, __ATOMIC_ACQ_REL) == n->n_replicas)
			node_mark_done(n);
		t->finished = true;
		return 0;
	}
	if (sl_worker_tsc >= r->next_flush_tsc) {
		r->next_flush_tsc =
			sl_worker_tsc + the_pipeline->tsc_hz / 1000 * SINK_FLUSH_PERIOD_MS;
		ops->flush(r->io, false);
	}
	return 0;
}

static unsigned sink_run(struct sl_task *t)
{
	return sink_run_impl(t, false, NULL);
}

static unsigned sink_run_ack(struct sl_task *t)
{
	return sink_run_impl(t, true, NULL);
}

/* A fused producer's call (fuse.h): takes the burst when the sink holds nothing (else
 * what it holds goes first, and the producer's rest to the sink's ring). */
static __rte_always_inline uint16_t sink_fused_impl(struct rt_replica *r, struct rte_mbuf **ev,
						    uint16_t n, bool ack)
{
	const struct sl_burst b = { ev, n };

	if (r->n_held || r->task.finished)
		return 0;
	r->n_fused_in += n;
	sink_run_impl(&r->task, ack, &b);
	return n;
}

/* Sinks use no facts (what they write is the event's bytes). */
static uint16_t sink_fused(struct rt_replica *r, struct rte_mbuf **ev, uint16_t n, uint16_t facts)
{
	(void)facts;
	return sink_fused_impl(r, ev, n, false);
}

static uint16_t sink_fused_ack(struct rt_replica *r, struct rte_mbuf **ev, uint16_t n,
			       uint16_t facts)
{
	(void)facts;
	return sink_fused_impl(r, ev, n, true);
}

/* ---- construction ---- */

_Static_assert(SL_CONFIG_MAX_CONSUMERS == SL_EDGE_DEST_MAX,
	       "the loader refuses what an edge cannot feed (config.h)");

static int node_build_ports(struct sl_pipeline *p)
{
	for (uint32_t c = 0; c < p->n_nodes; c++) {
		struct rt_node *cn = &p->nodes[c];
		for (uint32_t i = 0; i < cn->cfg->n_inputs; i++) {
			const struct sl_config_input *in = &cn->cfg->inputs[i];
			struct rt_node *pn = &p->nodes[in->node];
			struct sl_edge_port *port = &pn->ports[in->port];
			bool dup = false, seen = false;

			for (uint16_t d = 0; d < port->n_dest; d++)
				dup |= port->dest[d].consumer == c;
			if (dup)
				continue;
			if (port->n_dest == SL_EDGE_DEST_MAX) {
				SL_ERR("pipeline", "%s:%u: output %s has more than %d consumers",
				       p->cfg->file, in->line, in->text, SL_EDGE_DEST_MAX);
				return -E2BIG;
			}
			port->dest[port->n_dest++] = (struct sl_edge_dest){
				.ring = cn->rings[0],
				.consumer = c,
				.drop_newest = cn->cfg->when_full == SL_EDGE_DROP_NEWEST,
				.rings = cn->rings,
				.n_rings = (uint16_t)cn->n_rings,
			};
			for (uint32_t u = 0; u < cn->n_upstream; u++)
				seen |= cn->upstream[u] == in->node;
			if (!seen)
				cn->upstream[cn->n_upstream++] = in->node;
		}
	}
	return 0;
}

/* Projection: which of the stage's declared output fields are read downstream. */
static void node_plan_fields(struct rt_node *n, const struct sl_config *cfg)
{
	const char *const *w = n->cfg->role == SL_NODE_STAGE ? n->cfg->stage->writes : NULL;
	char kept[256] = "";
	uint32_t total = 0, used = 0;

	n->fields_mask = sl_projection_mask(cfg, n->id);
	if (!w)
		return;
	for (; w[total]; total++)
		if (n->fields_mask >> total & 1) {
			size_t l = strlen(kept);
			snprintf(kept + l, sizeof(kept) - l, "%s%s", used++ ? "," : "", w[total]);
		}
	if (used < total)
		SL_INFO(n->cfg->name,
			"projection: writes %u of its %u declared fields (%s), the rest is never "
			"read",
			used, total, used ? kept : "none");
}

/* Events that can be in flight at once: every input ring full, every replica holding a
 * burst and its emits, the lcore caches, and 2048 spare for stages that allocate. Not
 * rounded up to a power of two: each event is an 8 KiB buffer the kernel zeroes when the
 * pool is created and DPDK zeroes again when it is freed, so extra ones cost start-up and
 * tear-down time (tens of ms per 100 MB). */
static unsigned pool_size(const struct sl_pipeline *p)
{
	uint64_t n = 2048 + (uint64_t)PIPELINE_CACHE * 1.5 * rte_lcore_count();

	for (uint32_t i = 0; i < p->n_nodes; i++) {
		const struct rt_node *nd = &p->nodes[i];
		n += (uint64_t)nd->n_rings * nd->cfg->ring_size;
		if (nd->cfg->ordered_by) /* a dispatcher's held burst and rings (rt_order) */
			n += SL_BURST_MAX + (uint64_t)nd->n_replicas * ORD_RING_SIZE;
		n += (uint64_t)nd->n_replicas * (SL_BURST_MAX + SL_EMIT_CAP * (nd->n_ports + 1u));
	}
	return n > UINT32_MAX / 2 ? UINT32_MAX / 2 : (unsigned)n;
}

static int replica_init(struct sl_pipeline *p, struct rt_node *n, struct rt_replica *r,
			uint16_t idx)
{
	const struct sl_stage_desc *d = n->cfg->stage;
	int ret;

	r->node = n;
	r->index = idx;
	r->burst_max = n->scaled ? STAGE_BURST_START : SL_BURST_MAX;
	r->task.name = n->cfg->name;
	ret = sl_edge_out_init(&r->out, n->ports, n->n_ports, idx, (uint16_t)n->n_replicas);
	if (ret < 0)
		return ret;
	r->host.pool = p->pool;
	r->ctx = (struct sl_ctx){
		.host = &sl_host_table,
		.meta_offset = p->meta_offset,
		.replica = idx,
		.tsc_hz = p->tsc_hz,
		.counters = r->counters,
		.name = n->cfg->name,
		.host_priv = &r->host,
		.fields_mask = n->fields_mask,
	};
	switch (n->cfg->role) {
	case SL_NODE_SOURCE:
		r->task.run = source_run;
		break;
	case SL_NODE_SINK:
		r->task.run = sink_run;
		break;
	case SL_NODE_STAGE:
		r->task.run = stage_run;
		r->emit = rte_zmalloc("sl_emit", sizeof(*r->emit), RTE_CACHE_LINE_SIZE);
		if (!r->emit)
			return -ENOMEM;
		r->emit->n_ports = n->n_ports;
		if (d->state) {
			for (int b = 0; b < 2; b++) {
				r->state[b] = d->state->create(n->cfg->stage_conf);
				if (!r->state[b]) {
					SL_ERR(n->cfg->name, "cannot create stage state");
					return -ENOMEM;
				}
			}
			r->ctx.state = r->state[0];
		}
		break;
	}
	return 0;
}

/* Create a source or sink instance for one replica (a source's replicas split its input). */
static int replica_create_io(struct sl_pipeline *p, struct rt_node *n, struct rt_replica *r)
{
	struct sl_io_env env = {
		.pool = p->pool,
		.meta_offset = p->meta_offset,
		.node_id = (uint16_t)n->id,
		.name = n->cfg->name,
		.file = p->cfg->file,
		.tsc_hz = p->tsc_hz,
		.replica = r->index,
		.n_replicas = (uint16_t)n->n_replicas,
	};
	struct sl_error err = { 0 };
	int ret;

	if (n->cfg->role == SL_NODE_SOURCE)
		ret = n->cfg->source->create(&n->cfg->args, &env, &r->io, &err);
	else if (n->cfg->role == SL_NODE_SINK)
		ret = n->cfg->sink->create(&n->cfg->args, &env, &r->io, &err);
	else
		return 0;
	if (ret < 0) {
		const struct sl_arg *a = err.key ? sl_args_get(&n->cfg->args, err.key) : NULL;
		uint32_t line = a && a->line ? a->line : n->cfg->line;
		uint32_t col = a && a->line ? a->column : n->cfg->column;
		fprintf(stderr, "%s:%u:%u: %s: %s\n", p->cfg->file, line, col, n->cfg->name,
			err.msg[0] ? err.msg : strerror(-ret));
		r->io = NULL;
	}
	return ret;
}

/*
 * Delivery accounting, set up when some source instance keeps a checkpoint: the table of
 * those sources, counts for every replica, the run lists of sinks, the order the
 * controller sums in (reverse topological: every consumer before its producers), and the
 * task variants that count.
 */
static int pipeline_setup_ack(struct sl_pipeline *p)
{
	uint32_t *order = NULL, *indeg = NULL, n_order = 0, n_rep = 0;
	int ret = -ENOMEM;

	for (uint32_t i = 0; i < p->n_nodes; i++) {
		struct rt_node *n = &p->nodes[i];
		const struct sl_source_ops *ops = n->cfg->source;

		n_rep += n->n_replicas;
		if (n->cfg->role != SL_NODE_SOURCE || !ops->ack || !ops->commit)
			continue;
		for (uint32_t k = 0; k < n->n_replicas; k++)
			if (n->replicas[k].io && ops->ack(n->replicas[k].io))
				p->n_ack++;
	}
	if (p->n_ack == 0)
		return 0;
	p->ack = calloc(p->n_ack, sizeof(*p->ack));
	p->ack_of_node = calloc(p->n_nodes, sizeof(*p->ack_of_node));
	p->ack_order = calloc(n_rep, sizeof(*p->ack_order));
	order = calloc(p->n_nodes, sizeof(*order));
	indeg = calloc(p->n_nodes, sizeof(*indeg));
	if (!p->ack || !p->ack_of_node || !p->ack_order || !order || !indeg)
		goto out;
	p->n_ack = 0;
	for (uint32_t i = 0; i < p->n_nodes; i++) {
		struct rt_node *n = &p->nodes[i];

		if (n->cfg->role != SL_NODE_SOURCE || !n->cfg->source->ack ||
		    !n->cfg->source->commit)
			continue;
		/* A source with a checkpoint does not split (file: can_split), so one replica
		 * and meta->source name it. */
		SL_BUG_ON(n->n_replicas != 1);
		if (!n->replicas[0].io || !n->cfg->source->ack(n->replicas[0].io))
			continue;
		p->ack[p->n_ack] = (struct ack_source){
			.node = n,
			.io = n->replicas[0].io,
			.st = n->cfg->source->ack(n->replicas[0].io),
		};
		p->ack_of_node[i] = (uint16_t)++p->n_ack;
	}
	/* Kahn's algorithm over the upstream lists, then reversed. */
	for (uint32_t i = 0; i < p->n_nodes; i++)
		indeg[i] = p->nodes[i].n_upstream;
	for (uint32_t i = 0; i < p->n_nodes; i++)
		if (indeg[i] == 0)
			order[n_order++] = i;
	for (uint32_t h = 0; h < n_order; h++)
		for (uint32_t c = 0; c < p->n_nodes; c++)
			for (uint32_t u = 0; u < p->nodes[c].n_upstream; u++)
				if (p->nodes[c].upstream[u] == order[h] && --indeg[c] == 0)
					order[n_order++] = c;
	SL_BUG_ON(n_order != p->n_nodes); /* the config refused cycles */
	for (uint32_t h = n_order; h-- > 0;) {
		struct rt_node *n = &p->nodes[order[h]];

		for (uint32_t k = 0; k < n->n_replicas; k++) {
			struct rt_replica *r = &n->replicas[k];

			r->ack_cnt = rte_zmalloc("sl_ack",
						 sizeof(*r->ack_cnt) * p->n_ack * SL_ACK_EPOCHS,
						 RTE_CACHE_LINE_SIZE);
			if (!r->ack_cnt)
				goto out;
			if (n->cfg->role == SL_NODE_SINK && n->cfg->sink->durable) {
				r->runs = calloc(ACK_RUNS_MAX, sizeof(*r->runs));
				if (!r->runs)
					goto out;
			}
			r->task.run = r->task.run == source_run	 ? source_run_ack
				      : r->task.run == stage_run ? stage_run_ack
								 : sink_run_ack;
			p->ack_order[p->n_ack_order++] = r;
		}
	}
	SL_INFO("pipeline", "delivery: %u source(s) with a checkpoint; acknowledged end to end",
		p->n_ack);
	ret = 0;
out:
	free(order);
	free(indeg);
	return ret;
}

/* The dispatcher of an ordered_by stage with more than one replica (or scale:). */
static int order_create(struct rt_node *n)
{
	struct rt_order *o;
	char name[RTE_RING_NAMESIZE];

	if (!n->cfg->ordered_by || (!n->scaled && n->n_replicas < 2))
		return 0;
	o = rte_zmalloc("sl_order", sizeof(*o), RTE_CACHE_LINE_SIZE);
	if (!o)
		return -ENOMEM;
	n->ord = o;
	o->node = n;
	o->task.run = order_run;
	o->task.name = n->cfg->name;
	sl_rec_key_init(&o->key, n->cfg->ordered_by, strlen(n->cfg->ordered_by));
	o->sub = calloc(n->n_replicas, sizeof(*o->sub));
	o->routed = calloc(n->n_replicas, sizeof(*o->routed));
	o->sent = calloc(n->n_replicas, sizeof(*o->sent));
	if (!o->sub || !o->routed || !o->sent)
		return -ENOMEM;
	for (uint32_t k = 0; k < n->n_replicas; k++) {
		snprintf(name, sizeof(name), "sl_ord_%u_%u", n->id, k);
		o->sub[k] = rte_ring_create(name, ORD_RING_SIZE, SOCKET_ID_ANY,
					    RING_F_SP_ENQ | RING_F_SC_DEQ | RING_F_EXACT_SZ);
		if (!o->sub[k]) {
			SL_ERR(n->cfg->name, "cannot create an ordered_by ring: %s",
			       rte_strerror(rte_errno));
			return -ENOMEM;
		}
	}
	/* A static stage routes to all its replicas for good; an autoscaled one follows
	 * the replicas in RUN (order_remap). */
	for (uint32_t b = 0; !n->scaled && b < ORD_BUCKETS; b++)
		o->map[b] = (uint16_t)(b % n->n_replicas);
	for (uint32_t k = 0; !n->scaled && k < n->n_replicas; k++)
		o->routed[k] = 1;
	o->n_routed = n->scaled ? 0 : n->n_replicas;
	return 0;
}

static void order_destroy(struct rt_node *n)
{
	struct rt_order *o = n->ord;
	void *ev;

	if (!o)
		return;
	if (o->n_held)
		rte_pktmbuf_free_bulk(o->held, o->n_held);
	for (uint32_t k = 0; o->sub && k < n->n_replicas; k++) {
		if (!o->sub[k])
			continue;
		while (rte_ring_dequeue(o->sub[k], &ev) == 0)
			rte_pktmbuf_free(ev);
		rte_ring_free(o->sub[k]);
	}
	free(o->sub);
	free(o->routed);
	free(o->sent);
	rte_free(o);
	n->ord = NULL;
}

/* pipeline_plan_fusion for consumer d of a producer's output port. */
static int plan_fuse_dest(struct sl_pipeline *p, struct rt_node *n, uint16_t port, uint16_t d)
{
	struct rt_node *c = &p->nodes[n->ports[port].dest[d].consumer];
	bool logged = false;

	/* A sink, or a stage with a ring per replica (not autoscaled, no ordered_by), in as
	 * many lanes as this node's replicas: producer replica k sends to ring k only
	 * (edge.h) and consumer replica k, on the same lcore, takes ring k first, so each
	 * lane's edge is a one-replica edge of its own. A stage replica's help to a busier
	 * lane only takes what a fused call left in that lane's ring. */
	bool lane = c->n_replicas > 1 && c->n_replicas == n->n_replicas &&
		    c->n_rings == c->n_replicas &&
		    (c->cfg->role == SL_NODE_SINK ||
		     (c->cfg->role == SL_NODE_STAGE && !c->scaled && !c->ord));

	for (uint32_t k = 0; k < n->n_replicas; k++) {
		struct rt_replica *r = &n->replicas[k];
		struct sl_fuse_edge e = {
			.consumer_role = c->cfg->role,
			.consumer_replicas = lane ? 1 : c->n_replicas,
			.consumer_inputs = c->cfg->n_inputs,
			.consumer_rings = lane ? 1 : c->n_rings,
			.consumer_scaled = c->scaled,
			.consumer_isolated = c->cfg->n_iso > 0 || c->cfg->sandbox,
			.consumer_lcore = c->replicas[lane ? k : 0].lcore,
			.producer_scaled = n->scaled,
			.producer_lcore = r->lcore,
			.disabled = p->cfg->no_fuse,
		};
		const char *why;
		bool ack = p->n_ack > 0;
		struct rt_fuse *f;

		if (!sl_fuse_allowed(&e, &why)) {
			SL_DEBUG(n->cfg->name, "edge to %s not fused: %s", c->cfg->name, why);
			continue;
		}
		if (!r->fuse && !(r->fuse = calloc(n->n_ports, sizeof(*r->fuse))))
			return -ENOMEM;
		f = &r->fuse[port];
		f->d[d] = (struct rt_fuse_dest){
			.to = &c->replicas[lane ? k : 0],
			.ring = c->rings[lane ? k : 0],
			.call = c->cfg->role == SL_NODE_STAGE
					? (ack ? stage_fused_ack : stage_fused)
					: (ack ? sink_fused_ack : sink_fused),
		};
		f->n_fused++;
		f->last = d; /* consumers are planned in order */
		if (!logged)
			SL_INFO(n->cfg->name, "fused: output %s -> %s on lcore %u",
				n->cfg->output_names ? n->cfg->output_names[port] : "default",
				c->cfg->name, r->lcore);
		else if (lane)
			SL_INFO(n->cfg->name, "fused: lane %u -> %s on lcore %u", k, c->cfg->name,
				r->lcore);
		logged = true;
	}
	return 0;
}

/*
 * Chain fusion (fuse.h): for every producer replica, output port and consumer of that port
 * that sl_fuse_allowed accepts, the consumer's replica and the call. After the tasks have
 * their lcores and the accounting picked its variants.
 */
static int pipeline_plan_fusion(struct sl_pipeline *p)
{
	for (uint32_t i = 0; i < p->n_nodes; i++) {
		struct rt_node *n = &p->nodes[i];

		for (uint16_t port = 0; port < n->n_ports; port++) {
			const struct sl_edge_port *pt = &n->ports[port];

			for (uint16_t d = 0; d < pt->n_dest; d++) {
				int ret = plan_fuse_dest(p, n, port, d);

				if (ret < 0)
					return ret;
			}
		}
	}
	return 0;
}

static struct sl_task_list *task_list_new(uint32_t cap)
{
	return calloc(1, sizeof(struct sl_task_list) + sizeof(struct sl_task *) * (cap + 1));
}

static void scale_publish(struct sl_pipeline *p);

static int pipeline_assign_tasks(struct sl_pipeline *p)
{
	unsigned lcore, w = 0, n_tasks = 0, next = 0;

	p->n_workers = rte_lcore_count();
	p->workers = calloc(p->n_workers, sizeof(*p->workers));
	for (uint32_t i = 0; i < p->n_nodes; i++)
		n_tasks += p->nodes[i].n_replicas + (p->nodes[i].ord != NULL);
	p->base = calloc(p->n_workers, sizeof(*p->base));
	p->spare = calloc(p->n_workers, sizeof(*p->spare));
	if (!p->workers || !p->base || !p->spare)
		return -ENOMEM;
	/* Main lcore first, then the others in order. */
	p->workers[w++].lcore = rte_get_main_lcore();
	RTE_LCORE_FOREACH_WORKER (lcore)
		p->workers[w++].lcore = lcore;
	for (w = 0; w < p->n_workers; w++) {
		p->base[w] = task_list_new(n_tasks);
		p->spare[w] = task_list_new(n_tasks);
		p->workers[w].list = task_list_new(n_tasks);
		if (!p->base[w] || !p->spare[w] || !p->workers[w].list)
			return -ENOMEM;
	}
	/*
	 * Replica k of a replicated node runs on lcore k (mod lcores): with the same replica
	 * count along a chain, lane k's events stay on one lcore from source to last stage
	 * (see edge.h). Single tasks are dealt round-robin in graph order. In an experiment on
	 * the issue-2 pipeline (2 vCPUs, 1 M lines, alternating runs) round-robin beat
	 * contiguous chunks of the graph (0.21-0.30 s vs 0.27-0.38 s); the autoscaler will move
	 * tasks by measured load.
	 */
	for (uint32_t i = 0; i < p->n_nodes; i++) {
		struct rt_node *n = &p->nodes[i];
		/* An autoscaled stage's replica 0 (its standby at zero) lives with its first
		 * upstream's first replica: the round that enqueues the event that wakes it
		 * also runs it, so a sleeping worker adds nothing to the cold start. */
		unsigned first = n->scaled && n->n_upstream
					 ? p->nodes[n->upstream[0]].replicas[0].home
				 : n->scaled ? next++
					     : 0;
		/* A sink with lanes fed by one source of one replica is that one lane's sink:
		 * it runs with the source (and fuses to it) rather than on the next lcore,
		 * where every event would cross cores (issue 3, perf/RESULTS.md). */
		const struct rt_node *up = n->n_upstream == 1 ? &p->nodes[n->upstream[0]] : NULL;
		bool follow = n->cfg->role == SL_NODE_SINK && n->cfg->sink->lanes &&
			      n->n_replicas == 1 && up && up->cfg->role == SL_NODE_SOURCE &&
			      up->n_replicas == 1 && up->id < n->id;

		if (follow)
			first = up->replicas[0].home;
		for (uint32_t k = 0; k < n->n_replicas; k++) {
			unsigned slot = n->scaled || follow ? first + k
					: n->n_replicas > 1 ? k
							    : next++;
			struct sl_worker *wk = &p->workers[slot % p->n_workers];
			struct sl_task_list *b = p->base[slot % p->n_workers];

			n->replicas[k].lcore = wk->lcore;
			n->replicas[k].ctx.lcore = (uint16_t)wk->lcore;
			n->replicas[k].home = slot % p->n_workers;
			if (!n->scaled)
				b->tasks[b->n++] = &n->replicas[k].task;
		}
		/* ordered_by: the dispatcher runs with replica 0 (the standby at zero). */
		if (n->ord) {
			struct sl_task_list *b = p->base[n->replicas[0].home];

			b->tasks[b->n++] = &n->ord->task;
		}
	}
	if (p->n_scaled) {
		ssize_t sz = rte_rcu_qsbr_get_memsize(p->n_workers);

		if (sz < 0)
			return -EINVAL;
		p->qs = rte_zmalloc("sl_qsbr", (size_t)sz, RTE_CACHE_LINE_SIZE);
		if (!p->qs || rte_rcu_qsbr_init(p->qs, p->n_workers) != 0)
			return -ENOMEM;
		for (w = 0; w < p->n_workers; w++) {
			p->workers[w].qs = p->qs;
			p->workers[w].qs_id = w;
			p->workers[w].keep_running = true;
			if (rte_rcu_qsbr_thread_register(p->qs, w) != 0)
				return -EINVAL;
		}
		/* Start at min; a stage with min 0 starts parked, its first replica on standby. */
		for (uint32_t i = 0; i < p->n_nodes; i++) {
			struct rt_node *n = &p->nodes[i];

			for (uint32_t k = 0; n->scaled && k < n->n_replicas; k++) {
				struct rt_replica *r = &n->replicas[k];

				r->listed = k < n->cfg->scale_min || k == 0;
				r->mode = k < n->cfg->scale_min ? RM_RUN
					  : k == 0		? RM_STANDBY
								: RM_IDLE;
			}
		}
	}
	scale_publish(p);
	p->qs_pending = false; /* nothing ran yet */
	return 0;
}

int sl_pipeline_create(struct sl_config *cfg, struct sl_pipeline **out)
{
	struct sl_event_pool_conf pc = { .name = "sl_events",
					 .data_room = SL_EVENT_SMALL_ROOM,
					 .big_room = SL_EVENT_DATA_ROOM,
					 .cache = PIPELINE_CACHE,
					 .socket = -1 };
	struct sl_pipeline *p = calloc(1, sizeof(*p));
	int ret = -ENOMEM;

	if (!p)
		return -ENOMEM;
	p->cfg = cfg;
	p->n_nodes = cfg->n_nodes;
	p->tsc_hz = rte_get_tsc_hz();
	p->nodes = calloc(cfg->n_nodes, sizeof(*p->nodes));
	if (!p->nodes)
		goto err;
	for (uint32_t i = 0; i < p->n_nodes; i++) {
		struct rt_node *n = &p->nodes[i];
		struct sl_config_node *c = &cfg->nodes[i];
		char name[RTE_RING_NAMESIZE];

		n->cfg = c;
		n->id = i;
		n->n_ports = c->role == SL_NODE_SINK ? 0 : c->n_outputs;
		n->ports = calloc(n->n_ports ? n->n_ports : 1, sizeof(*n->ports));
		n->upstream = calloc(c->n_inputs ? c->n_inputs : 1, sizeof(*n->upstream));
		n->n_replicas = c->role == SL_NODE_SINK && !c->sink->lanes ? 1 : c->replicas;
		n->scaled = c->role == SL_NODE_STAGE && c->scale_set;
		n->pin = -1;
		if (!n->ports || !n->upstream)
			goto err;
		if (n->scaled && c->stage->state) {
			fprintf(stderr,
				"%s:%u:%u: stage '%s': scale: is not supported on a stage that "
				"keeps "
				"window state (%s); use replicas:\n",
				cfg->file, c->scale_line, c->scale_col, c->name, c->kind);
			ret = -ENOTSUP;
			goto err;
		}
		if (n->scaled) {
			n->sc = calloc(1, sizeof(*n->sc));
			if (!n->sc)
				goto err;
			sl_scale_params_default(&n->sc->params, c->scale_min, c->scale_max);
			sl_scale_state_init(&n->sc->state);
			p->n_scaled++;
		}
		/* A replicated stage or sink gets a ring per replica (lanes, see edge.h); an
		 * autoscaled stage shares one ring between however many replicas run. */
		n->n_rings = c->role == SL_NODE_SOURCE ? 0
			     : c->role == SL_NODE_SINK || (c->role == SL_NODE_STAGE && !n->scaled &&
							   !c->ordered_by)
				     ? n->n_replicas
				     : 1;
		n->rings = calloc(n->n_rings ? n->n_rings : 1, sizeof(*n->rings));
		if (!n->rings)
			goto err;
		for (uint32_t k = 0; k < n->n_rings; k++) {
			snprintf(name, sizeof(name), "sl_in_%u_%u", i, k);
			n->rings[k] = rte_ring_create(name, c->ring_size, SOCKET_ID_ANY, 0);
			if (!n->rings[k]) {
				SL_ERR(c->name, "cannot create input ring of %u: %s", c->ring_size,
				       rte_strerror(rte_errno));
				goto err;
			}
		}
		if (c->role == SL_NODE_STAGE && (c->stage->flags & SL_STAGE_F_WINDOWED)) {
			const struct sl_arg *a = sl_args_get(&c->args, "window");
			uint64_t ns = 0;
			n->windowed = true;
			if (a && sl_window_parse(a->str, &ns) == 0 && ns)
				n->window_tsc = (uint64_t)((double)ns * p->tsc_hz / 1e9);
		} else if (c->role == SL_NODE_STAGE && c->stage->state) {
			n->windowed = true;
		}
	}
	ret = node_build_ports(p);
	if (ret < 0)
		goto err;
	for (uint32_t i = 0; i < p->n_nodes; i++)
		node_plan_fields(&p->nodes[i], cfg);
	pc.n_events = pool_size(p);
	ret = sl_event_pool_create(&pc, &p->pool, &p->meta_offset);
	if (ret < 0)
		goto err;
	ret = -ENOMEM;
	for (uint32_t i = 0; i < p->n_nodes; i++) {
		struct rt_node *n = &p->nodes[i];
		n->replicas = rte_zmalloc("sl_replicas", sizeof(*n->replicas) * n->n_replicas,
					  RTE_CACHE_LINE_SIZE);
		if (!n->replicas)
			goto err;
		for (uint32_t k = 0; k < n->n_replicas; k++) {
			ret = replica_init(p, n, &n->replicas[k], (uint16_t)k);
			if (ret < 0)
				goto err;
		}
		ret = order_create(n);
		if (ret < 0)
			goto err;
	}
	for (uint32_t i = 0; i < p->n_nodes; i++)
		for (uint32_t k = 0; k < p->nodes[i].n_replicas; k++) {
			ret = replica_create_io(p, &p->nodes[i], &p->nodes[i].replicas[k]);
			if (ret < 0)
				goto err;
		}
	ret = pipeline_setup_ack(p);
	if (ret < 0)
		goto err;
	p->scale_want = calloc(p->n_scaled + 1, sizeof(uint32_t));
	p->scale_min = calloc(p->n_scaled + 1, sizeof(uint32_t));
	p->scale_grant = calloc(p->n_scaled + 1, sizeof(uint32_t));
	if (!p->scale_want || !p->scale_min || !p->scale_grant) {
		ret = -ENOMEM;
		goto err;
	}
	ret = pipeline_assign_tasks(p);
	if (ret < 0)
		goto err;
	ret = pipeline_plan_fusion(p);
	if (ret < 0)
		goto err;
	*out = p;
	return 0;
err:
	sl_pipeline_destroy(p);
	return ret < 0 ? ret : -ENOMEM;
}

/* ---- scaling (docs/scaling.md): the controller, on the main lcore's tick ---- */

/* Give every worker a new list: its unscaled tasks plus the listed replicas it is home
 * to. The lists replaced stay untouched until the grace period (scale_tick). */
static void scale_publish(struct sl_pipeline *p)
{
	for (unsigned w = 0; w < p->n_workers; w++) {
		struct sl_task_list *l = p->spare[w], *old;

		memcpy(l->tasks, p->base[w]->tasks, sizeof(l->tasks[0]) * p->base[w]->n);
		l->n = p->base[w]->n;
		for (uint32_t i = 0; i < p->n_nodes; i++) {
			struct rt_node *n = &p->nodes[i];

			for (uint32_t k = 0; n->scaled && k < n->n_replicas; k++)
				if (n->replicas[k].listed && n->replicas[k].home == w)
					l->tasks[l->n++] = &n->replicas[k].task;
		}
		old = p->workers[w].list;
		/* Release pairs with the worker's acquire: it sees the list whole, and the
		 * modes the controller stored before. */
		__atomic_store_n(&p->workers[w].list, l, __ATOMIC_RELEASE);
		p->spare[w] = old;
	}
	if (p->qs) {
		p->qs_token = rte_rcu_qsbr_start(p->qs);
		p->qs_pending = true;
	}
	sl_worker_wake_all(); /* a blocked worker runs its new list now */
}

static inline uint32_t mode_of(struct rt_replica *r)
{
	return __atomic_load_n(&r->mode, __ATOMIC_ACQUIRE);
}

/* Sample one stage and ask the policy (or the pin) how many replicas it wants. */
static uint32_t scale_want(struct sl_pipeline *p, struct rt_node *n, uint64_t now)
{
	struct node_scale *sc = n->sc;
	uint64_t busy = 0, in = 0, queued = rte_ring_count(n->rings[0]);
	struct sl_scale_sample x = { .capacity = rte_ring_get_capacity(n->rings[0]) };
	int32_t pin = __atomic_load_n(&n->pin, __ATOMIC_RELAXED);
	uint32_t want;

	for (uint32_t k = 0; k < n->n_replicas; k++) {
		struct rt_replica *r = &n->replicas[k];

		busy += __atomic_load_n(&r->busy_tsc, __ATOMIC_RELAXED);
		in += __atomic_load_n(&r->n_in, __ATOMIC_RELAXED);
		x.replicas += mode_of(r) == RM_RUN;
		if (n->ord) /* ordered_by: taken by the dispatcher, not yet by a replica */
			queued += rte_ring_count(n->ord->sub[k]);
	}
	if (sc->last_tsc == 0)
		sc->last_tsc = p->start_tsc;
	__atomic_store_n(&sc->replica_tsc, sc->replica_tsc + sc->running * (now - sc->last_tsc),
			 __ATOMIC_RELAXED);
	x.now_ns = (uint64_t)((double)(now - p->start_tsc) * 1e9 / (double)p->tsc_hz);
	x.busy = now > sc->last_tsc ? (double)(busy - sc->last_busy) / (double)(now - sc->last_tsc)
				    : 0;
	x.queued = queued;
	x.arrived = in + queued > sc->last_in + sc->last_queued
			    ? in + queued - sc->last_in - sc->last_queued
			    : 0;
	sc->last_busy = busy;
	sc->last_in = in;
	sc->last_queued = queued;
	sc->last_tsc = now;
	sc->running = x.replicas;
	want = sl_scale_policy(&sc->params, &sc->state, &x);
	if (pin >= 0)
		want = (uint32_t)pin;
	return want;
}

/* Move a stage toward target running replicas. Returns whether lists must change. */
static bool scale_apply(struct sl_pipeline *p, struct rt_node *n, uint32_t target, uint64_t now)
{
	struct node_scale *sc = n->sc;
	uint32_t running = 0, live = 0;
	bool standby_busy = false, publish = false;

	for (uint32_t k = 0; k < n->n_replicas; k++) {
		uint32_t m = mode_of(&n->replicas[k]);

		running += m == RM_RUN;
		live += m == RM_RUN || m == RM_DRAIN || m == RM_STANDBY;
		standby_busy |= m == RM_STANDBY;
	}
	/* A standby with events waiting is waking on its own (its cold start counts). */
	standby_busy &= !rte_ring_empty(n->rings[0]);
	if (running + standby_busy < target) {
		for (uint32_t k = 0; k < n->n_replicas && running + standby_busy < target; k++) {
			struct rt_replica *r = &n->replicas[k];
			uint32_t m = mode_of(r);

			if (m == RM_DRAIN || (m == RM_STANDBY && !standby_busy)) {
				/* A standby with nothing queued is started here (a pin, or
				 * arrivals it has not seen yet): no second replica for it. */
				if (__atomic_compare_exchange_n(&r->mode, &m, RM_RUN, false,
								__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
					running++;
			} else if (m == RM_PARKED && r->listed) {
				__atomic_store_n(&r->activated_tsc, now, __ATOMIC_RELAXED);
				__atomic_store_n(&r->mode, RM_RUN, __ATOMIC_RELEASE);
				running++;
			} else if (m == RM_IDLE && !r->unlisting && !p->qs_pending) {
				/* Published with the next list (release), before which no
				 * worker can run it. */
				__atomic_store_n(&r->activated_tsc, now, __ATOMIC_RELAXED);
				__atomic_store_n(&r->mode, RM_RUN, __ATOMIC_RELAXED);
				r->listed = true;
				publish = true;
				running++;
				live++;
			}
		}
		sc->n_up++;
	} else if (running > target) {
		for (uint32_t k = n->n_replicas; k-- > 0 && running > target;) {
			struct rt_replica *r = &n->replicas[k];
			uint32_t m = RM_RUN;

			if (__atomic_compare_exchange_n(&r->mode, &m, RM_DRAIN, false,
							__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
				running--;
		}
		sc->n_down++;
	}
	/* Parked replicas hold nothing: the last one stays listed as the standby (unless
	 * pinned to 0), the others leave their lists. */
	for (uint32_t k = 0; k < n->n_replicas; k++) {
		struct rt_replica *r = &n->replicas[k];

		if (!r->listed || mode_of(r) != RM_PARKED)
			continue;
		if (live == 0 && __atomic_load_n(&n->pin, __ATOMIC_RELAXED) != 0) {
			__atomic_store_n(&r->mode, RM_STANDBY, __ATOMIC_RELEASE);
			live++;
		} else if (!p->qs_pending) {
			r->listed = false;
			r->unlisting = true;
			publish = true;
		}
	}
	/* Unpinned from 0 with nothing live: list a standby again, so the first event wakes
	 * the stage in the round that enqueues it (not at the next tick). */
	for (uint32_t k = 0; live == 0 && !p->qs_pending && k < n->n_replicas; k++) {
		struct rt_replica *r = &n->replicas[k];

		if (__atomic_load_n(&n->pin, __ATOMIC_RELAXED) == 0 || r->listed || r->unlisting ||
		    mode_of(r) != RM_IDLE)
			continue;
		/* Published with the next list (release). */
		__atomic_store_n(&r->mode, RM_STANDBY, __ATOMIC_RELAXED);
		r->listed = true;
		publish = true;
		live++;
	}
	sc->desired = target;
	return publish;
}

/* A stage is done when its input is done and every listed replica has finished. */
static void scale_check_done(struct sl_pipeline *p, struct rt_node *n)
{
	uint32_t listed = 0;

	if (__atomic_load_n(&n->done, __ATOMIC_RELAXED) || !upstream_done(n, p) ||
	    (n->ord && !__atomic_load_n(&n->ord->done, __ATOMIC_ACQUIRE)))
		return;
	for (uint32_t k = 0; k < n->n_replicas; k++) {
		struct rt_replica *r = &n->replicas[k];

		if (!r->listed)
			continue;
		if (mode_of(r) != RM_FINISHED)
			return;
		listed++;
	}
	if (listed == 0 && !rte_ring_empty(n->rings[0]))
		return; /* pinned to 0 with events waiting */
	/* The acquire loads of FINISHED above order every replica's last enqueue before
	 * this release (pairs with upstream_done's acquire downstream). */
	node_mark_done(n);
	sl_worker_wake_all();
}

static void scale_tick(struct sl_pipeline *p, uint64_t now)
{
	uint32_t j = 0;
	bool publish = false;

	if (p->qs_pending && rte_rcu_qsbr_check(p->qs, p->qs_token, false) == 1) {
		/* No worker holds the lists replaced last time: the replicas they dropped are
		 * out of every worker's hands. */
		p->qs_pending = false;
		for (uint32_t i = 0; i < p->n_nodes; i++)
			for (uint32_t k = 0; p->nodes[i].scaled && k < p->nodes[i].n_replicas;
			     k++) {
				struct rt_replica *r = &p->nodes[i].replicas[k];

				if (r->unlisting) {
					r->unlisting = false;
					__atomic_store_n(&r->mode, RM_IDLE, __ATOMIC_RELAXED);
				}
			}
	}
	for (uint32_t i = 0; i < p->n_nodes; i++) {
		struct rt_node *n = &p->nodes[i];

		if (!n->scaled)
			continue;
		p->scale_want[j] = scale_want(p, n, now);
		p->scale_min[j] = __atomic_load_n(&n->pin, __ATOMIC_RELAXED) >= 0
					  ? p->scale_want[j]
					  : n->cfg->scale_min;
		j++;
	}
	sl_scale_budget(p->n_scaled, p->scale_want, p->scale_min, p->cfg->cores, p->scale_grant);
	j = 0;
	for (uint32_t i = 0; i < p->n_nodes; i++) {
		struct rt_node *n = &p->nodes[i];

		if (!n->scaled)
			continue;
		if (!__atomic_load_n(&n->done, __ATOMIC_RELAXED))
			publish |= scale_apply(p, n, p->scale_grant[j], now);
		j++;
	}
	if (publish)
		scale_publish(p);
	for (uint32_t i = 0; i < p->n_nodes; i++)
		if (p->nodes[i].scaled)
			scale_check_done(p, &p->nodes[i]);
}

int sl_pipeline_scale(struct sl_pipeline *p, uint32_t i, int32_t replicas, char *err, size_t len)
{
	struct rt_node *n;

	if (i >= p->n_nodes)
		return -EINVAL;
	n = &p->nodes[i];
	if (!n->scaled && n->cfg->role != SL_NODE_STAGE) {
		/* `scale:` is a stage key: sources and sinks cannot be given one. */
		snprintf(err, len, "'%s' is a %s: only stages can be scaled", n->cfg->name,
			 n->cfg->role == SL_NODE_SOURCE ? "source" : "sink");
		return -ENOTSUP;
	}
	if (!n->scaled) {
		snprintf(err, len,
			 "'%s' is not autoscaled (it has static replicas:); give it scale: { min, "
			 "max } in the pipeline file",
			 n->cfg->name);
		return -ENOTSUP;
	}
	if (replicas > (int32_t)n->n_replicas) {
		snprintf(err, len, "'%s' has scale: max %u; cannot pin %d replicas", n->cfg->name,
			 n->n_replicas, (int)replicas);
		return -ERANGE;
	}
	if (p->cfg->cores) {
		uint32_t others = 0, least = replicas >= 0 ? (uint32_t)replicas : n->cfg->scale_min;

		/* A pin is its stage's minimum in the budget (scale_tick), "auto" gives it back its
		 * scale: min, and the budget grants every minimum: one that does not fit beside
		 * the other stages' minimums (their pins or mins) would take the replicas past
		 * cores:. */
		for (uint32_t o = 0; o < p->n_nodes; o++) {
			const struct rt_node *m = &p->nodes[o];
			int32_t pin;

			if (!m->scaled || o == i)
				continue;
			pin = __atomic_load_n(&m->pin, __ATOMIC_RELAXED);
			others += pin >= 0 ? (uint32_t)pin : m->cfg->scale_min;
		}
		if (least + others > p->cfg->cores && replicas >= 0) {
			snprintf(err, len,
				 "'%s': cannot pin %d replicas: the core budget is cores: %u, and "
				 "the other autoscaled stages keep %u of it",
				 n->cfg->name, (int)replicas, p->cfg->cores, others);
			return -ERANGE;
		}
		if (least + others > p->cfg->cores) {
			snprintf(err, len,
				 "'%s': cannot go back to auto (scale: min %u): the core budget is "
				 "cores: %u, and the other autoscaled stages keep %u of it",
				 n->cfg->name, least, p->cfg->cores, others);
			return -ERANGE;
		}
	}
	__atomic_store_n(&n->pin, replicas < 0 ? -1 : replicas, __ATOMIC_RELAXED);
	sl_worker_wake_all(); /* the controller acts on it at its next tick */
	return 0;
}

/* ---- running ---- */

/*
 * Deep sleep (worker.h): how long each idle worker may block. Producers wake their
 * consumers, so the bound matters only for what nothing enqueues: a source's poll (a
 * followed file is looked at every idle / 64, from 1 ms up to 4 ms after 256 ms idle;
 * other sources every 1 ms as before: a port's rx ring must not overflow behind a
 * sleeping worker), a sink's periodic flush (100 ms), a window's end (a tenth of the
 * window, at least 1 ms). Each wake costs 20-30 us of CPU on a 2-vCPU VM (most of it the
 * kernel's), so the 4 ms keep an idle pipeline under 1 % of a core.
 */
#define SLEEP_FILE_SOURCE_NS 4000000ull
#define SLEEP_SOURCE_NS	     1000000ull

static void pipeline_plan_sleep(struct sl_pipeline *p)
{
	uint64_t bound = SINK_FLUSH_PERIOD_MS * 1000000ull;

	for (uint32_t i = 0; i < p->n_nodes; i++) {
		uint64_t ns = (uint64_t)((double)p->nodes[i].window_tsc * 1e9 / (double)p->tsc_hz);

		if (p->nodes[i].window_tsc)
			bound = RTE_MIN(bound, RTE_MAX(ns / 10, SLEEP_SOURCE_NS));
	}
	for (unsigned w = 0; w < p->n_workers; w++)
		p->workers[w].deep_sleep_ns = bound;
	for (uint32_t i = 0; i < p->n_nodes; i++) {
		const struct rt_node *n = &p->nodes[i];
		uint64_t ns = n->cfg->role != SL_NODE_SOURCE		  ? bound
			      : strcmp(n->cfg->source->type, "file") == 0 ? SLEEP_FILE_SOURCE_NS
									  : SLEEP_SOURCE_NS;

		for (uint32_t k = 0; k < n->n_replicas; k++) {
			struct sl_worker *wk = &p->workers[n->replicas[k].home];

			wk->deep_sleep_ns = RTE_MIN(wk->deep_sleep_ns, ns);
		}
	}
	if (sl_worker_table(p->workers, p->n_workers) < 0)
		SL_INFO("pipeline", "idle workers nap instead of blocking (%u lcores)",
			p->n_workers);
}

static bool pipeline_tick(void *arg)
{
	struct sl_pipeline *p = arg;
	static sig_atomic_t seen;
	static uint64_t first_tsc;
	uint32_t done = 0;

	if (pipeline_signals != seen) {
		uint64_t now = rte_rdtsc();

		if (seen == 0) {
			seen = pipeline_signals;
			first_tsc = now;
			SL_NOTICE("pipeline",
				  "stopping: draining in-flight events (again to force)");
			__atomic_store_n(&p->stopping, 1, __ATOMIC_RELAXED);
		} else if (now - first_tsc < p->tsc_hz / 5) {
			/* Within 200 ms of the first: the same request. timeout(1) relays one
			 * signal to its child and again to its process group. */
			seen = pipeline_signals;
		} else {
			SL_WARN("pipeline", "forced stop: in-flight events are discarded");
			p->forced = true;
			return false;
		}
	}
	if (p->n_ack)
		ack_tick(p, rte_rdtsc());
	if (p->n_scaled)
		scale_tick(p, rte_rdtsc());
	for (uint32_t i = 0; i < p->n_nodes; i++)
		done += __atomic_load_n(&p->nodes[i].done, __ATOMIC_ACQUIRE);
	return done != p->n_nodes;
}

int sl_pipeline_run(struct sl_pipeline *p)
{
	struct sl_worker *main_w = &p->workers[0];

	the_pipeline = p;
	main_w->tick = pipeline_tick;
	main_w->tick_arg = p;
	main_w->tick_period_tsc = p->tsc_hz / 1000 * TICK_PERIOD_MS;
	/* With autoscaled stages the controller ticks 4x as often: a load step is seen
	 * (ring over a quarter full) at the next tick, so this bounds the reaction. */
	if (p->n_scaled)
		main_w->tick_period_tsc /= SCALE_TICKS_PER_MS;
	__atomic_store_n(&p->start_tsc, rte_rdtsc(), __ATOMIC_RELAXED);
	for (uint32_t i = 0; i < p->n_nodes; i++)
		p->nodes[i].window_end_tsc = p->start_tsc + p->nodes[i].window_tsc;
	pipeline_plan_sleep(p);
	for (unsigned w = 1; w < p->n_workers; w++) {
		int ret =
			rte_eal_remote_launch(sl_worker_loop, &p->workers[w], p->workers[w].lcore);
		if (ret < 0) {
			SL_ERR("pipeline", "cannot launch worker on lcore %u: %s",
			       p->workers[w].lcore, strerror(-ret));
			for (unsigned k = 1; k < w; k++)
				p->workers[k].stop = true;
			sl_worker_wake_all();
			rte_eal_mp_wait_lcore();
			sl_worker_table_fini();
			return ret;
		}
	}
	sl_worker_loop(main_w);
	/* Normal end: every node is done, so worker lcores have returned or will shortly. */
	for (unsigned w = 1; w < p->n_workers; w++)
		if (p->forced || p->n_scaled)
			p->workers[w].stop = true;
	sl_worker_wake_all();
	rte_eal_mp_wait_lcore();
	sl_worker_table_fini();
	__atomic_store_n(&p->end_tsc, rte_rdtsc(), __ATOMIC_RELAXED);
	if (p->forced) {
		for (uint32_t i = 0; i < p->n_nodes; i++)
			for (uint32_t k = 0; k < p->nodes[i].n_replicas; k++) {
				struct rt_replica *r = &p->nodes[i].replicas[k];
				sl_edge_discard(&r->out);
				if (r->n_held)
					rte_pktmbuf_free_bulk(&r->held[r->held_head], r->n_held);
			}
		return -EINTR;
	}
	if (p->n_ack) {
		/* Every sink made its last events durable: the final checkpoint. */
		ack_tick(p, rte_rdtsc());
		for (uint32_t a = 0; a < p->n_ack; a++) {
			struct ack_source *as = &p->ack[a];
			uint64_t opened = __atomic_load_n(&as->st->opened, __ATOMIC_ACQUIRE);

			if (as->committed + 1 < opened)
				SL_WARN(as->node->cfg->name,
					"final checkpoint is %" PRIu64
					" epoch(s) behind: not every event was delivered (see the "
					"sinks' errors); a restart reads them again",
					opened - 1 - as->committed);
		}
	}
	if (__atomic_load_n(&p->sink_failed, __ATOMIC_RELAXED)) {
		SL_ERR("run", "a sink could not write all it was given (see its errors above)");
		return -EIO;
	}
	return 0;
}

/* ---- reporting ---- */

struct node_totals {
	uint64_t in, out, generated, written, dropped, in_flight, pending, queued, busy, calls;
	uint64_t fused_in;
	uint64_t drop[SL_DROP_REASON_MAX];
	uint64_t counters[SL_NODE_COUNTER_MAX];
	uint64_t lat_call[SL_LAT_BUCKETS], lat_age[SL_LAT_BUCKETS];
};

static void node_totals(const struct sl_pipeline *p, const struct rt_node *n, struct node_totals *t)
{
	memset(t, 0, sizeof(*t));
	for (uint32_t k = 0; k < n->n_rings; k++)
		t->queued += rte_ring_count(n->rings[k]);
	if (n->ord) { /* ordered_by: taken by the dispatcher, not yet by a replica */
		t->queued += __atomic_load_n(&n->ord->n_held, __ATOMIC_RELAXED);
		for (uint32_t k = 0; k < n->n_replicas; k++)
			t->queued += rte_ring_count(n->ord->sub[k]);
	}
	for (uint32_t k = 0; k < n->n_replicas; k++) {
		const struct rt_replica *r = &n->replicas[k];
		t->in += r->n_in;
		t->generated += r->n_generated;
		t->written += r->n_written;
		t->busy += r->busy_tsc;
		t->calls += r->n_calls;
		t->fused_in += r->n_fused_in;
		t->pending += r->out.n_pending;
		t->in_flight += r->n_held;
		t->out += r->out.n_out;
		t->drop[SL_DROP_UNROUTED] += r->out.n_unrouted;
		t->drop[SL_DROP_NOMBUF] += r->host.n_unshare_drop;
		for (int d = 0; d < SL_DROP_REASON_MAX; d++)
			t->drop[d] += r->n_drop[d];
		for (int c = 0; c < SL_NODE_COUNTER_MAX; c++)
			t->counters[c] += r->counters[c];
		for (int b = 0; b < SL_LAT_BUCKETS; b++) {
			t->lat_call[b] += r->lat_call[b];
			t->lat_age[b] += r->lat_age[b];
		}
	}
	/* Losses on this node's input edges are charged to it as ring_full. */
	for (uint32_t u = 0; u < p->n_nodes; u++) {
		const struct rt_node *pn = &p->nodes[u];
		for (uint16_t port = 0; port < pn->n_ports; port++)
			for (uint16_t d = 0; d < pn->ports[port].n_dest; d++) {
				if (pn->ports[port].dest[d].consumer != n->id)
					continue;
				for (uint32_t k = 0; k < pn->n_replicas; k++) {
					const struct sl_edge_out *o = &pn->replicas[k].out;
					t->drop[SL_DROP_RING_FULL] +=
						o->n_full_drop[o->pend_base[port] + d];
				}
			}
	}
	if (n->cfg->role == SL_NODE_SINK)
		t->out = t->written;
	for (int d = 0; d < SL_DROP_REASON_MAX; d++)
		if (d != SL_DROP_RING_FULL)
			t->dropped += t->drop[d];
}

static const char *const role_names[] = { "source", "stage", "sink" };

static void fmt_rate(char *buf, size_t len, double v)
{
	if (v >= 1e9)
		snprintf(buf, len, "%.2fG", v / 1e9);
	else if (v >= 1e6)
		snprintf(buf, len, "%.2fM", v / 1e6);
	else if (v >= 1e3)
		snprintf(buf, len, "%.1fk", v / 1e3);
	else
		snprintf(buf, len, "%.0f", v);
}

void sl_pipeline_summary(const struct sl_pipeline *p, FILE *f)
{
	uint64_t end = p->end_tsc ? p->end_tsc : rte_rdtsc();
	double secs = (double)(end - p->start_tsc) / (double)p->tsc_hz;

	fprintf(f, "\n%-16s %-12s %3s %12s %12s %12s %9s %10s %9s\n", "node", "kind", "rep", "in",
		"out", "dropped", "in_flight", "events/s", "cyc/event");
	for (uint32_t i = 0; i < p->n_nodes; i++) {
		const struct rt_node *n = &p->nodes[i];
		const struct sl_config_node *c = n->cfg;
		struct node_totals t;
		uint64_t work;
		char rate[16], line[512];

		node_totals(p, n, &t);
		work = c->role == SL_NODE_SOURCE ? t.generated : t.in;
		fmt_rate(rate, sizeof(rate), secs > 0 ? (double)work / secs : 0);
		fprintf(f,
			"%-16s %-12s %3u %12" PRIu64 " %12" PRIu64 " %12" PRIu64 " %9" PRIu64
			" %10s %9.0f\n",
			c->name, c->kind, n->n_replicas, t.in + t.generated, t.out, t.dropped,
			t.in_flight + t.pending + t.queued, rate,
			work ? (double)t.busy / (double)work : 0.0);
		line[0] = '\0';
		for (int d = 0; d < SL_DROP_REASON_MAX; d++)
			if (t.drop[d]) {
				size_t l = strlen(line);
				snprintf(line + l, sizeof(line) - l, " %s=%" PRIu64,
					 drop_reason_names[d], t.drop[d]);
			}
		if (line[0])
			fprintf(f, "%-16s   dropped:%s\n", "", line);
		if (n->scaled) {
			struct sl_node_stats st;

			sl_pipeline_node_stats(p, i, &st);
			fprintf(f,
				"%-16s   scale: min %u max %u, %.3f replica-s, %" PRIu64
				" cold start(s) (max %.1f us), slowest added replica %.1f us\n",
				"", st.scale_min, st.scale_max, st.replica_seconds, st.cold_starts,
				st.cold_start_us_max, st.react_us_max);
		}
		if (c->role == SL_NODE_STAGE && c->stage->counters) {
			line[0] = '\0';
			for (int k = 0; k < SL_NODE_COUNTER_MAX && c->stage->counters[k]; k++)
				if (t.counters[k]) {
					size_t l = strlen(line);
					snprintf(line + l, sizeof(line) - l, " %s=%" PRIu64,
						 c->stage->counters[k], t.counters[k]);
				}
			if (line[0])
				fprintf(f, "%-16s   counters:%s\n", "", line);
		}
		for (uint32_t k = 0; k < n->n_replicas; k++) {
			void *io = n->replicas[k].io;

			if (!io || (c->role == SL_NODE_SOURCE && !c->source->summary_line) ||
			    (c->role == SL_NODE_SINK && !c->sink->summary_line))
				continue;
			line[0] = '\0';
			if (c->role == SL_NODE_SOURCE)
				c->source->summary_line(io, line, sizeof(line));
			else
				c->sink->summary_line(io, line, sizeof(line));
			if (line[0] && n->n_replicas > 1)
				fprintf(f, "%-16s   [%u] %s\n", "", k, line);
			else if (line[0])
				fprintf(f, "%-16s   %s\n", "", line);
		}
	}
	fprintf(f, "elapsed %.3f s on %u lcore(s)%s\n", secs, p->n_workers,
		p->forced ? " (forced stop)" : "");
}

uint32_t sl_pipeline_n_nodes(const struct sl_pipeline *p)
{
	return p->n_nodes;
}

double sl_pipeline_elapsed_s(const struct sl_pipeline *p)
{
	uint64_t start = __atomic_load_n(&p->start_tsc, __ATOMIC_RELAXED);
	uint64_t end = __atomic_load_n(&p->end_tsc, __ATOMIC_RELAXED);

	if (!start)
		return 0;
	return (double)((end ? end : rte_rdtsc()) - start) / (double)p->tsc_hz;
}

uint64_t sl_pipeline_tsc_hz(const struct sl_pipeline *p)
{
	return p->tsc_hz;
}

const char *sl_drop_reason_name(int reason)
{
	return reason >= 0 && reason < SL_DROP_REASON_MAX ? drop_reason_names[reason] : "";
}

int sl_pipeline_tap(struct sl_pipeline *p, uint32_t i, struct sl_tap *tap)
{
	struct rt_node *n = &p->nodes[i];

	if (n->cfg->role == SL_NODE_SINK)
		return -EINVAL;
	/* Release: a producer that sees the pointer sees the armed tap behind it. */
	for (uint32_t k = 0; k < n->n_replicas; k++)
		__atomic_store_n(&n->replicas[k].out.tap, tap, __ATOMIC_RELEASE);
	return 0;
}

int sl_pipeline_meta_offset(const struct sl_pipeline *p)
{
	return p->meta_offset;
}

void sl_pipeline_node_stats(const struct sl_pipeline *p, uint32_t i, struct sl_node_stats *s)
{
	const struct rt_node *n = &p->nodes[i];
	const struct sl_config_node *c = n->cfg;
	struct node_totals t;

	node_totals(p, n, &t);
	memset(s, 0, sizeof(*s));
	s->name = c->name;
	s->kind = c->kind;
	s->role = role_names[c->role];
	s->replicas = n->n_replicas;
	s->in = t.in;
	s->out = t.out;
	s->generated = t.generated;
	s->dropped = t.dropped;
	s->in_flight = t.in_flight;
	s->pending = t.pending;
	s->queued = t.queued;
	for (uint32_t k = 0; k < n->n_rings; k++)
		s->ring_capacity += rte_ring_get_capacity(n->rings[k]);
	s->busy_cycles = t.busy;
	s->calls = t.calls;
	s->fused_in = t.fused_in;
	if (c->role != SL_NODE_SOURCE) {
		double us = 1e6 / (double)p->tsc_hz;

		s->has_latency = true;
		s->call_p50_us = (double)sl_lat_quantile(t.lat_call, 0.50) * us;
		s->call_p99_us = (double)sl_lat_quantile(t.lat_call, 0.99) * us;
		s->age_p50_us = (double)sl_lat_quantile(t.lat_age, 0.50) * us;
		s->age_p99_us = (double)sl_lat_quantile(t.lat_age, 0.99) * us;
	}
	memcpy(s->drop, t.drop, sizeof(s->drop));
	s->replica_seconds = (double)n->n_replicas * sl_pipeline_elapsed_s(p);
	if (n->scaled) {
		double us = 1e6 / (double)p->tsc_hz;
		uint64_t cold_sum = 0, cold_max = 0, react_max = 0;

		s->scaled = true;
		s->scale_min = c->scale_min;
		s->scale_max = c->scale_max;
		s->pinned = __atomic_load_n(&n->pin, __ATOMIC_RELAXED);
		s->desired = __atomic_load_n(&n->sc->desired, __ATOMIC_RELAXED);
		s->replicas = 0;
		for (uint32_t k = 0; k < n->n_replicas; k++) {
			struct rt_replica *r = &n->replicas[k];
			uint64_t cm = __atomic_load_n(&r->cold_tsc_max, __ATOMIC_RELAXED);
			uint64_t rm = __atomic_load_n(&r->react_tsc_max, __ATOMIC_RELAXED);

			s->replicas += mode_of(r) == RM_RUN;
			s->cold_starts += __atomic_load_n(&r->n_cold, __ATOMIC_RELAXED);
			cold_sum += __atomic_load_n(&r->cold_tsc_sum, __ATOMIC_RELAXED);
			cold_max = cm > cold_max ? cm : cold_max;
			react_max = rm > react_max ? rm : react_max;
		}
		/* The last step from zero: its first event's ingest to the first burst of a
		 * replica added after it. */
		uint64_t step = 0, added = UINT64_MAX;

		for (uint32_t k = 0; k < n->n_replicas; k++) {
			uint64_t c = __atomic_load_n(&n->replicas[k].cold_in_tsc, __ATOMIC_RELAXED);

			step = c > step ? c : step;
		}
		for (uint32_t k = 0; step && k < n->n_replicas; k++) {
			uint64_t a =
				__atomic_load_n(&n->replicas[k].react_at_tsc, __ATOMIC_RELAXED);

			if (a >= step && a < added)
				added = a;
		}
		s->step_react_us = added != UINT64_MAX ? (double)(added - step) * us : -1;
		s->cold_start_us_max = (double)cold_max * us;
		s->cold_start_us_avg =
			s->cold_starts ? (double)cold_sum / (double)s->cold_starts * us : 0;
		s->react_us_max = (double)react_max * us;
		s->replica_seconds =
			(double)__atomic_load_n(&n->sc->replica_tsc, __ATOMIC_RELAXED) /
			(double)p->tsc_hz;
	}
	if (c->role == SL_NODE_STAGE && c->stage->counters) {
		s->counter_names = c->stage->counters;
		while (s->n_counters < SL_NODE_COUNTER_MAX && c->stage->counters[s->n_counters])
			s->n_counters++;
		memcpy(s->counters, t.counters, sizeof(s->counters));
	}
}

int sl_pipeline_stats_json(const struct sl_pipeline *p, FILE *f)
{
	fprintf(f, "{\"elapsed_s\": %.6f, \"lcores\": %u, \"forced\": %s, \"nodes\": [",
		sl_pipeline_elapsed_s(p), p->n_workers, p->forced ? "true" : "false");
	for (uint32_t i = 0; i < p->n_nodes; i++) {
		struct sl_node_stats s;
		bool first = true;

		sl_pipeline_node_stats(p, i, &s);
		fprintf(f, "%s\n  {\"name\": ", i ? "," : "");
		sl_json_fput_string(f, s.name);
		fprintf(f, ", \"role\": \"%s\", \"kind\": ", s.role);
		sl_json_fput_string(f, s.kind);
		fprintf(f,
			", \"replicas\": %u, \"in\": %" PRIu64 ", \"out\": %" PRIu64
			", \"generated\": %" PRIu64 ", \"in_flight\": %" PRIu64
			", \"pending\": %" PRIu64 ", \"queued\": %" PRIu64
			", \"ring_capacity\": %" PRIu64 ", \"busy_cycles\": %" PRIu64
			", \"calls\": %" PRIu64 ", \"fused_in\": %" PRIu64 ", \"dropped\": {",
			s.replicas, s.in, s.out, s.generated, s.in_flight, s.pending, s.queued,
			s.ring_capacity, s.busy_cycles, s.calls, s.fused_in);
		for (int d = 0; d < SL_DROP_REASON_MAX; d++)
			if (s.drop[d]) {
				fprintf(f, "%s\"%s\": %" PRIu64, first ? "" : ", ",
					drop_reason_names[d], s.drop[d]);
				first = false;
			}
		fprintf(f, "}, \"counters\": {");
		for (uint32_t k = 0; k < s.n_counters; k++) {
			fprintf(f, "%s", k ? ", " : "");
			sl_json_fput_string(f, s.counter_names[k]);
			fprintf(f, ": %" PRIu64, s.counters[k]);
		}
		fprintf(f, "}");
		if (s.has_latency)
			fprintf(f,
				", \"latency_us\": {\"call_p50\": %.3f, \"call_p99\": %.3f, "
				"\"age_p50\": %.3f, \"age_p99\": %.3f}",
				s.call_p50_us, s.call_p99_us, s.age_p50_us, s.age_p99_us);
		if (s.scaled)
			fprintf(f,
				", \"scale\": {\"min\": %u, \"max\": %u, \"desired\": %u, "
				"\"pinned\": %d, \"cold_starts\": %" PRIu64
				", \"cold_start_us_max\": %.3f, \"cold_start_us_avg\": %.3f, "
				"\"react_us_max\": %.3f, \"step_react_us\": %.3f, "
				"\"replica_seconds\": %.6f}",
				s.scale_min, s.scale_max, s.desired, (int)s.pinned, s.cold_starts,
				s.cold_start_us_max, s.cold_start_us_avg, s.react_us_max,
				s.step_react_us, s.replica_seconds);
		if (p->nodes[i].ord) {
			const struct rt_order *o = p->nodes[i].ord;

			fprintf(f, ", \"ordered\": {\"by\": ");
			sl_json_fput_string(f, p->nodes[i].cfg->ordered_by);
			fprintf(f, ", \"switches\": %" PRIu64 ", \"waits\": %" PRIu64 "}",
				__atomic_load_n(&o->n_switch, __ATOMIC_RELAXED),
				__atomic_load_n(&o->n_wait, __ATOMIC_RELAXED));
		}
		fprintf(f, "}");
	}
	fprintf(f, "\n]}\n");
	return ferror(f) ? -EIO : 0;
}

int sl_pipeline_write_stats_json(const struct sl_pipeline *p, const char *path)
{
	FILE *f = fopen(path, "w");
	int ret;

	if (!f)
		return -errno;
	ret = sl_pipeline_stats_json(p, f);
	if (fclose(f) != 0 && ret == 0)
		ret = -errno;
	return ret;
}

void sl_pipeline_destroy(struct sl_pipeline *p)
{
	if (!p)
		return;
	for (uint32_t i = 0; p->nodes && i < p->n_nodes; i++) {
		struct rt_node *n = &p->nodes[i];
		for (uint32_t k = 0; n->replicas && k < n->n_replicas; k++) {
			struct rt_replica *r = &n->replicas[k];
			if (r->io && n->cfg->role == SL_NODE_SOURCE)
				n->cfg->source->destroy(r->io);
			else if (r->io && n->cfg->role == SL_NODE_SINK)
				n->cfg->sink->destroy(r->io);
			if (!r->node)
				continue;
			sl_edge_discard(&r->out);
			sl_edge_out_fini(&r->out);
			for (int b = 0; b < 2; b++)
				if (r->state[b])
					n->cfg->stage->state->destroy(n->cfg->stage_conf,
								      r->state[b]);
			rte_free(r->emit);
			rte_free(r->ack_cnt);
			free(r->runs);
			free(r->fuse);
		}
		order_destroy(n);
		rte_free(n->replicas);
		for (uint32_t k = 0; n->rings && k < n->n_rings; k++) {
			void *ev;
			if (!n->rings[k])
				continue;
			while (rte_ring_dequeue(n->rings[k], &ev) == 0)
				rte_pktmbuf_free(ev);
			rte_ring_free(n->rings[k]);
		}
		free(n->rings);
		free(n->ports);
		free(n->upstream);
		free(n->sc);
		free(n->impl);
	}
	for (unsigned w = 0; w < p->n_workers && p->workers; w++) {
		free(p->workers[w].list);
		if (p->base)
			free(p->base[w]);
		if (p->spare)
			free(p->spare[w]);
	}
	free(p->base);
	free(p->spare);
	rte_free(p->qs);
	free(p->scale_want);
	free(p->scale_min);
	free(p->scale_grant);
	free(p->nodes);
	free(p->workers);
	free(p->ack);
	free(p->ack_of_node);
	free(p->ack_order);
	sl_event_pool_free(p->pool);
	if (the_pipeline == p)
		the_pipeline = NULL;
	free(p);
}

/* ---- live replacement of a stage's implementation (sluice swap, sluice reload) ---- */

int sl_pipeline_stage_replace(struct sl_pipeline *p, uint32_t i, const struct sl_stage_desc *d,
			      void *conf, unsigned timeout_ms)
{
	uint64_t deadline = rte_get_tsc_cycles() + (uint64_t)timeout_ms * (p->tsc_hz / 1000);
	struct rt_impl *im, *old;
	struct rt_node *n;

	if (i >= p->n_nodes)
		return -EINVAL;
	n = &p->nodes[i];
	if (n->cfg->role != SL_NODE_STAGE || n->windowed)
		return -ENOTSUP;
	im = malloc(sizeof(*im));
	if (!im)
		return -ENOMEM;
	im->desc = d;
	im->conf = conf;
	/* From here every call that starts reads the new implementation (stage_call). */
	old = __atomic_exchange_n(&n->impl, im, __ATOMIC_SEQ_CST);
	/* Grace period: wait until each replica is outside any call that began before. */
	for (uint32_t k = 0; k < n->n_replicas; k++) {
		struct rt_replica *r = &n->replicas[k];
		uint64_t seq = __atomic_load_n(&r->call_seq, __ATOMIC_SEQ_CST);

		if (!(seq & 1))
			continue;
		while (__atomic_load_n(&r->call_seq, __ATOMIC_ACQUIRE) == seq) {
			if (rte_get_tsc_cycles() > deadline) {
				/* Still inside the old code: it must stay loaded (leaked). */
				SL_WARN(n->cfg->name,
					"replica %u still in a call after %u ms; the previous "
					"implementation is kept loaded",
					k, timeout_ms);
				return -ETIMEDOUT;
			}
			rte_delay_us_sleep(20);
		}
	}
	free(old);
	return 0;
}

/* ---- heartbeat (control thread) ---- */

uint32_t sl_pipeline_replica_slots(const struct sl_pipeline *p, uint32_t i)
{
	if (i >= p->n_nodes || p->nodes[i].cfg->role != SL_NODE_STAGE)
		return 0;
	return p->nodes[i].n_replicas;
}

uint64_t sl_pipeline_call_seq(const struct sl_pipeline *p, uint32_t i, uint32_t k)
{
	if (i >= p->n_nodes || k >= p->nodes[i].n_replicas)
		return 0;
	return __atomic_load_n(&p->nodes[i].replicas[k].call_seq, __ATOMIC_ACQUIRE);
}
