/*
 * Sluice SDK: the stage ABI. A stage is a stateless function called on a burst of
 * events. Built-in stages and plugins export the same const descriptor
 * (struct sl_stage_desc); the runtime checks ABI major, struct size and the descriptor's
 * fields before it calls anything. A stage never links against the runtime: everything it
 * needs from the host comes through struct sl_host and the inline helpers below.
 *
 * Threading: init and fini run on the control thread. process runs on worker lcores,
 * possibly on several replicas at once, with a const configuration; anything a stage must
 * remember between calls lives in the runtime-owned per-replica state (struct
 * sl_state_ops), which the runtime merges across replicas at window close.
 */
#ifndef SLUICE_STAGE_H
#define SLUICE_STAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <rte_mbuf.h>

#include <sluice/event.h>
#include <sluice/record.h>

/* Major 2: SL_BURST_MAX went from 64 to 128, which changes struct sl_emit (docs/plugins.md,
 * Versioning). The minors kept their numbers, so the minor gates read as under major 1. */
#define SL_ABI_MAJOR 2
#define SL_ABI_MINOR 3

/** Most events one process call receives. */
#define SL_BURST_MAX 128
/** Most events one process call may emit on one output. */
#define SL_EMIT_CAP (2 * SL_BURST_MAX)
/** Most named outputs of a stage. */
#define SL_PORT_MAX 8
/** Most declared counters of a stage. */
#define SL_COUNTER_MAX 16

/** Types of declared parameters; the host checks them before init. */
enum sl_param_type {
	SL_PARAM_STR = 1, /**< any scalar, as written */
	SL_PARAM_INT,	  /**< integer (decimal, 0x hex, with optional k/M/G suffix) */
	SL_PARAM_BOOL,	  /**< true/false */
	SL_PARAM_LIST,	  /**< sequence of scalars, or one scalar taken as a list of one */
	/** (ABI 1.2) a mapping of names to scalars, in file order: sl_arg.list holds
	 *  name, value, name, value, ... and n_list is twice the number of entries */
	SL_PARAM_MAP,
};

/** One declared parameter. A descriptor's table ends with a zeroed entry. */
struct sl_param_desc {
	const char *name;
	enum sl_param_type type;
	bool required;
	const char *def; /**< default as text, or NULL for none */
	const char *help;
};

/** One parameter as configured (or defaulted), typed per its declaration. */
struct sl_arg {
	const char *key;
	enum sl_param_type type;
	const char *str;	 /**< the text as written (every type) */
	int64_t i;		 /**< SL_PARAM_INT */
	bool b;			 /**< SL_PARAM_BOOL */
	const char *const *list; /**< SL_PARAM_LIST items */
	uint32_t n_list;
	uint32_t line, column; /**< where the value is in the pipeline file; 0 = default */
};

/** All parameters of one configured stage. */
struct sl_args {
	const char *file; /**< pipeline file name, for messages */
	const char *name; /**< the stage's name in the pipeline */
	uint32_t n;
	const struct sl_arg *v;
};

/** Find a parameter by name (declared parameters are always present). */
static inline const struct sl_arg *sl_args_get(const struct sl_args *a, const char *key)
{
	for (uint32_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i].key, key) == 0)
			return &a->v[i];
	return NULL;
}

/** Parse a window: "all" (ns = 0: one window until the input ends) or a duration with
 *  unit ns, us, ms, s, m or h ("1s", "250ms"). Returns 0, or -1 when malformed. */
static inline int sl_window_parse(const char *s, uint64_t *ns)
{
	static const struct {
		const char *unit;
		uint64_t ns;
	} units[] = {
		{ "ns", 1 },
		{ "us", 1000 },
		{ "ms", 1000000 },
		{ "s", 1000000000ull },
		{ "m", 60000000000ull },
		{ "h", 3600000000000ull },
	};
	uint64_t v = 0;
	const char *p = s;

	if (strcmp(s, "all") == 0) {
		*ns = 0;
		return 0;
	}
	if (*p < '0' || *p > '9')
		return -1;
	while (*p >= '0' && *p <= '9') {
		if (v > UINT64_MAX / 10 - 9)
			return -1;
		v = v * 10 + (uint64_t)(*p++ - '0');
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(p, units[i].unit) == 0) {
			if (v == 0 || v > UINT64_MAX / units[i].ns)
				return -1;
			*ns = v * units[i].ns;
			return 0;
		}
	}
	return -1;
}

