/*
 * garbage_on: a test plugin that returns invalid output the way a buggy stage does. It
 * takes `marker: STRING` and `garbage: count | msgpack | double | forget` and passes every event
 * through unchanged on its default output, except one whose raw bytes contain the marker:
 *   - count:   it sets its output count far past SL_EMIT_CAP (out-of-range count);
 *   - msgpack: it emits the event as a record whose bytes are not msgpack;
 *   - double:  it emits the same mbuf twice;
 *   - forget:  it neither emits nor drops it (in process: counted as dropped, `lost`).
 * The runtime must notice each of these and fail the event (`isolation: process`: to the
 * DLQ with reason stage_garbage) or, in process, fail cleanly where it can check
 * (tests/integration/isolation.sh). It declares a `failed` output so `inputs: [x.failed]`
 * validates.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/stage.h>

enum { GARBAGE_ON_CTR_PASSED = 0, GARBAGE_ON_CTR_GARBAGE };

enum garbage_kind {
	GARBAGE_COUNT = 0,
	GARBAGE_MSGPACK,
	GARBAGE_DOUBLE,
	GARBAGE_FORGET,
};

static const char *const garbage_on_counters[] = { "passed", "garbage", NULL };
static const char *const garbage_on_outputs[] = { "default", "failed", NULL };

static const struct sl_param_desc garbage_on_params[] = {
	{ "marker", SL_PARAM_STR, true, NULL,
	  "return invalid output for an event whose raw bytes contain this string" },
	{ "garbage", SL_PARAM_STR, false, "count",
	  "which: count (out-of-range output count), msgpack (invalid record), double (the same "
	  "event emitted twice), forget (neither emitted nor dropped)" },
	{ NULL },
};

struct garbage_on_conf {
	enum garbage_kind kind;
	size_t len;
	char marker[];
};

static int garbage_on_init(const struct sl_host *host, const struct sl_args *args, void **conf,
			   struct sl_error *err)
{
	const struct sl_arg *m = sl_args_get(args, "marker");
	const struct sl_arg *g = sl_args_get(args, "garbage");
	struct garbage_on_conf *c;
	size_t n = m && m->str ? strlen(m->str) : 0;
	enum garbage_kind kind;

	if (n == 0) {
		err->key = "marker";
		snprintf(err->msg, sizeof(err->msg), "must not be empty");
		return -EINVAL;
	}
	if (!g || !g->str || strcmp(g->str, "count") == 0) {
		kind = GARBAGE_COUNT;
	} else if (strcmp(g->str, "msgpack") == 0) {
		kind = GARBAGE_MSGPACK;
	} else if (strcmp(g->str, "double") == 0) {
		kind = GARBAGE_DOUBLE;
	} else if (strcmp(g->str, "forget") == 0) {
		kind = GARBAGE_FORGET;
	} else {
		err->key = "garbage";
		snprintf(err->msg, sizeof(err->msg),
			 "expected count, msgpack, double or forget, got '%s'", g->str);
		return -EINVAL;
	}
	c = malloc(sizeof(*c) + n + 1);
	if (!c) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return -ENOMEM;
	}
	c->kind = kind;
	c->len = n;
	memcpy(c->marker, m->str, n + 1);
	*conf = c;
	return 0;
}

static void garbage_on_fini(void *conf)
{
	free(conf);
}

static void garbage_on_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
			       struct sl_emit *out)
{
	const struct garbage_on_conf *c = conf;
	bool bad_count = false;

	for (uint16_t i = 0; i < in->n; i++) {
		struct rte_mbuf *ev = in->ev[i];
		struct sl_meta *meta = sl_ctx_meta(ctx, ev);
		uint32_t raw = meta->raw_len < ev->data_len ? meta->raw_len : ev->data_len;
		uint8_t *tail;

		if (!memmem(rte_pktmbuf_mtod(ev, const char *), raw, c->marker, c->len)) {
			sl_emit(out, 0, ev);
			ctx->counters[GARBAGE_ON_CTR_PASSED]++;
			continue;
		}
		ctx->counters[GARBAGE_ON_CTR_GARBAGE]++;
		switch (c->kind) {
		case GARBAGE_COUNT:
			sl_emit(out, 0, ev);
			bad_count = true;
			break;
		case GARBAGE_MSGPACK:
			/* A map header promising 3 pairs, then a byte msgpack never uses. */
			tail = (uint8_t *)rte_pktmbuf_append(ev, 2);
			if (tail) {
				tail[0] = 0x83;
				tail[1] = 0xc1;
				meta->kind = SL_EVENT_RECORD;
				meta->raw_len = (uint16_t)raw;
				meta->rec_off = (uint16_t)(ev->data_len - 2);
			}
			sl_emit(out, 0, ev);
			break;
		case GARBAGE_DOUBLE:
			sl_emit(out, 0, ev);
			sl_emit(out, 0, ev);
			break;
		case GARBAGE_FORGET:
			break;
		}
	}
	/* Written straight into the emit list, as a stage with a bad index computation would. */
	if (bad_count)
		out->n[0] = 60000;
}

static const struct sl_stage_desc garbage_on_stage = {
	SL_STAGE_DESC_INIT,
	.name = "garbage_on",
	.version = "1.0.0",
	.summary = "test plugin: pass events through; invalid output for one containing `marker`",
	.params = garbage_on_params,
	.outputs = garbage_on_outputs,
	.counters = garbage_on_counters,
	.flags = SL_STAGE_F_FORWARDS,
	.init = garbage_on_init,
	.process = garbage_on_process,
	.fini = garbage_on_fini,
};

SL_PLUGIN(&garbage_on_stage);
