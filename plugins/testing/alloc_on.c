/*
 * alloc_on: a test plugin that leaks memory the way a buggy stage does (issue 8, the
 * memory cap). It takes `marker: STRING` and `bytes: SIZE` (1M by default): on an event
 * whose raw bytes contain the marker it allocates `bytes`, writes every page of it (so
 * the memory is resident, not just reserved) and keeps it until fini. Every other event
 * passes through unchanged on the default output.
 *
 * When malloc returns NULL the event is failed: `on_null: fail` (the default) sends it out
 * of the `failed` output with a record {"error": "out_of_memory", "stage": "alloc_on",
 * "bytes": N}, the `reason` a dlq sink shows; `on_null: abort` calls abort(), as a
 * stage that treats allocation failure as fatal does (a sandbox child is then restarted).
 * Used by tests/integration/memory_cap.sh and perf/bench-isolation.sh.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>

#include <sluice/record.h>
#include <sluice/stage.h>

enum { ALLOC_ON_CTR_PASSED = 0, ALLOC_ON_CTR_ALLOCATED, ALLOC_ON_CTR_OUT_OF_MEMORY };
enum { ALLOC_ON_PORT_DEFAULT = 0, ALLOC_ON_PORT_FAILED };

struct alloc_on_conf {
	size_t bytes;
	bool abort_on_null;
	void *kept; /* allocations, linked through their first word (lock-free stack) */
	size_t len;
	char marker[];
};

static const char *const alloc_on_counters[] = { "passed", "allocated", "out_of_memory", NULL };
static const char *const alloc_on_outputs[] = { "default", "failed", NULL };

static const struct sl_param_desc alloc_on_params[] = {
	{ "marker", SL_PARAM_STR, true, NULL,
	  "allocate (and keep) `bytes` on an event whose raw bytes contain this string" },
	{ "bytes", SL_PARAM_INT, false, "1M", "bytes to allocate per marked event (16 to 1G)" },
	{ "on_null", SL_PARAM_STR, false, "fail",
	  "when malloc returns NULL: fail (the event leaves on `failed`, reason out_of_memory) "
	  "or abort" },
	{ NULL },
};

static int alloc_on_init(const struct sl_host *host, const struct sl_args *args, void **conf,
			 struct sl_error *err)
{
	const struct sl_arg *m = sl_args_get(args, "marker");
	const struct sl_arg *b = sl_args_get(args, "bytes");
	const struct sl_arg *o = sl_args_get(args, "on_null");
	size_t n = m && m->str ? strlen(m->str) : 0;
	struct alloc_on_conf *c;

	(void)host;
	if (n == 0) {
		err->key = "marker";
		snprintf(err->msg, sizeof(err->msg), "must not be empty");
		return -EINVAL;
	}
	if (b && (b->i < 16 || b->i > (1 << 30))) {
		err->key = "bytes";
		snprintf(err->msg, sizeof(err->msg), "expected 16 to 1G, got %lld",
			 (long long)b->i);
		return -EINVAL;
	}
	if (o && o->str && strcmp(o->str, "fail") != 0 && strcmp(o->str, "abort") != 0) {
		err->key = "on_null";
		snprintf(err->msg, sizeof(err->msg), "expected fail or abort, got '%s'", o->str);
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c) + n + 1);
	if (!c) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return -ENOMEM;
	}
	c->bytes = b ? (size_t)b->i : (1u << 20);
	c->abort_on_null = o && o->str && strcmp(o->str, "abort") == 0;
	c->len = n;
	memcpy(c->marker, m->str, n + 1);
	*conf = c;
	return 0;
}

static void alloc_on_fini(void *conf)
{
	struct alloc_on_conf *c = conf;
	void *p = c->kept;

	while (p) {
		void *next = *(void **)p;

		free(p);
		p = next;
	}
	free(c);
}

/* The event out of `failed` with an out_of_memory record after its raw bytes. */
static void alloc_on_fail(const struct alloc_on_conf *c, struct sl_ctx *ctx, struct rte_mbuf *ev,
			  struct sl_emit *out)
{
	struct sl_rec_writer w;

	ev = sl_fail_record_begin(ctx, ev, "out_of_memory", "alloc_on", &w);
	if (!ev)
		return;
	sl_rec_put_int(&w, "bytes", (int64_t)c->bytes);
	sl_fail_record_end(ctx, ev, &w);
	sl_emit(out, ALLOC_ON_PORT_FAILED, ev);
}

static void alloc_on_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
			     struct sl_emit *out)
{
	struct alloc_on_conf *c = (struct alloc_on_conf *)(uintptr_t)conf;

	for (uint16_t i = 0; i < in->n; i++) {
		struct rte_mbuf *ev = in->ev[i];
		const struct sl_meta *meta = sl_ctx_meta(ctx, ev);
		uint32_t raw = meta->raw_len < ev->data_len ? meta->raw_len : ev->data_len;
		void *p, *head;

		if (!memmem(rte_pktmbuf_mtod(ev, const char *), raw, c->marker, c->len)) {
			ctx->counters[ALLOC_ON_CTR_PASSED]++;
			sl_emit(out, ALLOC_ON_PORT_DEFAULT, ev);
			continue;
		}
		p = malloc(c->bytes);
		if (!p) {
			if (c->abort_on_null)
				abort();
			ctx->counters[ALLOC_ON_CTR_OUT_OF_MEMORY]++;
			alloc_on_fail(c, ctx, ev, out);
			continue;
		}
		memset(p, 0xa5, c->bytes);
		head = __atomic_load_n(&c->kept, __ATOMIC_RELAXED);
		do
			*(void **)p = head;
		while (!__atomic_compare_exchange_n(&c->kept, &head, p, true, __ATOMIC_RELEASE,
						    __ATOMIC_RELAXED));
		ctx->counters[ALLOC_ON_CTR_ALLOCATED]++;
		sl_emit(out, ALLOC_ON_PORT_DEFAULT, ev);
	}
}

static const struct sl_stage_desc alloc_on_stage = {
	SL_STAGE_DESC_INIT,
	.name = "alloc_on",
	.version = "1.0.0",
	.summary = "test plugin: pass events through; allocate and keep `bytes` on one "
		   "containing `marker`, fail it when malloc returns NULL",
	.params = alloc_on_params,
	.outputs = alloc_on_outputs,
	.counters = alloc_on_counters,
	.flags = SL_STAGE_F_FORWARDS,
	.init = alloc_on_init,
	.process = alloc_on_process,
	.fini = alloc_on_fini,
};

SL_PLUGIN(&alloc_on_stage);