/** An init error: the host prints file:line:column of key (column + offset). */
struct sl_error {
	const char *key; /**< parameter at fault, or NULL for the stage as a whole */
	uint32_t offset; /**< byte offset inside the parameter's value */
	char msg[240];
	/** (ABI 1.2; check host->abi_minor) 1 + the index of the SL_PARAM_MAP entry at
	 *  fault: the host reports the position of that entry's value, offset inside it;
	 *  0 = the parameter's value as a whole */
	uint32_t item;
};

/** Why an event left a stage without being emitted. */
enum sl_drop_reason {
	SL_DROP_FILTERED = 0, /**< a filter rejected it */
	SL_DROP_CONSUMED,     /**< folded into aggregate state */
	SL_DROP_INVALID,      /**< unusable input with no errors output connected */
	SL_DROP_UNROUTED,     /**< emitted on an output nothing reads */
	SL_DROP_RING_FULL,    /**< drop_newest edge was full */
	SL_DROP_OVERFLOW,     /**< emitted more than SL_EMIT_CAP on one output */
	SL_DROP_NOMBUF,	      /**< no mbuf to copy into */
	SL_DROP_LOST, /**< neither emitted nor dropped by the stage (its bug): counted by the
		       *   runtime, which cannot free what it cannot find; not for sl_drop */
	SL_DROP_REASON_MAX,
};

/*
 * (ABI 2.3) Burst facts: what the producer of a burst vouches for every one of its events,
 * so that a consumer can leave out its own per-event checks (docs/architecture.md, Burst
 * facts). Set by sources and by stages on their outputs, carried along fused edges only
 * (a burst taken from a ring has none). A stage that sets a fact it cannot vouch for
 * breaks the stages after it, as a stage that lies about an event's kind would.
 */
/** Every event is a packet event (its metadata's kind is SL_EVENT_PACKET). */
#define SL_FACT_PACKETS 0x1
/** Every event's mbuf has a reference count of 1: the consumer may write it. */
#define SL_FACT_UNSHARED 0x2
/** Every event carries a pkt_parse result of its present bytes, as pkt_parse stored it:
 *  packet_type with an L2 type, l2_len at least 14, l2_len + l3_len + l4_len within
 *  data_len. */
#define SL_FACT_PARSED 0x4

/** A burst of events handed to process. The stage owns them until it emits or drops. */
struct sl_burst {
	struct rte_mbuf **ev;
	uint16_t n;
	/** (ABI 2.3; read only when host->abi_minor >= 3) SL_FACT_* bits that hold for all
	 *  n events; 0 when nothing is known. */
	uint16_t facts;
};

/** Where process puts events: per output, plus a drop list. Filled by the inline helpers. */
struct sl_emit {
	uint16_t n_ports;
	uint16_t n[SL_PORT_MAX];
	struct rte_mbuf *port[SL_PORT_MAX][SL_EMIT_CAP];
	uint16_t n_drop;
	struct rte_mbuf *drop[SL_PORT_MAX * SL_EMIT_CAP + SL_BURST_MAX];
	uint8_t drop_reason[SL_PORT_MAX * SL_EMIT_CAP + SL_BURST_MAX];
	/** (ABI 2.3; write only when host->abi_minor >= 3) facts[p]: SL_FACT_* bits that hold
	 *  for every event this call emitted on output p. Zeroed by the host before each
	 *  call; a stage sets what it can vouch for (a filter may pass its input's on). */
	uint16_t facts[SL_PORT_MAX];
};

