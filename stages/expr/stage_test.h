/*
 * Helpers shared by the unit tests of the stages built on the expression engine (route,
 * set, redact): a test pool and context, an init from name/value parameters, events made
 * of a line and a record, and one process call. Test code only; included once per test.
 */
#ifndef SL_STAGES_EXPR_STAGE_TEST_H
#define SL_STAGES_EXPR_STAGE_TEST_H

#include <rte_mbuf.h>

#include <sluice/stage.h>

#include "eal.h"
#include "event/event.h"
#include "plugin/registry.h"

static struct rte_mempool *pool;
static int meta_off;
static const struct sl_stage_desc *desc;
static struct sl_ctx_host host_priv;
static uint64_t counters[SL_COUNTER_MAX];
static struct sl_ctx ctx;
static struct sl_emit out;

static void st_setup(const char *stage)
{
	pool = sl_test_pool(256, 2048, &meta_off);
	desc = sl_test_builtin(stage);
	ctx = sl_test_ctx(&host_priv, pool, meta_off, counters, stage);
}

/* Parameters: up to 4, each a STR, a LIST or a MAP (items NULL-terminated). */
struct st_param {
	const char *key;
	enum sl_param_type type;
	const char *str;
	const char *const *list;
};

static int st_init(const struct st_param *p, uint32_t n, void **conf, struct sl_error *err)
{
	struct sl_arg v[4];
	struct sl_args args = { .file = "t.yaml", .name = "s", .n = n, .v = v };

	memset(v, 0, sizeof(v));
	for (uint32_t i = 0; i < n; i++) {
		v[i].key = p[i].key;
		v[i].type = p[i].type;
		v[i].str = p[i].str ? p[i].str : "";
		v[i].list = p[i].list;
		while (p[i].list && p[i].list[v[i].n_list])
			v[i].n_list++;
	}
	memset(err, 0, sizeof(*err));
	*conf = NULL;
	return desc->init(&sl_host_table, &args, conf, err);
}

/* `line` followed by {"status": status, "method": method, "path": path, "n": nil}. */
static struct rte_mbuf *st_event(const char *line, int status, const char *method, const char *path)
{
	struct rte_mbuf *ev = rte_pktmbuf_alloc(pool);
	uint16_t pad = (uint16_t)strlen(line);
	struct sl_meta *meta;
	struct sl_rec_writer w;
	uint32_t len;

	assert_non_null(ev);
	meta = sl_event_meta(meta_off, ev);
	memset(meta, 0, sizeof(*meta));
	memcpy(rte_pktmbuf_mtod(ev, char *), line, pad);
	sl_rec_begin(&w, rte_pktmbuf_mtod_offset(ev, char *, pad),
		     (uint32_t)rte_pktmbuf_tailroom(ev) - pad);
	sl_rec_put_int(&w, "status", status);
	sl_rec_put_str(&w, "method", method, strlen(method));
	sl_rec_put_str(&w, "path", path, strlen(path));
	sl_rec_key(&w, "n", 1);
	msgpack_pack_nil(&w.pk);
	len = sl_rec_end(&w);
	assert_true(len > 0);
	ev->data_len = (uint16_t)(pad + len);
	ev->pkt_len = pad + len;
	meta->kind = SL_EVENT_RECORD;
	meta->raw_len = pad;
	meta->rec_off = pad;
	return ev;
}

static void st_run(const void *conf, struct rte_mbuf **evs, uint16_t n, uint16_t n_ports)
{
	struct sl_burst in = { .ev = evs, .n = n };

	memset(&out, 0, sizeof(out));
	out.n_ports = n_ports;
	memset(counters, 0, sizeof(counters));
	desc->process(conf, &ctx, &in, &out);
}

/* The record's keys joined by ','. */
static __attribute__((unused)) void st_keys(struct rte_mbuf *ev, char *buf, size_t len)
{
	struct sl_rec rec = sl_event_record(&ctx, ev);
	struct sl_val k, v;
	uint32_t pos = 0;
	size_t o = 0;

	buf[0] = '\0';
	while (sl_rec_next(rec, &pos, &k, &v) && o + k.s.len + 2 < len)
		o += (size_t)snprintf(buf + o, len - o, "%s%.*s", o ? "," : "", (int)k.s.len,
				      k.s.p);
}

#endif
