/*
 * sample: keeps about one event in `rate` and drops the others (reason `filtered`, counted
 * as `sampled_out`). The choice is a hash, not a counter, so the stage keeps no state and
 * every replica, and every run, decides the same way:
 *   - without `key`, the hash of the event's id (source slot and byte offset for file
 *     lines), so a given line is always kept or always dropped;
 *   - with `key: FIELD`, the hash of that record field's encoded value, so all events with
 *     the same value go together (every request of a kept client). Events without the
 *     field are kept and counted as `missing_key`.
 * `seed` picks another, independent sample. Built-in stage; uses only the SDK; events are
 * only read, never modified, and pass on unchanged (SL_STAGE_F_FORWARDS).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>
#include <rte_prefetch.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <sluice/event.h>
#include <sluice/record.h>
#include <sluice/stage.h>

enum { SAMPLE_CNT_KEPT = 0, SAMPLE_CNT_OUT, SAMPLE_CNT_MISSING };

static const char *const sample_counters[] = { "kept", "sampled_out", "missing_key", NULL };

static const struct sl_param_desc sample_params[] = {
	{ .name = "rate",
	  .type = SL_PARAM_INT,
	  .required = true,
	  .help = "keep about one event in rate (1 keeps all)" },
	{ .name = "key",
	  .type = SL_PARAM_STR,
	  .help = "record field whose value decides, so equal values are kept together" },
	{ .name = "seed",
	  .type = SL_PARAM_INT,
	  .def = "0",
	  .help = "another seed, another sample" },
	{ NULL },
};

struct sample_conf {
	uint64_t rate;
	uint64_t seed;
	char *key; /* NULL: by event id */
	struct sl_rec_key rkey;
	const char *reads[2]; /* { key, NULL } or { NULL } */
};

static int sample_init(const struct sl_host *host, const struct sl_args *args, void **conf,
		       struct sl_error *err)
{
	const struct sl_arg *rate = sl_args_get(args, "rate");
	const struct sl_arg *key = sl_args_get(args, "key");
	const struct sl_arg *seed = sl_args_get(args, "seed");
	struct sample_conf *c;

	if (!rate || rate->i < 1) {
		err->key = "rate";
		err->offset = 0;
		snprintf(err->msg, sizeof(err->msg), "must be 1 or more");
		return -EINVAL;
	}
	if (key && key->str && key->str[0] == '\0') {
		err->key = "key";
		err->offset = 0;
		snprintf(err->msg, sizeof(err->msg), "must name a record field");
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->rate = (uint64_t)rate->i;
	c->seed = seed ? (uint64_t)seed->i : 0;
	if (key && key->str) {
		c->key = strdup(key->str);
		if (!c->key) {
			free(c);
			return -ENOMEM;
		}
		sl_rec_key_init(&c->rkey, c->key, strlen(c->key));
		c->reads[0] = c->key;
	}
	*conf = c;
	return 0;
}

static void sample_fini(void *conf)
{
	struct sample_conf *c = conf;

	if (c)
		free(c->key);
	free(c);
}

/* Keep when the hash falls in the first 1/rate of its range. */
static inline bool sample_keep(const struct sample_conf *c, uint64_t h)
{
	return h % c->rate == 0;
}

static void sample_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
			   struct sl_emit *out)
{
	const struct sample_conf *c = conf;
	uint64_t *cnt = ctx->counters;
	struct rte_mbuf **evs = in->ev;
	uint16_t n = in->n;

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *ev = evs[i];
		const struct sl_meta *meta = sl_ctx_meta(ctx, ev);
		uint64_t h;

		if (i + 1 < n)
			rte_prefetch0((char *)evs[i + 1] + RTE_CACHE_LINE_SIZE);
		if (c->key) {
			struct sl_rec rec = sl_event_record(ctx, ev);
			struct sl_val v;

			if (rec.len == 0 || !sl_rec_get(rec, &c->rkey, &v)) {
				cnt[SAMPLE_CNT_MISSING]++;
				cnt[SAMPLE_CNT_KEPT]++;
				sl_emit(out, 0, ev);
				continue;
			}
			h = XXH3_64bits_withSeed(v.raw, v.raw_len, c->seed);
		} else {
			h = XXH3_64bits_withSeed(&meta->event_id, sizeof(meta->event_id), c->seed);
		}
		if (sample_keep(c, h)) {
			cnt[SAMPLE_CNT_KEPT]++;
			sl_emit(out, 0, ev);
		} else {
			cnt[SAMPLE_CNT_OUT]++;
			sl_drop(out, ev, SL_DROP_FILTERED);
		}
	}
}

/* Projection: the key field only; the events pass on unchanged. */
static const char *const *sample_reads(const void *conf)
{
	return ((const struct sample_conf *)conf)->reads;
}

const struct sl_stage_desc sl_stage_sample = {
	SL_STAGE_DESC_INIT,
	.name = "sample",
	.version = "1.0.0",
	.summary = "keep about one event in N, by event id or by the value of a field",
	.params = sample_params,
	.outputs = NULL,
	.counters = sample_counters,
	.flags = SL_STAGE_F_FORWARDS,
	.init = sample_init,
	.process = sample_process,
	.fini = sample_fini,
	.reads = sample_reads,
};