/** Hand an event back to the runtime as dropped, for a reason. */
static inline void sl_drop(struct sl_emit *o, struct rte_mbuf *ev, enum sl_drop_reason why)
{
	/* The drop list holds every event a call could own; overflow is impossible. */
	o->drop_reason[o->n_drop] = (uint8_t)why;
	o->drop[o->n_drop++] = ev;
}

/** Emit an event on output port (0 = the default output). */
static inline void sl_emit(struct sl_emit *o, uint16_t port, struct rte_mbuf *ev)
{
	if (port >= o->n_ports || o->n[port] >= SL_EMIT_CAP) {
		sl_drop(o, ev, SL_DROP_OVERFLOW);
		return;
	}
	o->port[port][o->n[port]++] = ev;
}

struct sl_ctx;

/** What the host gives every stage. */
struct sl_host {
	uint32_t abi_major, abi_minor, size;
	/** printf-style log line tagged with the stage name; level as syslog (3 err .. 7 debug). */
	void (*log)(const struct sl_ctx *ctx, int level, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));
	/** A fresh empty event from the runtime's pool, metadata zeroed; NULL when empty. */
	struct rte_mbuf *(*event_alloc)(struct sl_ctx *ctx);
	/** Return an event this stage may modify: ev itself when unshared, else a private copy
	 *  (ev's reference is released). NULL when no mbuf was free (ev is released too). */
	struct rte_mbuf *(*event_unshare)(struct sl_ctx *ctx, struct rte_mbuf *ev);
};

/** Per-replica context for process (read-only for the stage except counters/state). */
struct sl_ctx {
	const struct sl_host *host;
	int meta_offset;  /**< dynfield offset for sl_event_meta */
	uint16_t replica; /**< replica index of this stage */
	uint16_t lcore;
	uint64_t now_tsc; /**< rte_rdtsc() at the start of this burst */
	uint64_t tsc_hz;
	void *state;	    /**< this replica's mergeable state, or NULL */
	uint64_t *counters; /**< this replica's slots for desc->counters */
	const char *name;   /**< the stage's name in the pipeline */
	void *host_priv;    /**< runtime use only */
	/** ABI 1.1: bit i is set when a consumer downstream may read desc->writes[i]; all
	 *  ones when the stage declares no writes or the runtime cannot tell. A stage may skip
	 *  writing a field whose bit is clear (projection, docs/architecture.md), as long as
	 *  its events keep their raw bytes. */
	uint64_t fields_mask;
};

static inline struct sl_meta *sl_ctx_meta(const struct sl_ctx *ctx, struct rte_mbuf *ev)
{
	return sl_event_meta(ctx->meta_offset, ev);
}

/** The record of a record event (len 0 when the event has none). */
static inline struct sl_rec sl_event_record(const struct sl_ctx *ctx, struct rte_mbuf *ev)
{
	const struct sl_meta *m = sl_ctx_meta(ctx, ev);
	struct sl_rec r = { NULL, 0 };

	if (m->kind == SL_EVENT_RECORD && m->rec_off <= ev->data_len) {
		r.p = rte_pktmbuf_mtod_offset(ev, const uint8_t *, m->rec_off);
		r.len = ev->data_len - m->rec_off;
	}
	return r;
}

/**
 * Emit m, a fresh event (host->event_alloc) whose data starts with a record of len bytes
 * (sl_rec_end's result), as a record event on port; when len is 0 (the record did not
 * fit) drop it as invalid instead and return false. For stages that make results.
 */
static inline bool sl_emit_new_record(const struct sl_ctx *ctx, struct sl_emit *out, uint16_t port,
				      struct rte_mbuf *m, uint32_t len)
{
	struct sl_meta *meta;

	if (len == 0) {
		sl_drop(out, m, SL_DROP_INVALID);
		return false;
	}
	m->data_len = (uint16_t)len;
	m->pkt_len = len;
	meta = sl_ctx_meta(ctx, m);
	meta->kind = SL_EVENT_RECORD;
	meta->rec_off = 0;
	meta->raw_len = 0;
	meta->ingest_tsc = ctx->now_tsc;
	sl_emit(out, port, m);
	return true;
}

