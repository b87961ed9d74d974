/*
 * aggregate: groups record events by one or more fields (`group_by`) and computes named
 * aggregations per group (count, sum, min, max, avg, distinct, quantile, top_k) over a
 * window; when the runtime closes the window it emits one record per group, e.g.
 * {"status":200,"requests":N,"clients":M,"p99_bytes":X,"top_paths":[{"path":"/","count":C}]}.
 * The stage keeps no state of its own: each replica folds events into its own table
 * (struct agg_state, created by the runtime through the state ops below), the runtime
 * merges the replicas' tables at window close (agg_state_merge), calls emit on the merged
 * one, then reset. Every aggregation merges exactly except top_k (bounded error) and a
 * floating-point sum (rounding), so any number of replicas gives the same answer.
 *
 * A table is an open-addressing hash table (linear probing, at most half full) keyed by
 * the group's field values, each in its canonical msgpack encoding (shortest integers and
 * string headers), concatenated; a key arena; and one fixed-size block per group holding
 * every aggregation's partial (sketch.h for distinct, quantile and top_k), with the pages of
 * the quantiles' DDSketch bins in an area of their own. All of it is allocated when the
 * state is created; process, merge and emit never allocate (the blocks and pages come from
 * calloc, and memory of groups or pages never used is never touched). Built-in stage;
 * uses only the SDK. process, merge, emit and reset run on whichever worker the runtime
 * chooses, one at a time per state.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include <sluice/event.h>
#include <sluice/record.h>
#include <sluice/stage.h>

#include "event_time.h"
#include "sketch.h"
#include "spec.h"

enum {
	AGG_CNT_GROUPED = 0,
	AGG_CNT_MISSING_KEY,
	AGG_CNT_MISSING_FIELD,
	AGG_CNT_NOT_NUMBER,
	AGG_CNT_NEGATIVE,
	AGG_CNT_VALUE_TRUNCATED,
	AGG_CNT_KEY_TOO_LONG,
	AGG_CNT_GROUPS_OVERFLOW,
	AGG_CNT_EMIT_TOO_LARGE,
	AGG_CNT_BAD_TIME,
	AGG_CNT_LATE,
	AGG_CNT_LATE_AT_CLOSE,
};

static const char *const agg_counters[] = {
	"grouped",
	"missing_key",
	"missing_field",
	"not_number",
	"negative",
	"value_truncated",
	"key_too_long",
	"groups_overflow",
	"emit_too_large",
	"bad_time",
	"late",
	"late_at_close",
	NULL,
};

/* Output 1 carries late events of time windows (time_window: { late: route }). */
static const char *const agg_outputs[] = { "default", "late", NULL };
#define AGG_PORT_LATE 1

#define AGG_MAX_KEYS	8
#define AGG_MAX_AGGS	32
#define AGG_MAX_FIELDS	(AGG_MAX_KEYS + AGG_MAX_AGGS)
#define AGG_MAX_GROUPS	(1u << 20)
#define AGG_KEY_MAX	512 /* bytes of one group's encoded key */
#define AGG_ARENA_EACH	64  /* arena bytes per group: the average key size it is sized for */
#define AGG_STATE_LIMIT (4ull << 30)
#define AGG_HASH_SEED	0x5eed5eedull
#define AGG_HUGE_BYTES	(8u << 20) /* group blocks from this size: huge pages */

static const struct sl_param_desc agg_params[] = {
	{ .name = "group_by",
	  .type = SL_PARAM_LIST,
	  .help = "record fields whose values make a group (none: one group)" },
	{ .name = "window",
	  .type = SL_PARAM_STR,
	  .def = "all",
	  .help = "\"all\" (one result when the input ends) or a duration like 10s or 250ms" },
	{ .name = "max_groups",
	  .type = SL_PARAM_INT,
	  .def = "1024",
	  .help = "most groups per window; events of further groups are counted as overflow" },
	{ .name = "event_time",
	  .type = SL_PARAM_STR,
	  .help = "record field with the event's time: buckets of event_window per group" },
	{ .name = "event_window",
	  .type = SL_PARAM_STR,
	  .help = "width of the event-time buckets, a duration like 1m or 24h" },
	{ .name = "event_time_unit",
	  .type = SL_PARAM_STR,
	  .def = "ns",
	  .help = "unit of numeric event times since the epoch: s, ms, us or ns" },
	{ .name = "time_window",
	  .type = SL_PARAM_MAP,
	  .help = "tumbling or sliding windows on event or processing time, closed by a "
		  "watermark: { type: sliding, size: 60s, slide: 10s, time_field: ts, "
		  "allowed_lateness: 5s, late: route }" },
	{ .name = "aggregations",
	  .type = SL_PARAM_LIST,
	  .help = "items like \"{ name: p99, fn: quantile, field: bytes, q: 0.99 }\" "
		  "(default: one count named count)" },
	{ NULL },
};

/* One configured aggregation. */
struct agg_item {
	struct sl_agg_spec spec;
	uint32_t field; /* index into conf->fields; UINT32_MAX for a count without field */
	uint32_t off;	/* byte offset of its partial in a group block */
	uint32_t memo;	/* quantile: its DDSketch key memo in a state (agg_dds_key) */
	struct sl_dds_params dds;
};

/* DDSketch keys of recent values, direct-mapped by the value's bits: computing one costs
 * ~90 instructions, and a quantile's values repeat (times and sizes have few digits). */
#define AGG_MEMO_BITS 10
struct agg_memo {
	uint64_t bits; /* the value's bits; 0 (+0.0, never keyed): empty */
	int32_t key;
};

struct agg_conf {
	uint32_t n_keys, n_aggs, n_fields;
	char fields[AGG_MAX_FIELDS][SL_AGG_NAME_MAX]; /* the first n_keys are group_by */
	struct sl_rec_key field_key[AGG_MAX_FIELDS];  /* prepared lookups of fields[] */
	const char *reads[AGG_MAX_FIELDS + 1];	      /* fields[], NULL-terminated: projection */
	struct agg_item aggs[AGG_MAX_AGGS];
	uint64_t window_ns;
	uint64_t event_window_ns; /* 0: no event-time buckets */
	int64_t event_unit_ns;	  /* nanoseconds per unit of a numeric event time */
	uint32_t time_field;	  /* index into fields[] of event_time */
	uint32_t max_groups;
	uint32_t capacity; /* hash slots: power of two, at least 2 * max_groups */
	uint32_t arena_bytes;
	uint32_t group_bytes;
	uint32_t dds_pages;    /* DDSketch pages a group may take: its quantiles' n_pages */
	uint32_t topk_cap_max; /* sizes the merge scratch */
	/* time_window (tw_size_ns 0: none): panes of tw_slide_ns, windows of tw_size_ns */
	uint64_t tw_size_ns, tw_slide_ns;
	int64_t tw_lateness_ns;
	bool tw_proc;	    /* processing time: no time_field */
	bool tw_late_drop;  /* late: drop (else routed to output late) */
	int64_t tw_base_ns; /* processing time: CLOCK_REALTIME at tw_base_tsc */
	uint64_t tw_base_tsc;
	/* agg_fast: one group_by field, no buckets or time windows, names under 16 bytes */
	bool fast;
	bool fast_key_read;    /* an aggregation reads the group_by field's value */
	uint8_t mp_size[256];  /* size of a scalar by its first byte; 0: other (str8 too) */
	uint8_t mp_canon[256]; /* 1: the form is canonical; 2: it may be (agg_raw_canonical) */
	uint32_t n_memo;       /* quantile aggregations: a DDSketch key memo each */
	uint32_t fast_qa; /* agg_fast_flush: the first quantile aggregation (UINT32_MAX: none) */
	struct agg_fkey {
		uint64_t w[2], m[2]; /* fixstr header and name, little-endian; its mask */
	} fkey[AGG_MAX_FIELDS];
};

/* Partial of sum, min, max and avg. Integers sum exactly while they fit in int64. */
struct agg_num {
	uint64_t n;	  /* numbers seen */
	uint64_t n_float; /* of which floats (or integers above INT64_MAX) */
	int64_t isum;
	uint64_t overflowed; /* isum left int64: it was moved into fsum */
	double fsum;
	int64_t imin, imax; /* over integers, when n > n_float */
	double fmin, fmax;  /* over floats, when n_float > 0 */
};

/* Partial of quantile: the sketch, after a count of non-integer values. */
struct agg_quant {
	uint64_t n_float;
	struct sl_dds dds;
};

struct agg_slot {
	uint32_t hash;
	uint32_t group1; /* group index + 1; 0: empty */
};

struct agg_gkey {
	uint32_t off, len; /* in the arena */
	uint32_t slot;
};

struct agg_state {
	uint32_t mask;
	uint32_t n_groups;
	uint32_t arena_used;
	uint64_t n_lost; /* events of groups merge could not place; reported by emit */
	struct agg_slot *slots;
	struct agg_gkey *gkeys;
	uint32_t *order; /* group indexes, sorted by emit */
	uint8_t *arena;
	uint8_t *groups; /* max_groups blocks of group_bytes; each starts with its event count */
	struct sl_dds_store dds; /* the pages of the groups' DDSketches (quantile) */
	void *scratch;		 /* top_k merge */
	struct agg_memo *memo;	 /* n_memo tables of 1 << AGG_MEMO_BITS; kept by reset */
	/* agg_process_fast: the last group it found (last_blk NULL: none), its key in the arena */
	uint8_t *last_blk;
	const uint8_t *last_key;
	uint32_t last_len;

	/* time windows: kept by reset (they describe the replica's stream, not a window) */
	int64_t max_t;	   /* latest event time folded here (INT64_MIN: none) */
	int64_t closed;	   /* windows ending at or before it were emitted (INT64_MIN: none) */
	int64_t close_min; /* merges: the least max_t merged in (INT64_MAX: none) */
	/* time windows, emit's plan and progress (struct agg_tw_ent per group) */
	struct agg_tw_ent *tw;
	uint32_t *tw_gstart; /* in order: where each group's panes start; then the end */
	uint32_t tw_n_groups;
	uint8_t *tw_block;	    /* one group block: a window's panes merged */
	struct sl_dds_store tw_dds; /* tw_block's DDSketch pages */
	int64_t tw_closed_new, tw_e;
	uint32_t tw_g;
	bool tw_final;
};

/* A time-window group entry's key is [carried][pane start][group_by values...]: the
 * panes a close still needs are carried into the closing replica's next state under
 * carried = true, apart from the events replicas folded since (carried = false). */
struct agg_tw_ent {
	int64_t pane;
	uint32_t rest_off; /* the group_by values: offset, length in the arena */
	uint16_t rest_len;
	uint8_t carried;
};

/* A value in canonical form: head (a re-encoded integer, float or string header) and body
 * (string bytes, or the raw encoding of any other type). */
struct agg_canon {
	uint8_t head[9];
	uint32_t head_len;
	const uint8_t *body;
	uint32_t body_len;
};

