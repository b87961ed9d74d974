/*
 * set: writes computed values into records. `fields: {name: "expression", ...}` (the
 * shared expressions, stages/expr, docs/expressions.md) are evaluated against the record
 * as it arrives, all of them before anything is written, then the record is rewritten
 * once: a field that exists keeps its place and takes the new value, the others are
 * appended in the order written (built in a per-lcore scratch buffer, then copied over
 * the old record, so a record may grow up to the end of the event). An expression with no answer (a missing field, a division
 * by zero) leaves its field as it was and counts in `unset`. Names are top-level keys
 * (`a.b` is the key "a.b"). A shared (fanned-out) event is copied first
 * (host->event_unshare) so other consumers keep the original. The raw line in front of
 * the record stays. Built-in stage; uses only the SDK; no allocation per event.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <sluice/event.h>
#include <sluice/record.h>
#include <sluice/stage.h>

#include "event/event.h" /* sl_event_grow */

#include "../expr/expr.h"

#define SET_MAX 64
/* The record is built in the lcore's scratch, then copied over the old one. */
#define SET_SCRATCH 8192

enum { SET_CNT_REWRITTEN = 0, SET_CNT_UNSET, SET_CNT_NO_RECORD, SET_CNT_TOO_LARGE, SET_CNT_NOMBUF };

static const char *const set_counters[] = { "rewritten", "unset",  "no_record",
					    "too_large", "nombuf", NULL };

static const struct sl_param_desc set_params[] = {
	{ .name = "fields",
	  .type = SL_PARAM_MAP,
	  .required = true,
	  .help = "name: expression, e.g. kb: \"bytes / 1024\"" },
	{ NULL },
};

struct set_conf {
	uint32_t n;
	char *names[SET_MAX];
	struct sl_rec_key keys[SET_MAX];
	struct sl_expr *expr[SET_MAX];
	const char **fields; /* what the expressions read, NULL-terminated (projection) */
	uint32_t n_lcores;
	uint8_t *scratch; /* SET_SCRATCH per lcore */
};

static void set_fini(void *conf)
{
	struct set_conf *c = conf;

	if (!c)
		return;
	for (uint32_t i = 0; i < c->n; i++) {
		free(c->names[i]);
		sl_expr_destroy(c->expr[i]);
	}
	free(c->fields);
	free(c->scratch);
	free(c);
}

static int set_init(const struct sl_host *host, const struct sl_args *args, void **conf,
		    struct sl_error *err)
{
	const struct sl_arg *f = sl_args_get(args, "fields");
	struct set_conf *c;
	int rc;

	err->key = "fields";
	err->item = 0;
	err->offset = 0;
	if (!f || f->n_list < 2) {
		snprintf(err->msg, sizeof(err->msg), "give at least one field: name: expression");
		return -EINVAL;
	}
	if (f->n_list / 2 > SET_MAX) {
		snprintf(err->msg, sizeof(err->msg), "at most %d fields", SET_MAX);
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	for (uint32_t i = 0; i < f->n_list / 2; i++) {
		const char *name = f->list[2 * i];
		uint32_t off = 0;

		if (!*name || strlen(name) > 255) {
			set_fini(c);
			snprintf(err->msg, sizeof(err->msg), "a field name has 1 to 255 bytes");
			err->item = i + 1;
			return -EINVAL;
		}
		c->names[i] = strdup(name);
		if (!c->names[i]) {
			set_fini(c);
			return -ENOMEM;
		}
		c->n = i + 1;
		sl_rec_key_init(&c->keys[i], c->names[i], strlen(c->names[i]));
		rc = sl_expr_compile(f->list[2 * i + 1], RTE_MAX_LCORE, &c->expr[i], &off, err->msg,
				     sizeof(err->msg));
		if (rc < 0) {
			set_fini(c);
			err->item = i + 1;
			err->offset = off;
			return rc;
		}
	}
	c->fields = sl_expr_fields_union(c->expr, c->n);
	rc = c->fields ? 0 : -ENOMEM;
	c->n_lcores = RTE_MAX_LCORE;
	c->scratch = malloc((size_t)c->n_lcores * SET_SCRATCH);
	if (rc < 0 || !c->scratch) {
		set_fini(c);
		return -ENOMEM;
	}
	*conf = c;
	return 0;
}

static void set_put(struct sl_rec_writer *w, const struct sl_expr_value *v)
{
	switch (v->type) {
	case SL_EXPR_INT:
		msgpack_pack_int64(&w->pk, v->i);
		break;
	case SL_EXPR_FLOAT:
		msgpack_pack_double(&w->pk, v->f);
		break;
	case SL_EXPR_STR:
		msgpack_pack_str_with_body(&w->pk, v->s.p, v->s.len);
		break;
	case SL_EXPR_BOOL:
		if (v->b)
			msgpack_pack_true(&w->pk);
		else
			msgpack_pack_false(&w->pk);
		break;
	case SL_EXPR_OTHER:
		sl_rec_writer_cb(w, (const char *)v->raw, v->raw_len);
		break;
	default:
		msgpack_pack_nil(&w->pk);
		break;
	}
}

/* Index of key k among the names, or -1. */
static int set_index(const struct set_conf *c, const struct sl_val *k)
{
	if (k->type != SL_VAL_STR)
		return -1;
	for (uint32_t i = 0; i < c->n; i++)
		if (c->keys[i].len == k->s.len && memcmp(c->keys[i].name, k->s.p, k->s.len) == 0)
			return (int)i;
	return -1;
}

/* Write the record with the values set into dst (the lcore's scratch), then copy it over
 * the old one. False when it does not fit in the event. */
static bool set_rewrite(const struct set_conf *c, const struct sl_expr_value *vals,
			struct sl_ctx *ctx, struct rte_mbuf *ev, uint8_t *dst)
{
	struct sl_meta *meta = sl_ctx_meta(ctx, ev);
	struct sl_rec rec = sl_event_record(ctx, ev);
	size_t room = rte_pktmbuf_tailroom(ev) + (size_t)(ev->data_len - meta->rec_off);
	bool done[SET_MAX] = { false };
	struct sl_rec_writer w;
	struct sl_val k, v;
	uint32_t pos = 0, len;