/** The raw bytes in front of ev's record: a line event's whole data when it has no
 *  raw_len yet, never more than its data. */
static inline uint32_t sl_event_raw_bytes(const struct sl_ctx *ctx, struct rte_mbuf *ev)
{
	const struct sl_meta *m = sl_ctx_meta(ctx, ev);
	uint32_t raw = m->raw_len < ev->data_len ? m->raw_len : ev->data_len;

	return m->kind == SL_EVENT_LINE && raw == 0 ? ev->data_len : raw;
}

/**
 * Begin the error record of an event a stage fails (for its `failed` output): ev is made
 * private (host->event_unshare) and *w begun with {error: reason, stage: stage}; put more
 * fields into *w, then finish with sl_fail_record_end, which adds the event's own record,
 * when it has one, as the field `event` (so a dead letter keeps what it held; a record
 * without raw bytes would otherwise leave nothing). The error record goes behind the raw
 * bytes; while it is written it lies behind the event's record. Returns the event to go
 * on, or NULL when no private copy could be made (ev was released).
 */
static inline struct rte_mbuf *sl_fail_record_begin(struct sl_ctx *ctx, struct rte_mbuf *ev,
						    const char *reason, const char *stage,
						    struct sl_rec_writer *w)
{
	const struct sl_meta *m;
	uint32_t at;

	ev = ctx->host->event_unshare(ctx, ev);
	if (!ev)
		return NULL;
	m = sl_ctx_meta(ctx, ev);
	at = sl_event_raw_bytes(ctx, ev);
	if (m->kind == SL_EVENT_RECORD && m->rec_off >= at && m->rec_off < ev->data_len)
		at = ev->data_len; /* behind the record, which sl_fail_record_end copies */
	sl_rec_begin(w, rte_pktmbuf_mtod_offset(ev, uint8_t *, at),
		     (uint32_t)(rte_pktmbuf_tailroom(ev) + ev->data_len - at));
	sl_rec_put_str(w, "error", reason, strlen(reason));
	sl_rec_put_str(w, "stage", stage, strlen(stage));
	return ev;
}

/** Finish sl_fail_record_begin's record: ev becomes a record event holding its raw bytes
 *  and the error record (with its own record as `event`), or stays as it was when that
 *  did not fit. */
static inline void sl_fail_record_end(const struct sl_ctx *ctx, struct rte_mbuf *ev,
				      struct sl_rec_writer *w)
{
	uint32_t raw = sl_event_raw_bytes(ctx, ev), len;
	struct sl_meta *m = sl_ctx_meta(ctx, ev);
	uint8_t *base = rte_pktmbuf_mtod(ev, uint8_t *);

	if (w->p != base + raw) /* behind the event's record: copy it in, then move down */
		sl_rec_put_raw(w, "event", base + m->rec_off,
			       (uint32_t)(w->p - (base + m->rec_off)));
	len = sl_rec_end(w);
	if (len == 0)
		return;
	if (w->p != base + raw)
		memmove(base + raw, w->p, len);
	ev->data_len = (uint16_t)(raw + len);
	ev->pkt_len = ev->data_len;
	m->kind = SL_EVENT_RECORD;
	m->raw_len = (uint16_t)raw;
	m->rec_off = (uint16_t)raw;
}

/** Mergeable per-replica state: how a stateless stage aggregates. All optional but create. */
struct sl_state_ops {
	/** Allocate one replica's empty state (control thread). NULL on failure. */
	void *(*create)(const void *conf);
	/** Fold src into dst (both closed for this window); src is reset afterwards. */
	void (*merge)(const void *conf, void *dst, const void *src);
	/** Emit results of a closed window: up to SL_EMIT_CAP events per call, resuming at
	 *  *cursor (0 first). Returns true while more remain. New events come from
	 *  ctx->host->event_alloc. */
	bool (*emit)(const void *conf, void *state, uint64_t *cursor, struct sl_ctx *ctx,
		     struct sl_emit *out);
	/** Empty the state for the next window. */
	void (*reset)(const void *conf, void *state);
	void (*destroy)(const void *conf, void *state);
};