__attribute__((format(printf, 3, 4))) static int agg_fail(struct sl_error *err, const char *key,
							  const char *fmt, ...)
{
	va_list ap;

	err->key = key;
	err->offset = 0;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static uint32_t agg_round8(size_t n)
{
	return (uint32_t)((n + 7) & ~(size_t)7);
}

/* Index of a field name, added when new; -1 when the table is full. */
static int agg_field(struct agg_conf *c, const char *name)
{
	for (uint32_t i = 0; i < c->n_fields; i++)
		if (strcmp(c->fields[i], name) == 0)
			return (int)i;
	if (c->n_fields == AGG_MAX_FIELDS)
		return -1;
	snprintf(c->fields[c->n_fields], SL_AGG_NAME_MAX, "%s", name);
	sl_rec_key_init(&c->field_key[c->n_fields], c->fields[c->n_fields], strlen(name));
	c->reads[c->n_fields] = c->fields[c->n_fields];
	return (int)c->n_fields++;
}

static uint32_t agg_block_size(const struct agg_item *a)
{
	switch (a->spec.fn) {
	case SL_AGG_COUNT:
		return 8;
	case SL_AGG_DISTINCT:
		return agg_round8(sl_hll_size(a->spec.p));
	case SL_AGG_QUANTILE:
		return agg_round8(sizeof(struct agg_quant) + sl_dds_size(&a->dds) -
				  sizeof(struct sl_dds));
	case SL_AGG_TOP_K:
		return agg_round8(sl_topk_size(a->spec.capacity));
	default:
		return sizeof(struct agg_num);
	}
}

static int agg_init_keys(struct agg_conf *c, const struct sl_arg *a, struct sl_error *err)
{
	uint32_t n = a ? a->n_list : 0;

	if (n > AGG_MAX_KEYS)
		return agg_fail(err, "group_by", "at most %d fields, got %u", AGG_MAX_KEYS, n);
	for (uint32_t i = 0; i < n; i++) {
		const char *k = a->list[i];
		if (k[0] == '\0' || strlen(k) >= SL_AGG_NAME_MAX)
			return agg_fail(err, "group_by", "field %u: expected 1 to %d bytes", i + 1,
					SL_AGG_NAME_MAX - 1);
		for (uint32_t j = 0; j < i; j++)
			if (strcmp(c->fields[j], k) == 0)
				return agg_fail(err, "group_by", "field '%s' given twice", k);
		agg_field(c, k);
	}
	c->n_keys = n;
	return 0;
}

static int agg_init_aggs(struct agg_conf *c, const struct sl_arg *a, struct sl_error *err)
{
	static const char *const def = "{ name: count, fn: count }";
	uint32_t n = a && a->n_list ? a->n_list : 1;
	char why[200];

	if (n > AGG_MAX_AGGS)
		return agg_fail(err, "aggregations", "at most %d, got %u", AGG_MAX_AGGS, n);
	for (uint32_t i = 0; i < n; i++) {
		struct agg_item *it = &c->aggs[i];
		const char *text = a && a->n_list ? a->list[i] : def;
		uint32_t at;
		int f;

		if (sl_agg_spec_parse(text, &it->spec, why, sizeof(why), &at) < 0)
			return agg_fail(err, "aggregations", "item %u, at byte %u: %s", i + 1, at,
					why);
		if ((c->event_window_ns || c->tw_size_ns) &&
		    strcmp(it->spec.name, "window_start") == 0)
			return agg_fail(err, "aggregations",
					"item %u: name 'window_start' is the window's start",
					i + 1);
		if (c->tw_size_ns && strcmp(it->spec.name, "window_end") == 0)
			return agg_fail(err, "aggregations",
					"item %u: name 'window_end' is the window's end", i + 1);
		for (uint32_t j = 0; j < c->n_keys; j++)
			if (strcmp(c->fields[j], it->spec.name) == 0)
				return agg_fail(err, "aggregations",
						"item %u: name '%s' is also a group_by field",
						i + 1, it->spec.name);
		for (uint32_t j = 0; j < i; j++)
			if (strcmp(c->aggs[j].spec.name, it->spec.name) == 0)
				return agg_fail(err, "aggregations",
						"item %u: name '%s' used twice", i + 1,
						it->spec.name);
		it->field = UINT32_MAX;
		if (it->spec.field[0]) {
			f = agg_field(c, it->spec.field);
			if (f < 0)
				return agg_fail(err, "aggregations", "too many distinct fields");
			it->field = (uint32_t)f;
		}
		if (it->spec.fn == SL_AGG_QUANTILE) {
			sl_dds_params_init(&it->dds, it->spec.error);
			it->memo = c->n_memo++;
			c->dds_pages += it->dds.n_pages;
		}
		if (it->spec.fn == SL_AGG_TOP_K && it->spec.capacity > c->topk_cap_max)
			c->topk_cap_max = it->spec.capacity;
		it->off = c->group_bytes;
		c->group_bytes += agg_block_size(it);
	}
	c->n_aggs = n;
	return 0;
}

static int agg_init_event_time(struct agg_conf *c, const struct sl_args *args, struct sl_error *err)
{
	static const struct {
		const char *name;
		int64_t ns;
	} units[] = { { "s", 1000000000 }, { "ms", 1000000 }, { "us", 1000 }, { "ns", 1 } };
	const struct sl_arg *field = sl_args_get(args, "event_time");
	const struct sl_arg *width = sl_args_get(args, "event_window");
	const struct sl_arg *unit = sl_args_get(args, "event_time_unit");
	bool has_field = field && field->str, has_width = width && width->str;

	c->time_field = UINT32_MAX;
	if (!has_field && !has_width)
		return 0;
	if (!has_field || !has_width)
		return agg_fail(err, has_field ? "event_time" : "event_window",
				"event_time and event_window go together");
	if (field->str[0] == '\0' || strlen(field->str) >= SL_AGG_NAME_MAX)
		return agg_fail(err, "event_time", "expected a field name of 1 to %d bytes",
				SL_AGG_NAME_MAX - 1);
	if (sl_window_parse(width->str, &c->event_window_ns) < 0 || c->event_window_ns == 0 ||
	    c->event_window_ns > INT64_MAX)
		return agg_fail(err, "event_window", "bad width '%s': expected a duration like 1m",
				width->str);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (unit && unit->str && strcmp(unit->str, units[i].name) == 0)
			c->event_unit_ns = units[i].ns;
	if (!c->event_unit_ns)
		return agg_fail(err, "event_time_unit", "expected s, ms, us or ns");
	for (uint32_t j = 0; j < c->n_keys; j++)
		if (strcmp(c->fields[j], "window_start") == 0)
			return agg_fail(err, "group_by",
					"'window_start' is the event-time bucket's output field");
	c->time_field = (uint32_t)agg_field(c, field->str);
	return 0;
}

/* An error in entry i (0-based) of time_window, reported at its value. */
__attribute__((format(printf, 3, 4))) static int agg_tw_fail(struct sl_error *err, uint32_t i,
							     const char *fmt, ...)
{
	va_list ap;

	err->key = "time_window";
	err->offset = 0;
	err->item = i + 1;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* A duration of time_window; "0" is allowed where zero is. */
static bool agg_tw_duration(const char *s, bool zero_ok, uint64_t *ns)
{
	if (zero_ok && strcmp(s, "0") == 0) {
		*ns = 0;
		return true;
	}
	return strcmp(s, "all") != 0 && sl_window_parse(s, ns) == 0 && *ns > 0 &&
	       *ns <= INT64_MAX / 4;
}

enum { TW_TYPE = 0, TW_SIZE, TW_SLIDE, TW_FIELD, TW_UNIT, TW_LATENESS, TW_LATE, TW_N };

/* Most panes (slides) in a window: bounds the work of emitting one window. */
#define AGG_TW_PANES_MAX 1024

static int agg_init_time_window(struct agg_conf *c, const struct sl_args *args,
				struct sl_error *err)
{
	static const char *const keys[TW_N] = { "type",	      "size",	   "slide",
						"time_field", "time_unit", "allowed_lateness",
						"late" };
	static const struct {
		const char *name;
		int64_t ns;
	} units[] = { { "s", 1000000000 }, { "ms", 1000000 }, { "us", 1000 }, { "ns", 1 } };
	const struct sl_arg *a = sl_args_get(args, "time_window");
	const char *v[TW_N] = { 0 };
	uint32_t at[TW_N] = { 0 };
	uint64_t lateness = 0;
	bool sliding;

	if (!a || a->n_list < 2)
		return 0;
	for (uint32_t i = 0; i < a->n_list / 2; i++) {
		int k = -1;

		for (int j = 0; j < TW_N; j++)
			if (strcmp(a->list[2 * i], keys[j]) == 0)
				k = j;
		if (k < 0)
			return agg_tw_fail(err, i,
					   "unknown key '%s' (known: type, size, slide, "
					   "time_field, time_unit, allowed_lateness, late)",
					   a->list[2 * i]);
		v[k] = a->list[2 * i + 1];
		at[k] = i;
	}
	if (c->event_window_ns)
		return agg_fail(err, "time_window",
				"time_window and event_time/event_window do not go together");
	if (!v[TW_TYPE] || (strcmp(v[TW_TYPE], "tumbling") && strcmp(v[TW_TYPE], "sliding")))
		return v[TW_TYPE]
			       ? agg_tw_fail(err, at[TW_TYPE],
					     "type: expected tumbling or sliding, got '%s'",
					     v[TW_TYPE])
			       : agg_fail(err, "time_window", "needs 'type' (tumbling or sliding)");
	sliding = v[TW_TYPE][0] == 's';
	if (!v[TW_SIZE])
		return agg_fail(err, "time_window", "needs 'size', a duration like 60s");
	if (!agg_tw_duration(v[TW_SIZE], false, &c->tw_size_ns))
		return agg_tw_fail(err, at[TW_SIZE], "size: expected a duration like 60s, got '%s'",
				   v[TW_SIZE]);
	c->tw_slide_ns = c->tw_size_ns;
	if (sliding && !v[TW_SLIDE])
		return agg_fail(err, "time_window", "a sliding window needs 'slide' (e.g. 10s)");
	if (!sliding && v[TW_SLIDE])
		return agg_tw_fail(err, at[TW_SLIDE], "slide: only for type sliding");
	if (v[TW_SLIDE]) {
		if (!agg_tw_duration(v[TW_SLIDE], false, &c->tw_slide_ns))
			return agg_tw_fail(err, at[TW_SLIDE],
					   "slide: expected a duration like 10s, got '%s'",
					   v[TW_SLIDE]);
		if (c->tw_slide_ns > c->tw_size_ns || c->tw_size_ns % c->tw_slide_ns ||
		    c->tw_size_ns / c->tw_slide_ns > AGG_TW_PANES_MAX)
			return agg_tw_fail(err, at[TW_SLIDE],
					   "slide: must divide size, at most %d slides a window",
					   AGG_TW_PANES_MAX);
	}
	if (v[TW_LATENESS] && !agg_tw_duration(v[TW_LATENESS], true, &lateness))
		return agg_tw_fail(err, at[TW_LATENESS],
				   "allowed_lateness: expected 0 or a duration like 5s, got '%s'",
				   v[TW_LATENESS]);
	c->tw_lateness_ns = (int64_t)lateness;
	if (v[TW_LATE] && strcmp(v[TW_LATE], "route") && strcmp(v[TW_LATE], "drop"))
		return agg_tw_fail(err, at[TW_LATE], "late: expected route or drop, got '%s'",
				   v[TW_LATE]);
	c->tw_late_drop = v[TW_LATE] && strcmp(v[TW_LATE], "drop") == 0;
	c->tw_proc = !v[TW_FIELD];
	if (c->tw_proc && v[TW_UNIT])
		return agg_tw_fail(err, at[TW_UNIT], "time_unit: only with time_field");
	c->event_unit_ns = v[TW_UNIT] ? 0 : 1;
	for (size_t i = 0; v[TW_UNIT] && i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(v[TW_UNIT], units[i].name) == 0)
			c->event_unit_ns = units[i].ns;
	if (!c->event_unit_ns)
		return agg_tw_fail(err, at[TW_UNIT], "time_unit: expected s, ms, us or ns");
	for (uint32_t j = 0; j < c->n_keys; j++)
		if (strcmp(c->fields[j], "window_start") == 0 ||
		    strcmp(c->fields[j], "window_end") == 0)
			return agg_fail(err, "group_by", "'%s' is the time window's output field",
					c->fields[j]);
	if (!c->tw_proc) {
		if (v[TW_FIELD][0] == '\0' || strlen(v[TW_FIELD]) >= SL_AGG_NAME_MAX)
			return agg_tw_fail(err, at[TW_FIELD], "time_field: 1 to %d bytes",
					   SL_AGG_NAME_MAX - 1);
		c->time_field = (uint32_t)agg_field(c, v[TW_FIELD]);
	} else {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		c->tw_base_tsc = rte_rdtsc();
		c->tw_base_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	}
	return 0;
}

/* Whether agg_process_fast applies, and its keys: each name's fixstr (header and bytes) in
 * 16 bytes with a mask of the bytes that count. */
static void agg_init_fast(struct agg_conf *c)
{
	c->fast = c->n_keys == 1 && !c->event_window_ns && !c->tw_size_ns && c->n_fields < 64;
	for (uint32_t f = 0; c->fast && f < c->n_fields; f++) {
		uint8_t b[16] = { 0 }, m[16] = { 0 };
		size_t len = strlen(c->fields[f]);

		if (len > 15) {
			c->fast = false;
			break;
		}
		b[0] = (uint8_t)(0xa0 | len);
		memcpy(b + 1, c->fields[f], len);
		memset(m, 0xff, len + 1);
		memcpy(c->fkey[f].w, b, 16);
		memcpy(c->fkey[f].m, m, 16);
	}
	c->fast_qa = UINT32_MAX;
	for (uint32_t i = 0; i < c->n_aggs; i++) {
		if (c->aggs[i].field == 0)
			c->fast_key_read = true;
		if (c->aggs[i].spec.fn == SL_AGG_QUANTILE && c->aggs[i].field != UINT32_MAX &&
		    c->fast_qa == UINT32_MAX)
			c->fast_qa = i;
	}
	for (uint32_t b = 0; b < 256; b++) {
		uint8_t x = (uint8_t)b;

		if ((x & 0xe0) == 0xa0)
			c->mp_size[b] = (uint8_t)(1 + (x & 0x1f));
		else if (x != 0xd9)
			c->mp_size[b] = (uint8_t)sl_mp_scalar_size(&x, &x + 1);
		c->mp_canon[b] = x <= 0x7f || x >= 0xe0 || (x & 0xe0) == 0xa0 || x == 0xc2 ||
						 x == 0xc3 || x == 0xcb
					 ? 1
				 : x == 0xcc || x == 0xcd || x == 0xce || x == 0xd9 ? 2
										    : 0;
	}
}

static int agg_init(const struct sl_host *host, const struct sl_args *args, void **conf,
		    struct sl_error *err)
{
	const struct sl_arg *window = sl_args_get(args, "window");
	const struct sl_arg *max_groups = sl_args_get(args, "max_groups");
	struct agg_conf *c;
	uint32_t cap = 1;
	int rc;

	(void)host;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->group_bytes = sizeof(uint64_t); /* the group's event count */
	if (window && window->str && sl_window_parse(window->str, &c->window_ns) < 0) {
		rc = agg_fail(err, "window",
			      "bad window '%s': expected \"all\" or a duration like 10s, 250ms",
			      window->str);
		goto err_free;
	}
	c->max_groups = 1024;
	if (max_groups && max_groups->str) {
		if (max_groups->i < 1 || max_groups->i > AGG_MAX_GROUPS) {
			rc = agg_fail(err, "max_groups", "must be between 1 and %u",
				      AGG_MAX_GROUPS);
			goto err_free;
		}
		c->max_groups = (uint32_t)max_groups->i;
	}
	rc = agg_init_keys(c, sl_args_get(args, "group_by"), err);
	if (rc == 0)
		rc = agg_init_event_time(c, args, err);
	if (rc == 0)
		rc = agg_init_time_window(c, args, err);
	if (rc == 0)
		rc = agg_init_aggs(c, sl_args_get(args, "aggregations"), err);
	if (rc < 0)
		goto err_free;
	/* A group's bytes: its block and, at most, every page its DDSketches can take. */
	if ((uint64_t)c->max_groups * (c->group_bytes + sl_dds_store_bytes(c->dds_pages)) >
	    AGG_STATE_LIMIT) {
		rc = agg_fail(err, "max_groups",
			      "%u groups of %zu bytes exceed the %llu GiB a state may take",
			      c->max_groups, c->group_bytes + sl_dds_store_bytes(c->dds_pages),
			      (unsigned long long)(AGG_STATE_LIMIT >> 30));
		goto err_free;
	}
	while (cap < 2 * c->max_groups)
		cap <<= 1;
	c->capacity = cap;
	c->arena_bytes = c->max_groups * AGG_ARENA_EACH;
	agg_init_fast(c);
	*conf = c;
	return 0;

err_free:
	free(c);
	return rc;
}

static void agg_fini(void *conf)
{
	free(conf);
}

/* ---- values ---- */

struct agg_head_buf {
	uint8_t *p;
	uint32_t len;
};

static int agg_head_write(void *data, const char *buf, size_t len)
{
	struct agg_head_buf *b = data;

	/* Heads are at most 9 bytes: one integer, float or string header. */
	if (b->len + len > 9)
		return -1;
	memcpy(b->p + b->len, buf, len);
	b->len += (uint32_t)len;
	return 0;
}

/* n bytes of v big-endian at p. */
static inline void agg_be(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

/* An unsigned integer as msgpack-c's msgpack_pack_uint64 writes it (shortest form). */
static uint32_t agg_enc_uint(uint8_t *h, uint64_t u)
{
	if (u < 128) {
		h[0] = (uint8_t)u;
		return 1;
	}
	if (u < 256) {
		h[0] = 0xcc;
		h[1] = (uint8_t)u;
		return 2;
	}
	if (u < 65536) {
		h[0] = 0xcd;
		agg_be(h + 1, u, 2);
		return 3;
	}
	if (u < (1ull << 32)) {
		h[0] = 0xce;
		agg_be(h + 1, u, 4);
		return 5;
	}
	h[0] = 0xcf;
	agg_be(h + 1, u, 8);
	return 9;
}

/* A signed integer as msgpack_pack_int64 writes it: non-negative ones as unsigned. */
static uint32_t agg_enc_int(uint8_t *h, int64_t i)
{
	if (i >= 0)
		return agg_enc_uint(h, (uint64_t)i);
	if (i >= -32) {
		h[0] = (uint8_t)i;
		return 1;
	}
	if (i >= -128) {
		h[0] = 0xd0;
		h[1] = (uint8_t)i;
		return 2;
	}
	if (i >= -32768) {
		h[0] = 0xd1;
		agg_be(h + 1, (uint64_t)i, 2);
		return 3;
	}
	if (i >= INT32_MIN) {
		h[0] = 0xd2;
		agg_be(h + 1, (uint64_t)i, 4);
		return 5;
	}
	h[0] = 0xd3;
	agg_be(h + 1, (uint64_t)i, 8);
	return 9;
}

/*
 * The canonical form of a value: integers, floats and string headers written as
 * msgpack-c's packer writes them (byte for byte: agg_canon_test in aggregate_test.c), by
 * hand because the packer's write callback cost ~50 instructions a value (callgrind).
 */
static void agg_canon_of(const struct sl_val *v, struct agg_canon *k)
{
	uint64_t bits;
	uint32_t n;

	k->body = NULL;
	k->body_len = 0;
	switch (v->type) {
	case SL_VAL_INT:
		k->head_len = agg_enc_int(k->head, v->i);
		return;
	case SL_VAL_UINT:
		k->head_len = agg_enc_uint(k->head, v->u);
		return;
	case SL_VAL_FLOAT:
		memcpy(&bits, &v->f, 8);
		k->head[0] = 0xcb;
		agg_be(k->head + 1, bits, 8);
		k->head_len = 9;
		return;
	case SL_VAL_STR:
		n = v->s.len;
		if (n < 32) {
			k->head[0] = (uint8_t)(0xa0 | n);
			k->head_len = 1;
		} else if (n < 256) {
			k->head[0] = 0xd9;
			k->head[1] = (uint8_t)n;
			k->head_len = 2;
		} else if (n < 65536) {
			k->head[0] = 0xda;
			agg_be(k->head + 1, n, 2);
			k->head_len = 3;
		} else {
			k->head[0] = 0xdb;
			agg_be(k->head + 1, n, 4);
			k->head_len = 5;
		}
		k->body = (const uint8_t *)v->s.p;
		k->body_len = n;
		return;
	default:
		k->head_len = 0;
		k->body = v->raw;
		k->body_len = v->raw_len;
		return;
	}
}

static uint64_t agg_canon_hash(const struct agg_canon *k)
{
	return sl_sketch_hash(k->body, k->body_len,
			      sl_sketch_hash(k->head, k->head_len, AGG_HASH_SEED));
}

/* A number as a double (and whether it was a float); false for anything else. */
static bool agg_number(const struct sl_val *v, double *x, bool *is_float)
{
	*is_float = v->type != SL_VAL_INT;
	if (v->type == SL_VAL_INT)
		*x = (double)v->i;
	else if (v->type == SL_VAL_UINT)
		*x = (double)v->u;
	else if (v->type == SL_VAL_FLOAT && !isnan(v->f))
		*x = v->f;
	else
		return false;
	return true;
}

/* ---- partials ---- */

static void agg_num_int(struct agg_num *a, int64_t v)
{
	if (a->n == a->n_float) {
		a->imin = v;
		a->imax = v;
	} else {
		a->imin = v < a->imin ? v : a->imin;
		a->imax = v > a->imax ? v : a->imax;
	}
	a->n++;
	if (a->overflowed) {
		a->fsum += (double)v;
	} else if (__builtin_add_overflow(a->isum, v, &a->isum)) {
		a->fsum += (double)a->isum + (double)v;
		a->isum = 0;
		a->overflowed = 1;
	}
}

static void agg_num_float(struct agg_num *a, double v)
{
	if (a->n_float == 0) {
		a->fmin = v;
		a->fmax = v;
	} else {
		a->fmin = v < a->fmin ? v : a->fmin;
		a->fmax = v > a->fmax ? v : a->fmax;
	}
	a->n++;
	a->n_float++;
	a->fsum += v;
}

static void agg_num_merge(struct agg_num *d, const struct agg_num *s)
{
	bool d_int = d->n > d->n_float, s_int = s->n > s->n_float;

	if (s_int) {
		d->imin = d_int && d->imin < s->imin ? d->imin : s->imin;
		d->imax = d_int && d->imax > s->imax ? d->imax : s->imax;
	}
	if (s->n_float) {
		d->fmin = d->n_float && d->fmin < s->fmin ? d->fmin : s->fmin;
		d->fmax = d->n_float && d->fmax > s->fmax ? d->fmax : s->fmax;
	}
	d->n += s->n;
	d->n_float += s->n_float;
	d->fsum += s->fsum;
	if (d->overflowed || s->overflowed || __builtin_add_overflow(d->isum, s->isum, &d->isum)) {
		d->fsum += (double)d->isum + (double)s->isum;
		d->isum = 0;
		d->overflowed = 1;
	}
}

/* A top_k key: the canonical encoding, strings cut to fit SL_TOPK_KEY_MAX. Returns its
 * length, 0 when a non-string value does not fit; *cut when a string was shortened. */
static uint32_t agg_topk_key(const struct sl_val *v, const struct agg_canon *k, uint8_t *out,
			     bool *cut)
{
	struct agg_head_buf b = { out, 0 };
	msgpack_packer pk;
	uint32_t n;

	*cut = false;
	if (k->head_len + k->body_len <= SL_TOPK_KEY_MAX) {
		memcpy(out, k->head, k->head_len);
		if (k->body_len)
			memcpy(out + k->head_len, k->body, k->body_len);
		return k->head_len + k->body_len;
	}
	if (v->type != SL_VAL_STR)
		return 0;
	/* A str8 header (2 bytes) for the longest prefix that fits. */
	n = SL_TOPK_KEY_MAX - 2;
	msgpack_packer_init(&pk, &b, agg_head_write);
	msgpack_pack_str(&pk, n);
	memcpy(out + b.len, k->body, n);
	*cut = true;
	return b.len + n;
}

/* The DDSketch key of x > 0 through a's memo in st. */
static inline __attribute__((always_inline)) int32_t agg_dds_key(const struct agg_item *a,
								 struct agg_state *st, double x)
{
	union {
		double f;
		uint64_t u;
	} b = { .f = x };
	struct agg_memo *m =
		&st->memo[((size_t)a->memo << AGG_MEMO_BITS) +
			  (size_t)((b.u * 0x9e3779b97f4a7c15ull) >> (64 - AGG_MEMO_BITS))];

	if (m->bits != b.u) {
		m->bits = b.u;
		m->key = sl_dds_key(&a->dds, x);
	}
	return m->key;
}

/* Fold one field value into one aggregation's partial. */
static void agg_fold(const struct agg_item *a, struct agg_state *st, uint8_t *blk,
		     const struct sl_val *v, uint64_t *cnt)
{
	struct agg_canon k;
	double x;
	bool is_float;

	switch (a->spec.fn) {
	case SL_AGG_COUNT:
		(*(uint64_t *)blk)++;
		return;
	case SL_AGG_DISTINCT:
		agg_canon_of(v, &k);
		sl_hll_add(blk, a->spec.p, agg_canon_hash(&k));
		return;
	case SL_AGG_TOP_K: {
		uint8_t key[SL_TOPK_KEY_MAX];
		uint32_t len;
		bool cut;

		agg_canon_of(v, &k);
		len = agg_topk_key(v, &k, key, &cut);
		if (len == 0 || cut)
			cnt[AGG_CNT_VALUE_TRUNCATED]++;
		if (len)
			sl_topk_add((struct sl_topk *)blk, a->spec.capacity, key, len,
				    sl_sketch_hash(key, len, AGG_HASH_SEED), 1);
		return;
	}
	case SL_AGG_QUANTILE: {
		struct agg_quant *q = (struct agg_quant *)blk;

		if (!agg_number(v, &x, &is_float)) {
			cnt[AGG_CNT_NOT_NUMBER]++;
		} else if (x < 0) {
			cnt[AGG_CNT_NEGATIVE]++;
		} else if (x > 0) {
			q->n_float += is_float;
			sl_dds_add_key_inline(&a->dds, &st->dds, &q->dds, agg_dds_key(a, st, x), 1);
		} else {
			q->n_float += is_float;
			sl_dds_add(&a->dds, &st->dds, &q->dds, x, 1);
		}
		return;
	}
	default:
		if (v->type == SL_VAL_INT)
			agg_num_int((struct agg_num *)blk, v->i);
		else if (agg_number(v, &x, &is_float))
			agg_num_float((struct agg_num *)blk, x);
		else
			cnt[AGG_CNT_NOT_NUMBER]++;
		return;
	}
}

/* Merge block s (its DDSketch pages in ss) into d (pages from ds). */
static void agg_merge_block(const struct agg_item *a, uint8_t *d, struct sl_dds_store *ds,
			    const uint8_t *s, const struct sl_dds_store *ss, void *scratch)
{
	switch (a->spec.fn) {
	case SL_AGG_COUNT:
		*(uint64_t *)d += *(const uint64_t *)s;
		return;
	case SL_AGG_DISTINCT:
		sl_hll_merge(d, s, a->spec.p);
		return;
	case SL_AGG_TOP_K:
		sl_topk_merge((struct sl_topk *)d, (const struct sl_topk *)s, a->spec.capacity,
			      scratch);
		return;
	case SL_AGG_QUANTILE:
		((struct agg_quant *)d)->n_float += ((const struct agg_quant *)s)->n_float;
		sl_dds_merge(&a->dds, ds, &((struct agg_quant *)d)->dds, ss,
			     &((const struct agg_quant *)s)->dds);
		return;
	default:
		agg_num_merge((struct agg_num *)d, (const struct agg_num *)s);
		return;
	}
}

/* ---- groups ---- */

static uint8_t *agg_block(const struct agg_conf *c, const struct agg_state *st, uint32_t g)
{
	return st->groups + (size_t)g * c->group_bytes;
}

static inline uint64_t agg_load64(const uint8_t *p)
{
	uint64_t x;

	memcpy(&x, p, 8);
	return x;
}

static inline uint32_t agg_load32(const uint8_t *p)
{
	uint32_t x;

	memcpy(&x, p, 4);
	return x;
}

static inline uint64_t agg_mul_fold(uint64_t a, uint64_t b)
{
	__uint128_t r = (__uint128_t)a * b;

	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/*
 * The hash of a group key (its table slot; never emitted, so only a state's own tables
 * depend on it): 8 bytes a multiply, the tail as two overlapping loads, inline (the sketch
 * hash, a call with a byte switch, cost ~70 instructions a key).
 */
static inline uint32_t agg_key_hash(const uint8_t *p, uint32_t len)
{
	const uint64_t k0 = 0x9e3779b97f4a7c15ull, k1 = 0xd6e8feb86659fd93ull;
	uint64_t h = AGG_HASH_SEED ^ ((uint64_t)len * k1), t;
	uint32_t n = len;

	for (; n > 8; p += 8, n -= 8)
		h = agg_mul_fold(h ^ agg_load64(p), k0);
	if (n >= 4)
		t = agg_load32(p) | (uint64_t)agg_load32(p + n - 4) << 32;
	else if (n > 0)
		t = (uint64_t)p[0] << 16 | (uint64_t)p[n >> 1] << 8 | p[n - 1];
	else
		t = 0;
	h = agg_mul_fold(h ^ t, k1);
	return (uint32_t)(h ^ (h >> 32));
}

/* a and b (len bytes each) are equal: inline for short keys, memcmp beyond 32 bytes. */
static inline bool agg_key_eq(const uint8_t *a, const uint8_t *b, uint32_t len)
{
	if (len > 16 && len <= 32)
		return agg_load64(a) == agg_load64(b) && agg_load64(a + 8) == agg_load64(b + 8) &&
		       agg_load64(a + len - 16) == agg_load64(b + len - 16) &&
		       agg_load64(a + len - 8) == agg_load64(b + len - 8);
	if (len >= 8 && len <= 16)
		return agg_load64(a) == agg_load64(b) &&
		       agg_load64(a + len - 8) == agg_load64(b + len - 8);
	if (len >= 4 && len < 8)
		return agg_load32(a) == agg_load32(b) &&
		       agg_load32(a + len - 4) == agg_load32(b + len - 4);
	if (len >= 2 && len < 4) {
		uint16_t x0, x1, y0, y1;

		memcpy(&x0, a, 2);
		memcpy(&y0, b, 2);
		memcpy(&x1, a + len - 2, 2);
		memcpy(&y1, b + len - 2, 2);
		return x0 == y0 && x1 == y1;
	}
	if (len < 2)
		return len == 0 || a[0] == b[0];
	return memcmp(a, b, len) == 0;
}

/* The index of the group with this key, created when new; UINT32_MAX when the table is
 * full. */
static inline __attribute__((always_inline)) uint32_t
agg_group_idx(struct agg_state *st, const struct agg_conf *c, uint32_t hash, const uint8_t *key,
	      uint32_t len)
{
	uint32_t idx = hash & st->mask, g;
	struct agg_slot *s;

	for (;;) {
		s = &st->slots[idx];
		if (s->group1 == 0)
			break;
		g = s->group1 - 1;
		if (s->hash == hash && st->gkeys[g].len == len &&
		    agg_key_eq(st->arena + st->gkeys[g].off, key, len))
			return g;
		idx = (idx + 1) & st->mask;
	}
	if (st->n_groups >= c->max_groups || len > c->arena_bytes - st->arena_used)
		return UINT32_MAX;
	g = st->n_groups++;
	memcpy(st->arena + st->arena_used, key, len);
	st->gkeys[g] = (struct agg_gkey){ st->arena_used, len, idx };
	st->arena_used += len;
	s->hash = hash;
	s->group1 = g + 1;
	return g;
}

/* The block of the group with this key, created when new; NULL when the table is full. */
static inline __attribute__((always_inline)) uint8_t *agg_group(struct agg_state *st,
								const struct agg_conf *c,
								uint32_t hash, const uint8_t *key,
								uint32_t len)
{
	uint32_t g = agg_group_idx(st, c, hash, key, len);

	return g == UINT32_MAX ? NULL : agg_block(c, st, g);
}

/* ---- process ---- */

/* Append one canonical value to a key; false when it does not fit in AGG_KEY_MAX. */
static bool agg_key_put(uint8_t *key, uint32_t *len, const struct agg_canon *k)
{
	uint8_t *o = key + *len;

	if (k->head_len + (uint64_t)k->body_len > AGG_KEY_MAX - *len)
		return false;
	/* Heads are at most 9 bytes: a loop, not a call to memcpy. */
	for (uint32_t i = 0; i < k->head_len; i++)
		o[i] = k->head[i];
	if (k->body_len)
		memcpy(o + k->head_len, k->body, k->body_len);
	*len += k->head_len + k->body_len;
	return true;
}

/* The event time of a value in nanoseconds; false when it is not a time. */
static bool agg_event_time(const struct agg_conf *c, const struct sl_val *v, int64_t *ns)
{
	double x;

	switch (v->type) {
	case SL_VAL_INT:
		return !__builtin_mul_overflow(v->i, c->event_unit_ns, ns);
	case SL_VAL_FLOAT:
		x = v->f * (double)c->event_unit_ns;
		if (!(x > -9.2e18 && x < 9.2e18))
			return false;
		*ns = (int64_t)floor(x);
		return true;
	case SL_VAL_STR:
		return sl_agg_time_parse(v->s.p, v->s.len, ns);
	default:
		return false;
	}
}

/* The event-time bucket's start as the key's first value (nil when the event has no
 * usable time). */
static void agg_key_bucket(const struct agg_conf *c, const struct sl_val *vals, const bool *found,
			   struct agg_canon *k, uint64_t *cnt)
{
	struct sl_val start = { .type = SL_VAL_INT };
	int64_t t;

	if (!found[c->time_field] || !agg_event_time(c, &vals[c->time_field], &t)) {
		cnt[AGG_CNT_BAD_TIME]++;
		*k = (struct agg_canon){ .head = { 0xc0 }, .head_len = 1 };
		return;
	}
	start.i = sl_agg_time_bucket(t, c->event_window_ns);
	agg_canon_of(&start, k);
}

/* The group key of a record: the event-time bucket if any, then each group_by value,
 * canonical, concatenated (nil when missing). Returns its length, 0 when longer than
 * AGG_KEY_MAX. */
static uint32_t agg_key(const struct agg_conf *c, const struct sl_val *vals, const bool *found,
			uint8_t *key, uint64_t *cnt, const int64_t *pane)
{
	struct agg_canon k;
	bool missing = false;
	uint32_t len = 0;

	if (pane) {
		struct sl_val start = { .type = SL_VAL_INT, .i = *pane };

		key[len++] = 0xc2; /* carried = false */
		agg_canon_of(&start, &k);
		agg_key_put(key, &len, &k);
	} else if (c->event_window_ns) {
		agg_key_bucket(c, vals, found, &k, cnt);
		agg_key_put(key, &len, &k);
	}
	for (uint32_t f = 0; f < c->n_keys; f++) {
		if (!found[f] || vals[f].type == SL_VAL_NIL) {
			missing = true;
			k = (struct agg_canon){ .head = { 0xc0 }, .head_len = 1 };
		} else {
			agg_canon_of(&vals[f], &k);
		}
		if (!agg_key_put(key, &len, &k))
			return 0;
	}
	if (missing)
		cnt[AGG_CNT_MISSING_KEY]++;
	if (len == 0) {
		/* Without group_by or buckets every event is in one group, keyed nil. */
		key[0] = 0xc0;
		len = 1;
	}
	return len;
}

/* What became of an event. */
enum { AGG_V_CONSUMED = 0, AGG_V_LATE, AGG_V_BAD_TIME };

static int64_t agg_sat_sub(int64_t a, int64_t b)
{
	int64_t r;

	return __builtin_sub_overflow(a, b, &r) ? INT64_MIN : r;
}

/* The watermark a replica's state knows: windows ending at or before it are closed. */
static int64_t agg_tw_known(const struct agg_conf *c, const struct agg_state *st)
{
	int64_t own =
		st->max_t == INT64_MIN ? INT64_MIN : agg_sat_sub(st->max_t, c->tw_lateness_ns);

	return own > st->closed ? own : st->closed;
}

/* A time-window event's pane, or a verdict: late (its first window is closed as far as
 * this state knows) or bad time. */
static int agg_tw_pane(const struct agg_conf *c, struct agg_state *st, const struct sl_val *vals,
		       const bool *found, int64_t now_ns, int64_t *pane, uint64_t *cnt)
{
	int64_t t = now_ns;

	if (!c->tw_proc &&
	    (!found[c->time_field] || !agg_event_time(c, &vals[c->time_field], &t))) {
		cnt[AGG_CNT_BAD_TIME]++;
		return AGG_V_BAD_TIME;
	}
	/* The pane's start and window ends up to pane + size must fit in int64. */
	if (t < INT64_MIN + (int64_t)c->tw_slide_ns || t > INT64_MAX - 2 * (int64_t)c->tw_size_ns) {
		cnt[AGG_CNT_BAD_TIME]++;
		return AGG_V_BAD_TIME;
	}
	*pane = sl_agg_time_bucket(t, c->tw_slide_ns);
	if (*pane > INT64_MAX - 2 * (int64_t)c->tw_size_ns) {
		cnt[AGG_CNT_BAD_TIME]++;
		return AGG_V_BAD_TIME;
	}
	if (*pane + (int64_t)c->tw_slide_ns <= agg_tw_known(c, st)) {
		cnt[AGG_CNT_LATE]++;
		return AGG_V_LATE;
	}
	if (t > st->max_t)
		st->max_t = t;
	return AGG_V_CONSUMED;
}

/*
 * Every configured field of a record in one walk of its map (sl_rec_get per field walked
 * it once per field: ~160 instructions a lookup, callgrind). The first pair of a name
 * wins, as with sl_rec_get.
 */
static void agg_fields(const struct agg_conf *c, struct sl_rec rec, struct sl_val *vals,
		       bool *found)
{
	const uint8_t *p, *end;
	uint32_t n, left = c->n_fields;

	for (uint32_t f = 0; f < c->n_fields; f++) {
		found[f] = false;
		vals[f].type = SL_VAL_NONE;
	}
	if (rec.len == 0) /* no record (rec.p is NULL) */
		return;
	end = rec.p + rec.len;
	if (!sl_mp_map_head(rec.p, end, &n, &p))
		return;
	for (uint32_t i = 0; i < n && left; i++) {
		struct sl_val k, skip;
		size_t ks, vs;
		uint32_t f;

		if (p >= end)
			return;
		if ((*p & 0xe0) != 0xa0) {
			/* Not a fixstr key: the general way. */
			p = sl_mp_read(p, end, &k);
			if (!p)
				return;
			for (f = 0; f < c->n_fields; f++)
				if (!found[f] && k.type == SL_VAL_STR &&
				    k.s.len == c->field_key[f].len &&
				    memcmp(k.s.p, c->field_key[f].name, k.s.len) == 0)
					break;
			p = sl_mp_read(p, end, f < c->n_fields ? &vals[f] : &skip);
			if (!p)
				return;
			if (f < c->n_fields) {
				found[f] = true;
				left--;
			}
			continue;
		}
		ks = 1 + (size_t)(*p & 0x1f);
		if (ks > (size_t)(end - p))
			return;
		for (f = 0; f < c->n_fields; f++)
			if (!found[f] && sl_rec_key_eq(p, ks, end, &c->field_key[f]))
				break;
		p += ks;
		if (p >= end)
			return;
		if (f < c->n_fields) {
			p = sl_mp_value(p, end, &vals[f]);
			if (!p) {
				vals[f].type = SL_VAL_NONE;
				return;
			}
			found[f] = true;
			left--;
			continue;
		}
		vs = sl_mp_scalar_size(p, end);
		if (vs && vs <= (size_t)(end - p))
			p += vs;
		else if (!(p = sl_mp_read(p, end, &skip)))
			return;
	}
}

static int agg_process_one(const struct agg_conf *c, struct agg_state *st, struct sl_rec rec,
			   int64_t now_ns, uint64_t *cnt)
{
	struct sl_val vals[AGG_MAX_FIELDS];
	bool found[AGG_MAX_FIELDS];
	uint8_t key[AGG_KEY_MAX];
	int64_t pane;
	uint32_t len;
	uint8_t *g;
	int v;

	agg_fields(c, rec, vals, found);
	if (c->tw_size_ns) {
		v = agg_tw_pane(c, st, vals, found, now_ns, &pane, cnt);
		if (v != AGG_V_CONSUMED)
			return v;
	}
	len = agg_key(c, vals, found, key, cnt, c->tw_size_ns ? &pane : NULL);
	if (len == 0) {
		cnt[AGG_CNT_KEY_TOO_LONG]++;
		return AGG_V_CONSUMED;
	}
	g = agg_group(st, c, agg_key_hash(key, len), key, len);
	if (!g) {
		cnt[AGG_CNT_GROUPS_OVERFLOW]++;
		return AGG_V_CONSUMED;
	}
	(*(uint64_t *)g)++;
	for (uint32_t i = 0; i < c->n_aggs; i++) {
		const struct agg_item *a = &c->aggs[i];

		if (a->field == UINT32_MAX)
			(*(uint64_t *)(g + a->off))++;
		else if (!found[a->field] || vals[a->field].type == SL_VAL_NIL)
			cnt[AGG_CNT_MISSING_FIELD]++;
		else
			agg_fold(a, st, g + a->off, &vals[a->field], cnt);
	}
	cnt[AGG_CNT_GROUPED]++;
	return AGG_V_CONSUMED;
}

/* The value at p (vs bytes, a scalar of a form conf->mp_canon marks 2) is already in its
 * canonical form: agg_canon_of would give the same bytes. */
static inline bool agg_raw_canonical(const uint8_t *p, size_t vs)
{
	uint8_t c = p[0];

	switch (c) {
	case 0xcc:
		return p[1] >= 0x80;
	case 0xcd:
		return p[1] != 0;
	case 0xce:
		return (p[1] | p[2]) != 0;
	case 0xd9:
		return vs - 2 >= 32;
	case 0xda:
		return vs - 3 >= 256;
	default:
		return false;
	}
}

/* sl_mp_value with float64 inline (request times, latencies). */
static inline __attribute__((always_inline)) const uint8_t *
agg_value(const uint8_t *p, const uint8_t *end, struct sl_val *v)
{
	union {
		uint64_t u;
		double f;
	} x;

	if (*p == 0xcb && end - p >= 9) {
		x.u = agg_load64(p + 1);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		x.u = __builtin_bswap64(x.u);
#endif
		v->type = SL_VAL_FLOAT;
		v->f = x.f;
		v->raw = p;
		v->raw_len = 9;
		return p + 9;
	}
	return sl_mp_value(p, end, v);
}

/*
 * agg_process_one when c->fast (one group_by field, no buckets or time windows): the
 * record's fixstr keys are compared in place, 16 bytes at once, and the group value's
 * bytes, when already canonical, are hashed and probed as they are in the record (no key
 * built). Any other record (a key that is not a fixstr, a value that is not a scalar, the
 * group value missing, nil or not canonical, the last pairs within 16 bytes of the end)
 * goes the general way, so results are the same.
 *
 * agg_fast_parse reads a record (no state read or changed): the fields' values (those
 * read), which were found, the group value's bytes; false: the general way.
 */
static inline __attribute__((always_inline)) bool
agg_fast_parse(const struct agg_conf *c, struct sl_rec rec, const uint32_t nf, struct sl_val *vals,
	       uint64_t *found_out, const uint8_t **kp_out, uint32_t *klen_out)
{
	const uint64_t all = (1ull << nf) - 1;
	const uint8_t *p, *end, *kp = NULL;
	uint64_t found = 0;
	uint32_t n, klen = 0;

	if (rec.len == 0)
		return false;
	end = rec.p + rec.len;
	if (!sl_mp_map_head(rec.p, end, &n, &p))
		return false;
	for (uint32_t i = 0; i < n && found != all; i++) {
		uint64_t lo, hi;
		size_t vs;
		uint32_t f;

		if (end - p < 16 || (*p & 0xe0) != 0xa0)
			return false;
		lo = agg_load64(p);
		hi = agg_load64(p + 8);
		for (f = 0; f < nf; f++)
			if ((lo & c->fkey[f].m[0]) == c->fkey[f].w[0] &&
			    (hi & c->fkey[f].m[1]) == c->fkey[f].w[1] && !(found >> f & 1))
				break;
		p += 1 + (*p & 0x1f);
		vs = c->mp_size[*p];
		if (vs == 0 && *p == 0xd9 && end - p >= 2)
			vs = 2 + (size_t)p[1];
		if (vs == 0 || vs > (size_t)(end - p))
			return false;
		if (f < nf) {
			found |= 1ull << f;
			if (f == 0) {
				kp = p;
				klen = (uint32_t)vs;
			}
			if ((f != 0 || c->fast_key_read) && !agg_value(p, end, &vals[f]))
				return false;
		}
		p += vs;
	}
	if (!kp || klen > AGG_KEY_MAX ||
	    (c->mp_canon[*kp] != 1 && (c->mp_canon[*kp] == 0 || !agg_raw_canonical(kp, klen))))
		return false;
	*found_out = found;
	*kp_out = kp;
	*klen_out = klen;
	return true;
}

/* The block of a fast-path key's group (NULL: the table is full), the previous event's
 * group first: runs of one key (status 200) skip hash and probe. hash: when not given
 * (has_hash false), computed here when needed. */
static inline __attribute__((always_inline)) uint8_t *
agg_fast_group(const struct agg_conf *c, struct agg_state *st, const uint8_t *kp, uint32_t klen,
	       uint32_t hash, bool has_hash)
{
	uint32_t gi;

	if (st->last_blk && st->last_len == klen && agg_key_eq(st->last_key, kp, klen))
		return st->last_blk;
	gi = agg_group_idx(st, c, has_hash ? hash : agg_key_hash(kp, klen), kp, klen);
	if (gi == UINT32_MAX)
		return NULL;
	st->last_blk = agg_block(c, st, gi);
	st->last_key = st->arena + st->gkeys[gi].off;
	st->last_len = klen;
	return st->last_blk;
}

/* One fast-path event's updates to its group's block g. qa, qkey: the quantile aggregation
 * whose DDSketch key the caller has (qa UINT32_MAX: none). */
static inline __attribute__((always_inline)) void
agg_fast_apply(const struct agg_conf *c, struct agg_state *st, uint8_t *g,
	       const struct sl_val *vals, uint64_t found, uint32_t qa, int32_t qkey, uint64_t *cnt)
{
	(*(uint64_t *)g)++;
	for (uint32_t i = 0; i < c->n_aggs; i++) {
		const struct agg_item *a = &c->aggs[i];

		const struct sl_val *v = a->field == UINT32_MAX ? NULL : &vals[a->field];

		if (!v) {
			(*(uint64_t *)(g + a->off))++;
		} else if (!(found >> a->field & 1) || v->type == SL_VAL_NIL) {
			cnt[AGG_CNT_MISSING_FIELD]++;
		} else if (a->spec.fn == SL_AGG_QUANTILE && v->type == SL_VAL_FLOAT && v->f > 0) {
			/* agg_fold's case of a positive float, inline */
			struct agg_quant *q = (struct agg_quant *)(g + a->off);

			q->n_float++;
			sl_dds_add_key_inline(&a->dds, &st->dds, &q->dds,
					      i == qa ? qkey : agg_dds_key(a, st, v->f), 1);
		} else {
			agg_fold(a, st, g + a->off, v, cnt);
		}
	}
	cnt[AGG_CNT_GROUPED]++;
}

static inline __attribute__((always_inline)) int agg_fast_nf(const struct agg_conf *c,
							     struct agg_state *st,
							     struct sl_rec rec, uint64_t *cnt,
							     const uint32_t nf)
{
	struct sl_val vals[AGG_MAX_FIELDS];
	const uint8_t *kp;
	uint64_t found;
	uint32_t klen;
	uint8_t *g;

	if (!agg_fast_parse(c, rec, nf, vals, &found, &kp, &klen))
		return agg_process_one(c, st, rec, 0, cnt);
	g = agg_fast_group(c, st, kp, klen, 0, false);
	if (!g) {
		cnt[AGG_CNT_GROUPS_OVERFLOW]++;
		return AGG_V_CONSUMED;
	}
	agg_fast_apply(c, st, g, vals, found, UINT32_MAX, 0, cnt);
	return AGG_V_CONSUMED;
}

/* agg_fast_nf with the field count a constant for the common counts (loops unrolled);
 * inline in agg_process's loop (a call's frame cost ~30 instructions an event). */
static inline __attribute__((always_inline)) int
agg_process_fast(const struct agg_conf *c, struct agg_state *st, struct sl_rec rec, uint64_t *cnt)
{
	switch (c->n_fields) {
	case 1:
		return agg_fast_nf(c, st, rec, cnt, 1);
	case 2:
		return agg_fast_nf(c, st, rec, cnt, 2);
	default:
		return agg_fast_nf(c, st, rec, cnt, c->n_fields);
	}
}

/*
 * The fast path over a burst in passes, so that the cache misses of its events overlap
 * instead of coming one after another (a quantile's DDSketch pages are far beyond the
 * caches: ~3 pages of 2 KiB a group): pass 1 parses an event, hashes its key and prefetches
 * its hash slot; at AGG_BATCH such events (or one that goes the general way, or the burst's
 * end) agg_fast_flush finds their groups in order (creating them in the same order as one
 * at a time) and prefetches each block's first line and its quantile's header and page
 * directory, computes the quantile's DDSketch key; pass 3 reads each header's top and the
 * key's page and prefetches the bin the key goes to;
 * pass 4 applies the updates in the events' order. Groups, counters and sketches are those
 * of one event at a time: only the time of the reads moves.
 */
/* 64, not 16: at 16 a prefetch had too little time to land (by_path 157 -> 142 cyc/event) */
#define AGG_BATCH	64
#define AGG_PEND_FIELDS 4 /* agg_process batches with up to this many fields (else one by one) */

struct agg_pend {
	const uint8_t *kp;
	uint8_t *g;
	uint64_t found;
	uint32_t klen, hash;
	int32_t qkey; /* conf's fast_qa: the DDSketch key, when its value is a positive float */
	bool qok;
	struct sl_val vals[AGG_PEND_FIELDS];
};

static inline __attribute__((always_inline)) void agg_fast_flush(const struct agg_conf *c,
								 struct agg_state *st,
								 struct agg_pend *pe, uint32_t m,
								 uint64_t *cnt)
{
	const uint32_t qa = c->fast_qa;
	const struct agg_item *a = qa == UINT32_MAX ? NULL : &c->aggs[qa];

	for (uint32_t j = 0; j < m; j++) {
		struct agg_pend *e = &pe[j];

		e->g = agg_fast_group(c, st, e->kp, e->klen, e->hash, true);
		e->qok = false;
		e->qkey = 0;
		if (!e->g)
			continue;
		rte_prefetch0(e->g);
		if (a) {
			const struct sl_val *v = &e->vals[a->field];

			/* the header, and the directory's top pages (where most values go) */
			rte_prefetch0(e->g + a->off + offsetof(struct agg_quant, dds));
			rte_prefetch0(e->g + a->off + offsetof(struct agg_quant, dds) +
				      sl_dds_size(&a->dds) - 1);
			if ((e->found >> a->field & 1) && v->type == SL_VAL_FLOAT && v->f > 0) {
				e->qkey = agg_dds_key(a, st, v->f);
				e->qok = true;
			}
		}
	}
	if (a)
		for (uint32_t j = 0; j < m; j++) {
			const uint64_t *b;

			if (!pe[j].qok)
				continue;
			b = sl_dds_bin(&a->dds, &st->dds,
				       &((const struct agg_quant *)(pe[j].g + a->off))->dds,
				       pe[j].qkey);
			if (b)
				rte_prefetch0(b);
		}
	for (uint32_t j = 0; j < m; j++) {
		if (!pe[j].g)
			cnt[AGG_CNT_GROUPS_OVERFLOW]++;
		else
			agg_fast_apply(c, st, pe[j].g, pe[j].vals, pe[j].found, qa, pe[j].qkey,
				       cnt);
	}
}

static inline __attribute__((always_inline)) void
agg_process_batch(const struct agg_conf *c, struct sl_ctx *ctx, struct agg_state *st,
		  struct sl_burst *in, struct sl_emit *out, const uint32_t nf)
{
	struct agg_pend pe[AGG_BATCH];
	struct rte_mbuf **evs = in->ev;
	uint64_t *cnt = ctx->counters;
	uint32_t m = 0;

	for (uint16_t i = 0; i < in->n; i++) {
		struct rte_mbuf *ev = evs[i];
		struct sl_rec rec;
		struct agg_pend *e = &pe[m];

		if (i + 1 < in->n) {
			struct rte_mbuf *nx = evs[i + 1];
			rte_prefetch0(
				rte_pktmbuf_mtod_offset(nx, char *, sl_ctx_meta(ctx, nx)->rec_off));
		}
		rec = sl_event_record(ctx, ev);
		if (agg_fast_parse(c, rec, nf, e->vals, &e->found, &e->kp, &e->klen)) {
			e->hash = agg_key_hash(e->kp, e->klen);
			rte_prefetch0(&st->slots[e->hash & st->mask]);
			if (++m == AGG_BATCH) {
				agg_fast_flush(c, st, pe, m, cnt);
				m = 0;
			}
		} else {
			agg_fast_flush(c, st, pe, m, cnt);
			m = 0;
			agg_process_one(c, st, rec, 0, cnt);
		}
		sl_drop(out, ev, SL_DROP_CONSUMED);
	}
	agg_fast_flush(c, st, pe, m, cnt);
}

/* Processing time in epoch nanoseconds at a TSC reading. */
static int64_t agg_now_ns(const struct agg_conf *c, uint64_t tsc, uint64_t tsc_hz)
{
	return c->tw_base_ns + (int64_t)((double)(int64_t)(tsc - c->tw_base_tsc) * 1e9 /
					 (double)(tsc_hz ? tsc_hz : 1));
}

static void agg_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
			struct sl_emit *out)
{
	const struct agg_conf *c = conf;
	struct agg_state *st = ctx->state;
	struct rte_mbuf **evs = in->ev;
	uint16_t n = in->n;
	int64_t now_ns = c->tw_proc ? agg_now_ns(c, ctx->now_tsc, ctx->tsc_hz) : 0;

	/* Batches for quantiles only: other partials are small and a few groups take most
	 * events (count by status), where the last-group check of agg_process_fast skips
	 * hash and probe and the batches' passes only add work (69 -> 53 cyc/event). */
	if (c->fast && st && c->n_fields <= AGG_PEND_FIELDS && c->fast_qa != UINT32_MAX) {
		if (c->n_fields == 1)
			agg_process_batch(c, ctx, st, in, out, 1);
		else if (c->n_fields == 2)
			agg_process_batch(c, ctx, st, in, out, 2);
		else
			agg_process_batch(c, ctx, st, in, out, c->n_fields);
		return;
	}
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *ev = evs[i];

		if (i + 1 < n) {
			struct rte_mbuf *nx = evs[i + 1];
			rte_prefetch0(
				rte_pktmbuf_mtod_offset(nx, char *, sl_ctx_meta(ctx, nx)->rec_off));
		}
		if (!st) {
			sl_drop(out, ev, SL_DROP_INVALID);
			continue;
		}
		switch (c->fast ? agg_process_fast(c, st, sl_event_record(ctx, ev), ctx->counters)
				: agg_process_one(c, st, sl_event_record(ctx, ev), now_ns,
						  ctx->counters)) {
		case AGG_V_LATE:
			if (c->tw_late_drop)
				sl_drop(out, ev, SL_DROP_FILTERED);
			else
				sl_emit(out, AGG_PORT_LATE, ev);
			break;
		case AGG_V_BAD_TIME:
			sl_drop(out, ev, SL_DROP_INVALID);
			break;
		default:
			sl_drop(out, ev, SL_DROP_CONSUMED);
		}
	}
}

/* ---- state ops ---- */

static void agg_state_destroy(const void *conf, void *state)
{
	struct agg_state *st = state;

	(void)conf;
	if (!st)
		return;
	free(st->slots);
	free(st->gkeys);
	free(st->order);
	free(st->arena);
	free(st->groups);
	free(st->dds.bins);
	free(st->tw_dds.bins);
	free(st->scratch);
	free(st->memo);
	free(st->tw);
	free(st->tw_gstart);
	free(st->tw_block);
	free(st);
}

/* From AGG_HUGE_BYTES on, huge pages where the kernel gives them (transparent_hugepage
 * "madvise"), on the 2 MiB-aligned part of an area of groups or sketch pages: on 4 KiB
 * pages each event's group and bin cost TLB misses too (bench-peers' p99 by path: ~0.85 ->
 * ~0.65 of the time before the passes), and an area read before it is written (a probe)
 * costs a copy-on-write fault whose TLB flush interrupts the other CPUs. Still malloc'd
 * memory: a stage's `memory:` cap (its jemalloc arena) counts it, and ASan watches it.
 * Advice only: no THP, no harm. */
static void agg_huge(void *p, size_t len)
{
	uintptr_t a = ((uintptr_t)p + (2u << 20) - 1) & ~(uintptr_t)((2u << 20) - 1);
	uintptr_t e = ((uintptr_t)p + len) & ~(uintptr_t)((2u << 20) - 1);

	if (p && len >= AGG_HUGE_BYTES && e > a)
		(void)madvise((void *)a, e - a, MADV_HUGEPAGE);
}

static void *agg_state_create(const void *conf)
{
	const struct agg_conf *c = conf;
	struct agg_state *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	st->mask = c->capacity - 1;
	st->slots = calloc(c->capacity, sizeof(*st->slots));
	st->gkeys = malloc((size_t)c->max_groups * sizeof(*st->gkeys));
	st->order = malloc((size_t)c->max_groups * sizeof(*st->order));
	st->arena = malloc(c->arena_bytes);
	/* calloc: large blocks come as fresh zero pages, touched only when a group uses them.
	 * The DDSketch pages (sketch.h) are handed out in order from one area sized for the
	 * worst case, every group's every page, so the memory touched is what the groups' values
	 * use (bench-peers' p99 by path: ~3 pages of 2 KiB a group, where a flat store of 2,560
	 * bins touched 20 KiB, which the kernel zeroed: ~12 % of the lanes run's CPU). */
	st->groups = calloc(c->max_groups, c->group_bytes);
	agg_huge(st->groups, (size_t)c->max_groups * c->group_bytes);
	if (c->dds_pages) {
		uint32_t np = c->max_groups * c->dds_pages + 1;

		st->dds.bins = calloc(np, sl_dds_store_bytes(1));
		sl_dds_store_init(&st->dds, st->dds.bins, np);
		agg_huge(st->dds.bins, sl_dds_store_bytes(np));
	}
	st->scratch = c->topk_cap_max ? malloc(sl_topk_scratch_size(c->topk_cap_max)) : NULL;
	st->memo = c->n_memo ? calloc((size_t)c->n_memo << AGG_MEMO_BITS, sizeof(*st->memo)) : NULL;
	st->max_t = INT64_MIN;
	st->closed = INT64_MIN;
	st->close_min = INT64_MAX;
	if (c->tw_size_ns) {
		st->tw = malloc((size_t)c->max_groups * sizeof(*st->tw));
		st->tw_gstart = malloc(((size_t)c->max_groups + 1) * sizeof(*st->tw_gstart));
		st->tw_block = malloc(c->group_bytes);
		if (c->dds_pages) {
			st->tw_dds.bins = calloc(c->dds_pages + 1, sl_dds_store_bytes(1));
			sl_dds_store_init(&st->tw_dds, st->tw_dds.bins, c->dds_pages + 1);
		}
	}
	if (!st->slots || !st->gkeys || !st->order || !st->arena || !st->groups ||
	    (c->dds_pages && (!st->dds.bins || (c->tw_size_ns && !st->tw_dds.bins))) ||
	    (c->topk_cap_max && !st->scratch) || (c->n_memo && !st->memo) ||
	    (c->tw_size_ns && (!st->tw || !st->tw_gstart || !st->tw_block))) {
		agg_state_destroy(conf, st);
		return NULL;
	}
	return st;
}

static void agg_state_reset(const void *conf, void *state)
{
	const struct agg_conf *c = conf;
	struct agg_state *st = state;

	for (uint32_t g = 0; g < st->n_groups; g++)
		st->slots[st->gkeys[g].slot] = (struct agg_slot){ 0, 0 };
	memset(st->groups, 0, (size_t)st->n_groups * c->group_bytes);
	sl_dds_store_reset(&st->dds);
	st->n_groups = 0;
	st->arena_used = 0;
	st->n_lost = 0;
	st->last_blk = NULL;
	st->close_min = INT64_MAX;
}

static void agg_state_merge(const void *conf, void *dst, const void *src)
{
	const struct agg_conf *c = conf;
	const struct agg_state *s = src;
	struct agg_state *d = dst;

	for (uint32_t g = 0; g < s->n_groups; g++) {
		const struct agg_gkey *k = &s->gkeys[g];
		const uint8_t *sb = agg_block(c, s, g);
		uint8_t *db = agg_group(d, c, s->slots[k->slot].hash, s->arena + k->off, k->len);

		if (!db) {
			d->n_lost += *(const uint64_t *)sb;
			continue;
		}
		*(uint64_t *)db += *(const uint64_t *)sb;
		for (uint32_t i = 0; i < c->n_aggs; i++)
			agg_merge_block(&c->aggs[i], db + c->aggs[i].off, &d->dds,
					sb + c->aggs[i].off, &s->dds, d->scratch);
	}
	d->n_lost += s->n_lost;
	/* Time windows: the watermark is the least of the replicas' latest event times (a
	 * state that never folded an event has no say), the closed mark the greatest. */
	if (s->max_t != INT64_MIN && s->max_t < d->close_min)
		d->close_min = s->max_t;
	if (s->close_min < d->close_min)
		d->close_min = s->close_min;
	if (s->closed > d->closed)
		d->closed = s->closed;
}

/* ---- emit ---- */

/* Sort rank of a type: nil, booleans, numbers, strings, then the rest by type. */
static int agg_type_rank(enum sl_val_type t)
{
	if (t == SL_VAL_INT || t == SL_VAL_UINT || t == SL_VAL_FLOAT)
		return SL_VAL_INT;
	return t == SL_VAL_NONE ? 100 : (int)t;
}

static long double agg_as_real(const struct sl_val *v)
{
	return v->type == SL_VAL_FLOAT	? (long double)v->f
	       : v->type == SL_VAL_UINT ? (long double)v->u
					: (long double)v->i;
}

static int agg_val_cmp(const struct sl_val *a, const struct sl_val *b)
{
	int ra = agg_type_rank(a->type), rb = agg_type_rank(b->type);
	uint32_t n;
	int r;

	if (ra != rb)
		return ra < rb ? -1 : 1;
	if (a->type == SL_VAL_INT && b->type == SL_VAL_INT)
		return (a->i > b->i) - (a->i < b->i);
	if (ra == SL_VAL_INT) {
		long double x = agg_as_real(a), y = agg_as_real(b);
		if (x != y)
			return x < y ? -1 : 1;
	}
	if (a->type == SL_VAL_STR && b->type == SL_VAL_STR) {
		n = a->s.len < b->s.len ? a->s.len : b->s.len;
		r = memcmp(a->s.p, b->s.p, n);
		return r ? r : (a->s.len > b->s.len) - (a->s.len < b->s.len);
	}
	n = a->raw_len < b->raw_len ? a->raw_len : b->raw_len;
	r = memcmp(a->raw, b->raw, n);
	return r ? r : (a->raw_len > b->raw_len) - (a->raw_len < b->raw_len);
}

/* Two canonical values in value order (top_k ties). */
static int agg_key_cmp(const uint8_t *a, uint32_t a_len, const uint8_t *b, uint32_t b_len)
{
	struct sl_val x = { 0 }, y = { 0 };

	if (!sl_mp_read(a, a + a_len, &x) || !sl_mp_read(b, b + b_len, &y))
		return (a_len > b_len) - (a_len < b_len);
	return agg_val_cmp(&x, &y);
}

/* Two keys, value after value. */
static int agg_vals_cmp(const uint8_t *pa, uint32_t la, const uint8_t *pb, uint32_t lb)
{
	const uint8_t *ea = pa + la, *eb = pb + lb;

	while (pa < ea && pb < eb) {
		struct sl_val a = { 0 }, b = { 0 };
		const uint8_t *na = sl_mp_read(pa, ea, &a), *nb = sl_mp_read(pb, eb, &b);
		int r;

		/* Keys were encoded here from well-formed values; stop on the impossible. */
		if (!na || !nb)
			break;
		r = agg_val_cmp(&a, &b);
		if (r)
			return r;
		pa = na;
		pb = nb;
	}
	return (la > lb) - (la < lb);
}

/* Groups by key, field after field. */
static int agg_group_cmp(const void *x, const void *y, void *arg)
{
	const struct agg_state *st = arg;
	const struct agg_gkey *ka = &st->gkeys[*(const uint32_t *)x];
	const struct agg_gkey *kb = &st->gkeys[*(const uint32_t *)y];

	return agg_vals_cmp(st->arena + ka->off, ka->len, st->arena + kb->off, kb->len);
}

static void agg_put_nil(struct sl_rec_writer *w, const char *k)
{
	sl_rec_key(w, k, strlen(k));
	msgpack_pack_nil(&w->pk);
}

static void agg_put_num(struct sl_rec_writer *w, const struct agg_item *a, const struct agg_num *p)
{
	const char *k = a->spec.name;
	bool has_int = p->n > p->n_float;
	bool int_wins;

	switch (a->spec.fn) {
	case SL_AGG_SUM:
		if (p->n_float == 0 && !p->overflowed)
			sl_rec_put_int(w, k, p->isum);
		else
			sl_rec_put_float(w, k, (double)((long double)p->isum + p->fsum));
		return;
	case SL_AGG_AVG:
		if (p->n == 0)
			agg_put_nil(w, k);
		else
			sl_rec_put_float(w, k, (double)(((long double)p->isum + p->fsum) / p->n));
		return;
	default:
		break;
	}
	if (p->n == 0) {
		agg_put_nil(w, k);
		return;
	}
	if (a->spec.fn == SL_AGG_MIN)
		int_wins = has_int && (!p->n_float || (long double)p->imin <= p->fmin);
	else
		int_wins = has_int && (!p->n_float || (long double)p->imax >= p->fmax);
	if (int_wins)
		sl_rec_put_int(w, k, a->spec.fn == SL_AGG_MIN ? p->imin : p->imax);
	else
		sl_rec_put_float(w, k, a->spec.fn == SL_AGG_MIN ? p->fmin : p->fmax);
}

static void agg_put_topk(struct sl_rec_writer *w, const struct agg_item *a, const struct sl_topk *t)
{
	const struct sl_topk_entry *e = sl_topk_entries(t, a->spec.capacity);
	const uint64_t *c = sl_topk_counts(t, a->spec.capacity);
	uint32_t idx[SL_AGG_K_MAX];
	uint32_t n = sl_topk_top(t, a->spec.capacity, a->spec.k, agg_key_cmp, idx);

	sl_rec_key(w, a->spec.name, strlen(a->spec.name));
	msgpack_pack_array(&w->pk, n);
	for (uint32_t i = 0; i < n; i++) {
		msgpack_pack_map(&w->pk, 2);
		msgpack_pack_str_with_body(&w->pk, a->spec.field, strlen(a->spec.field));
		sl_rec_writer_cb(w, (const char *)e[idx[i]].key, e[idx[i]].len);
		msgpack_pack_str_with_body(&w->pk, "count", 5);
		msgpack_pack_uint64(&w->pk, c[idx[i]]);
	}
}

/* One aggregation's result from its partial blk (DDSketch pages in ds). */
static void agg_put(struct sl_rec_writer *w, const struct agg_item *a, const uint8_t *blk,
		    const struct sl_dds_store *ds)
{
	const char *k = a->spec.name;

	switch (a->spec.fn) {
	case SL_AGG_COUNT:
		sl_rec_put_int(w, k, (int64_t) * (const uint64_t *)blk);
		return;
	case SL_AGG_DISTINCT:
		sl_rec_put_int(w, k, llround(sl_hll_estimate(blk, a->spec.p)));
		return;
	case SL_AGG_QUANTILE: {
		const struct agg_quant *q = (const struct agg_quant *)blk;
		double v = sl_dds_quantile(&a->dds, ds, &q->dds, a->spec.q);

		if (q->dds.n == 0)
			agg_put_nil(w, k);
		else if (q->n_float == 0) /* the estimate may pass the int64 range near it */
			sl_rec_put_int(w, k,
				       v >= 0x1p63   ? INT64_MAX
				       : v < -0x1p63 ? INT64_MIN
						     : llround(v));
		else
			sl_rec_put_float(w, k, v);
		return;
	}
	case SL_AGG_TOP_K:
		agg_put_topk(w, a, (const struct sl_topk *)blk);
		return;
	default:
		agg_put_num(w, a, (const struct agg_num *)blk);
		return;
	}
}

/* One group's record into m; returns its length, 0 when it does not fit. */
static uint32_t agg_record(const struct agg_conf *c, const struct agg_state *st, uint32_t g,
			   struct rte_mbuf *m)
{
	const struct agg_gkey *k = &st->gkeys[g];
	const uint8_t *p = st->arena + k->off, *end = p + k->len;
	const uint8_t *blk = agg_block(c, st, g);
	struct sl_rec_writer w;

	uint32_t n_buckets = c->event_window_ns ? 1 : 0;

	sl_rec_begin(&w, rte_pktmbuf_mtod(m, void *), rte_pktmbuf_tailroom(m));
	/* The key's values in order: the event-time bucket, then the group_by fields. */
	for (uint32_t f = 0; f < n_buckets + c->n_keys; f++) {
		const char *name = f < n_buckets ? "window_start" : c->fields[f - n_buckets];
		struct sl_val v;
		const uint8_t *q = sl_mp_read(p, end, &v);

		if (!q)
			return 0;
		sl_rec_put_raw(&w, name, p, (uint32_t)(q - p));
		p = q;
	}
	for (uint32_t i = 0; i < c->n_aggs; i++)
		agg_put(&w, &c->aggs[i], blk + c->aggs[i].off, &st->dds);
	return sl_rec_end(&w);
}

/* ---- time windows: close ---- */

/* A time-window entry from its key. */
static void agg_tw_entry(const struct agg_state *st, uint32_t g, struct agg_tw_ent *e)
{
	const struct agg_gkey *k = &st->gkeys[g];
	const uint8_t *p = st->arena + k->off, *end = p + k->len, *q;
	struct sl_val v = { 0 };

	e->carried = p[0] == 0xc3;
	q = sl_mp_read(p + 1, end, &v);
	/* Keys were encoded here: [bool][int][values]; keep going on the impossible. */
	e->pane = v.type == SL_VAL_UINT ? (int64_t)v.u : v.i;
	if (!q)
		q = end;
	e->rest_off = (uint32_t)(q - st->arena);
	e->rest_len = (uint16_t)(end - q);
}

static int agg_tw_rest_cmp(const struct agg_state *st, const struct agg_tw_ent *a,
			   const struct agg_tw_ent *b)
{
	return agg_vals_cmp(st->arena + a->rest_off, a->rest_len, st->arena + b->rest_off,
			    b->rest_len);
}

/* Entries by group, then pane, carried last. */
static int agg_tw_cmp(const void *x, const void *y, void *arg)
{
	const struct agg_state *st = arg;
	const struct agg_tw_ent *a = &st->tw[*(const uint32_t *)x];
	const struct agg_tw_ent *b = &st->tw[*(const uint32_t *)y];
	int r = agg_tw_rest_cmp(st, a, b);

	if (r)
		return r;
	if (a->pane != b->pane)
		return a->pane < b->pane ? -1 : 1;
	return (int)a->carried - (int)b->carried;
}

/* The end of the first window after `after` holding one of the live panes; INT64_MAX
 * when none. Windows end at a pane's end and at each slide after it, up to pane + size. */
static int64_t agg_tw_next_end(const struct agg_conf *c, const struct agg_state *st, int64_t after)
{
	int64_t slide = (int64_t)c->tw_slide_ns, size = (int64_t)c->tw_size_ns, best = INT64_MAX;
	uint32_t n = st->tw_gstart[st->tw_n_groups];

	for (uint32_t i = 0; i < n; i++) {
		int64_t p = st->tw[st->order[i]].pane, e, d;

		if (after < p + slide)
			e = p + slide;
		else if (__builtin_sub_overflow(after, p, &d) || d >= size)
			continue; /* every window of this pane ends at or before `after` */
		else
			e = p + (d / slide + 1) * slide;
		if (e <= p + size && e < best)
			best = e;
	}
	return best;
}

/* Plan a close: the new closed mark, the live entries sorted by group and pane (fresh
 * events of panes whose first window was emitted already are late: counted, left out). */
static void agg_tw_plan(const struct agg_conf *c, struct agg_state *st, struct sl_ctx *ctx)
{
	int64_t prev = st->closed, wm, slide = (int64_t)c->tw_slide_ns;
	uint32_t n = 0;

	if (st->tw_final) {
		wm = INT64_MAX; /* the input ended: every window closes */
	} else if (c->tw_proc) {
		wm = agg_sat_sub(agg_now_ns(c, ctx->now_tsc, ctx->tsc_hz), c->tw_lateness_ns);
	} else {
		int64_t m = st->close_min;

		if (st->max_t != INT64_MIN && st->max_t < m)
			m = st->max_t;
		wm = m == INT64_MAX ? INT64_MIN : agg_sat_sub(m, c->tw_lateness_ns);
	}
	st->tw_closed_new = wm > prev ? wm : prev;
	for (uint32_t g = 0; g < st->n_groups; g++) {
		struct agg_tw_ent *e = &st->tw[g];

		agg_tw_entry(st, g, e);
		if (!e->carried && prev != INT64_MIN && e->pane + slide <= prev) {
			uint64_t events = *(const uint64_t *)agg_block(c, st, g);

			ctx->counters[AGG_CNT_LATE] += events;
			ctx->counters[AGG_CNT_LATE_AT_CLOSE] += events;
			continue;
		}
		st->order[n++] = g;
	}
	qsort_r(st->order, n, sizeof(st->order[0]), agg_tw_cmp, st);
	st->tw_n_groups = 0;
	for (uint32_t i = 0; i < n; i++)
		if (i == 0 || agg_tw_rest_cmp(st, &st->tw[st->order[i - 1]], &st->tw[st->order[i]]))
			st->tw_gstart[st->tw_n_groups++] = i;
	st->tw_gstart[st->tw_n_groups] = n;
	st->tw_g = 0;
	st->tw_e = agg_tw_next_end(c, st, prev);
	ctx->counters[AGG_CNT_GROUPS_OVERFLOW] += st->n_lost;
	st->n_lost = 0;
}

/* Merge group i's panes inside the window ending at end into tw_block; false if none. */
static bool agg_tw_window(const struct agg_conf *c, struct agg_state *st, uint32_t i, int64_t end)
{
	int64_t start = end - (int64_t)c->tw_size_ns;
	bool any = false;

	for (uint32_t j = st->tw_gstart[i]; j < st->tw_gstart[i + 1]; j++) {
		uint32_t g = st->order[j];
		const uint8_t *sb;

		if (st->tw[g].pane < start || st->tw[g].pane >= end)
			continue;
		if (!any) {
			memset(st->tw_block, 0, c->group_bytes);
			sl_dds_store_reset(&st->tw_dds);
		}
		any = true;
		sb = agg_block(c, st, g);
		*(uint64_t *)st->tw_block += *(const uint64_t *)sb;
		for (uint32_t k = 0; k < c->n_aggs; k++)
			agg_merge_block(&c->aggs[k], st->tw_block + c->aggs[k].off, &st->tw_dds,
					sb + c->aggs[k].off, &st->dds, st->scratch);
	}
	return any;
}

/* One window's record of group i (tw_block) into m; its length, 0 when it does not fit. */
static uint32_t agg_tw_record(const struct agg_conf *c, const struct agg_state *st, uint32_t i,
			      int64_t end, struct rte_mbuf *m)
{
	const struct agg_tw_ent *e = &st->tw[st->order[st->tw_gstart[i]]];
	const uint8_t *p = st->arena + e->rest_off, *stop = p + e->rest_len;
	struct sl_rec_writer w;

	sl_rec_begin(&w, rte_pktmbuf_mtod(m, void *), rte_pktmbuf_tailroom(m));
	sl_rec_put_int(&w, "window_start", end - (int64_t)c->tw_size_ns);
	sl_rec_put_int(&w, "window_end", end);
	for (uint32_t f = 0; f < c->n_keys; f++) {
		struct sl_val v;
		const uint8_t *q = sl_mp_read(p, stop, &v);

		if (!q)
			return 0;
		sl_rec_put_raw(&w, c->fields[f], p, (uint32_t)(q - p));
		p = q;
	}
	for (uint32_t k = 0; k < c->n_aggs; k++)
		agg_put(&w, &c->aggs[k], st->tw_block + c->aggs[k].off, &st->tw_dds);
	return sl_rec_end(&w);
}

/* After a periodic close: the panes a later window still needs, and what this close
 * learnt (closed mark, latest event time), go into the closing replica's current state
 * (ctx->state: it folded nothing since it flipped, and is merged at the next close). */
static void agg_tw_carry(const struct agg_conf *c, struct agg_state *st, struct sl_ctx *ctx)
{
	struct agg_state *d = ctx->state;
	uint32_t n = st->tw_gstart[st->tw_n_groups];
	uint8_t key[AGG_KEY_MAX];

	for (uint32_t i = 0; d && i < n; i++) {
		uint32_t g = st->order[i];
		const struct agg_gkey *k = &st->gkeys[g];
		const uint8_t *sb = agg_block(c, st, g);
		uint8_t *db;

		if (st->tw[g].pane + (int64_t)c->tw_size_ns <= st->tw_closed_new)
			continue;
		memcpy(key, st->arena + k->off, k->len);
		key[0] = 0xc3; /* carried = true */
		db = agg_group(d, c, agg_key_hash(key, k->len), key, k->len);
		if (!db) {
			ctx->counters[AGG_CNT_GROUPS_OVERFLOW] += *(const uint64_t *)sb;
			continue;
		}
		*(uint64_t *)db += *(const uint64_t *)sb;
		for (uint32_t a = 0; a < c->n_aggs; a++)
			agg_merge_block(&c->aggs[a], db + c->aggs[a].off, &d->dds,
					sb + c->aggs[a].off, &st->dds, d->scratch);
	}
	if (d) {
		if (st->max_t > d->max_t)
			d->max_t = st->max_t;
		if (st->tw_closed_new > d->closed)
			d->closed = st->tw_closed_new;
	}
	/* st keeps its max_t: the runtime merges st, emptied, into the other replicas' next
	 * states, where it lowers their close_min to this close's maximum. That can only
	 * delay a later close; forgetting it (INT64_MIN: no say) could let a replica that
	 * then sat idle through a period miss the watermark of its own queued events. */
	st->closed = st->tw_closed_new;
}

/* Emit the windows the watermark closed, in order of end, then group. */
static bool agg_tw_emit(const struct agg_conf *c, struct agg_state *st, uint64_t *cursor,
			struct sl_ctx *ctx, struct sl_emit *out)
{
	unsigned emitted = 0;

	if (*cursor == 0) {
		/* The final close merges every state into the closer's current one. */
		st->tw_final = ctx->state == st;
		agg_tw_plan(c, st, ctx);
		*cursor = 1;
	}
	while (st->tw_e != INT64_MAX && st->tw_e <= st->tw_closed_new) {
		while (st->tw_g < st->tw_n_groups) {
			struct rte_mbuf *m;
			uint32_t len;

			if (emitted == SL_EMIT_CAP)
				return true;
			if (!agg_tw_window(c, st, st->tw_g, st->tw_e)) {
				st->tw_g++;
				continue;
			}
			m = ctx->host->event_alloc(ctx);
			if (!m)
				return true;
			len = agg_tw_record(c, st, st->tw_g, st->tw_e, m);
			st->tw_g++;
			emitted++;
			if (!sl_emit_new_record(ctx, out, 0, m, len))
				ctx->counters[AGG_CNT_EMIT_TOO_LARGE]++;
		}
		st->tw_g = 0;
		st->tw_e = agg_tw_next_end(c, st, st->tw_e);
	}
	if (!st->tw_final)
		agg_tw_carry(c, st, ctx);
	else
		st->closed = st->tw_closed_new;
	return false;
}

static bool agg_state_emit(const void *conf, void *state, uint64_t *cursor, struct sl_ctx *ctx,
			   struct sl_emit *out)
{
	const struct agg_conf *c = conf;
	struct agg_state *st = state;
	unsigned emitted = 0;

	if (c->tw_size_ns)
		return agg_tw_emit(c, st, cursor, ctx, out);

	if (*cursor == 0) {
		for (uint32_t g = 0; g < st->n_groups; g++)
			st->order[g] = g;
		qsort_r(st->order, st->n_groups, sizeof(st->order[0]), agg_group_cmp, st);
		ctx->counters[AGG_CNT_GROUPS_OVERFLOW] += st->n_lost;
		st->n_lost = 0;
	}
	while (*cursor < st->n_groups && emitted < SL_EMIT_CAP) {
		struct rte_mbuf *m = ctx->host->event_alloc(ctx);
		uint32_t len;

		if (!m)
			return true;
		len = agg_record(c, st, st->order[*cursor], m);
		(*cursor)++;
		emitted++;
		if (!sl_emit_new_record(ctx, out, 0, m, len))
			ctx->counters[AGG_CNT_EMIT_TOO_LARGE]++;
	}
	return *cursor < st->n_groups;
}

/* The fields process reads (projection: a parser upstream may skip writing the others). */
static const char *const *agg_reads(const void *conf)
{
	return ((const struct agg_conf *)conf)->reads;
}

static const struct sl_state_ops agg_state_ops = {
	.create = agg_state_create,
	.merge = agg_state_merge,
	.emit = agg_state_emit,
	.reset = agg_state_reset,
	.destroy = agg_state_destroy,
};

const struct sl_stage_desc sl_stage_aggregate = {
	SL_STAGE_DESC_INIT,
	.name = "aggregate",
	.version = "1.0.0",
	.summary = "group records by fields and compute count, sum, min, max, avg, distinct, "
		   "quantile and top_k per group, per window",
	.params = agg_params,
	.outputs = agg_outputs,
	.counters = agg_counters,
	.flags = SL_STAGE_F_WINDOWED,
	.init = agg_init,
	.process = agg_process,
	.fini = agg_fini,
	.state = &agg_state_ops,
	.reads = agg_reads,
};