	sl_rec_begin(&w, dst, (uint32_t)(room < SET_SCRATCH ? room : SET_SCRATCH));
	while (sl_rec_next(rec, &pos, &k, &v)) {
		int i = set_index(c, &k);

		if (i >= 0 && done[i])
			continue; /* a duplicate key: the record keeps one */
		if (k.type == SL_VAL_STR) {
			sl_rec_key(&w, k.s.p, k.s.len);
		} else { /* a key of another type, kept as it is */
			sl_rec_writer_cb(&w, (const char *)k.raw, k.raw_len);
			w.n_fields++;
		}
		if (i >= 0 && vals[i].type != SL_EXPR_MISSING) {
			set_put(&w, &vals[i]);
			done[i] = true;
		} else {
			sl_rec_writer_cb(&w, (const char *)v.raw, v.raw_len);
			if (i >= 0)
				done[i] = true;
		}
	}
	for (uint32_t i = 0; i < c->n; i++) {
		if (done[i] || vals[i].type == SL_EXPR_MISSING)
			continue;
		sl_rec_key(&w, c->keys[i].name, c->keys[i].len);
		set_put(&w, &vals[i]);
	}
	len = sl_rec_end(&w);
	if (len == 0)
		return false;
	memcpy(rte_pktmbuf_mtod_offset(ev, uint8_t *, meta->rec_off), dst, len);
	ev->data_len = (uint16_t)(meta->rec_off + len);
	ev->pkt_len = ev->data_len;
	return true;
}

static void set_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
			struct sl_emit *out)
{
	const struct set_conf *c = conf;
	uint64_t *cnt = ctx->counters;
	unsigned lcore = ctx->lcore;
	uint8_t *scratch = c->scratch + (size_t)(lcore % c->n_lcores) * SET_SCRATCH;

	for (uint16_t i = 0; i < in->n; i++) {
		struct rte_mbuf *ev = in->ev[i];
		struct sl_expr_value vals[SET_MAX];
		struct sl_rec rec = sl_event_record(ctx, ev);

		if (rec.len == 0) {
			cnt[SET_CNT_NO_RECORD]++;
			sl_emit(out, 0, ev);
			continue;
		}
		if (rte_mbuf_refcnt_read(ev) > 1) {
			/* Fan-out shares events; the host released ev if it returns NULL. */
			ev = ctx->host->event_unshare(ctx, ev);
			if (!ev) {
				cnt[SET_CNT_NOMBUF]++;
				continue;
			}
			rec = sl_event_record(ctx, ev);
		}
		/* Every value from the record as it came, before anything changes. */
		for (uint32_t k = 0; k < c->n; k++) {
			sl_expr_eval(c->expr[k], rec, lcore, &vals[k]);
			if (vals[k].type == SL_EXPR_MISSING)
				cnt[SET_CNT_UNSET]++;
		}
		/* Too big for a small event: the big room (event.h), then again. */
		if (!set_rewrite(c, vals, ctx, ev, scratch) &&
		    !(sl_event_grow(ev) && set_rewrite(c, vals, ctx, ev, scratch))) {
			cnt[SET_CNT_TOO_LARGE]++;
			sl_drop(out, ev, SL_DROP_INVALID);
			continue;
		}
		cnt[SET_CNT_REWRITTEN]++;
		sl_emit(out, 0, ev);
	}
}

static const char *const *set_reads(const void *conf)
{
	const struct set_conf *c = conf;

	return c->fields;
}

const struct sl_stage_desc sl_stage_set = {
	SL_STAGE_DESC_INIT,	  .name = "set",
	.version = "1.0.0",	  .summary = "write computed values into record fields",
	.params = set_params,	  .outputs = NULL,
	.counters = set_counters, .flags = SL_STAGE_F_FORWARDS,
	.init = set_init,	  .process = set_process,
	.fini = set_fini,	  .reads = set_reads,
};