/** Stage flags. */
#define SL_STAGE_F_WINDOWED 0x1 /**< has a `window` parameter driving state emission */
/** (ABI 1.1) Emits only its input events (filtered, routed, changed), never new ones: what
 *  its consumers read must reach it, so their reads count as its own for projection. */
#define SL_STAGE_F_FORWARDS 0x2
#define SL_STAGE_F_ALL	    (SL_STAGE_F_WINDOWED | SL_STAGE_F_FORWARDS)
/** Most fields in sl_stage_desc.writes. */
#define SL_WRITES_MAX 64

/** Create the immutable configuration from parameters. Return 0 or -errno with err set. */
typedef int (*sl_stage_init_fn)(const struct sl_host *host, const struct sl_args *args, void **conf,
				struct sl_error *err);
/** Process one burst. Every input event must be emitted or dropped exactly once. */
typedef void (*sl_stage_process_fn)(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
				    struct sl_emit *out);
typedef void (*sl_stage_fini_fn)(void *conf);

/** The descriptor every stage exports. */
struct sl_stage_desc {
	uint32_t abi_major, abi_minor, size; /**< SL_ABI_MAJOR, SL_ABI_MINOR, sizeof */
	const char *name;		     /**< lower_snake_case, unique */
	const char *version;
	const char *summary;
	const struct sl_param_desc *params; /**< ends with { NULL } */
	const char *const *outputs;	    /**< NULL-terminated; NULL means { "default" } */
	const char *const *counters;	    /**< NULL-terminated names of per-stage counters */
	uint32_t flags;
	sl_stage_init_fn init;
	sl_stage_process_fn process;
	sl_stage_fini_fn fini;
	const struct sl_state_ops *state; /**< NULL for pure stages */
	/* ABI 1.1 (zero in older descriptors) */
	/** Optional: the top-level record fields process reads with this conf,
	 *  NULL-terminated; a NULL hook or a NULL result means any field. Control thread. */
	const char *const *(*reads)(const void *conf);
	/** Optional: the record fields process writes, NULL-terminated, at most SL_WRITES_MAX;
	 *  indexes the bits of sl_ctx.fields_mask. */
	const char *const *writes;
	/* ABI 1.2 */
	/** Optional: the name of a SL_PARAM_MAP parameter whose entries' names are more
	 *  outputs, after those of `outputs` (route: one output per route). */
	const char *outputs_from;
};

#define SL_STAGE_DESC_INIT \
	.abi_major = SL_ABI_MAJOR, .abi_minor = SL_ABI_MINOR, .size = sizeof(struct sl_stage_desc)

/*
 * Plugins: a shared object exports
 *   sluice_plugin_abi    - uint32_t[2] { SL_ABI_MAJOR, SL_ABI_MINOR }, read from the ELF file
 *                          before the object is opened, so a wrong ABI runs none of its code;
 *   sluice_plugin_stages - NULL-terminated array of descriptor pointers.
 * Use SL_PLUGIN(&desc_a, &desc_b) once in the plugin.
 */
#define SL_PLUGIN_ABI_SYMBOL	"sluice_plugin_abi"
#define SL_PLUGIN_STAGES_SYMBOL "sluice_plugin_stages"
#define SL_PLUGIN(...)                                                        \
	__attribute__((visibility("default"), used))                          \
	const uint32_t sluice_plugin_abi[2] = { SL_ABI_MAJOR, SL_ABI_MINOR }; \
	__attribute__((visibility("default"), used))                          \
	const struct sl_stage_desc *const sluice_plugin_stages[] = { __VA_ARGS__, NULL }

#endif
