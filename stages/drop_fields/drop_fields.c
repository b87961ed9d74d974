/*
 * drop_fields: removes the listed top-level fields from each event's record (`fields:
 * [referer, user_agent]`). An event whose record has none of them passes on untouched, with
 * no copy; otherwise the record is rewritten without them in place of the old one (a shared
 * event is first copied through host->event_unshare). The raw line in front of the record
 * is kept. Fields that are absent are not an error. Built-in stage; uses only the SDK; no
 * allocation per event.
 *
 * Projection: it reads no field's value and passes its events on (SL_STAGE_F_FORWARDS), so
 * what its consumers read is what it needs upstream.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>

#include <sluice/event.h>
#include <sluice/record.h>
#include <sluice/stage.h>

enum { DROPF_CNT_REWRITTEN = 0, DROPF_CNT_UNCHANGED, DROPF_CNT_TOO_LARGE, DROPF_CNT_NOMBUF };

static const char *const dropf_counters[] = { "rewritten", "unchanged", "too_large", "nombuf",
					      NULL };

#define DROPF_MAX 64

static const struct sl_param_desc dropf_params[] = {
	{ .name = "fields",
	  .type = SL_PARAM_LIST,
	  .required = true,
	  .help = "top-level record fields to remove" },
	{ NULL },
};

struct dropf_conf {
	uint32_t n;
	struct sl_rec_key keys[DROPF_MAX];
	char *names[DROPF_MAX];
};

static const char *const dropf_reads_none[] = { NULL };

static int dropf_fail(struct sl_error *err, const char *fmt, const char *arg)
{
	err->key = "fields";
	err->offset = 0;
	snprintf(err->msg, sizeof(err->msg), fmt, arg);
	return -EINVAL;
}

static void dropf_fini(void *conf)
{
	struct dropf_conf *c = conf;

	for (uint32_t i = 0; c && i < c->n; i++)
		free(c->names[i]);
	free(c);
}

static int dropf_init(const struct sl_host *host, const struct sl_args *args, void **conf,
		      struct sl_error *err)
{
	const struct sl_arg *f = sl_args_get(args, "fields");
	struct dropf_conf *c;

	if (!f || !f->list || !f->list[0])
		return dropf_fail(err, "%s", "list at least one field");
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	for (const char *const *p = f->list; *p; p++) {
		if (c->n == DROPF_MAX) {
			dropf_fini(c);
			return dropf_fail(err, "at most %s fields", "64");
		}
		if (!**p) {
			dropf_fini(c);
			return dropf_fail(err, "%s", "a field name is empty");
		}
		c->names[c->n] = strdup(*p);
		if (!c->names[c->n]) {
			dropf_fini(c);
			return -ENOMEM;
		}
		sl_rec_key_init(&c->keys[c->n], c->names[c->n], strlen(c->names[c->n]));
		c->n++;
	}
	*conf = c;
	return 0;
}

/* The key (a string value) is one of the fields to drop. */
static bool dropf_listed(const struct dropf_conf *c, const struct sl_val *k)
{
	if (k->type != SL_VAL_STR)
		return false;
	for (uint32_t i = 0; i < c->n; i++)
		if (c->keys[i].len == k->s.len && memcmp(c->keys[i].name, k->s.p, k->s.len) == 0)
			return true;
	return false;
}

/* Some top-level key of rec is listed. */
static bool dropf_any(const struct dropf_conf *c, struct sl_rec rec)
{
	struct sl_val k, v;
	uint32_t pos = 0;

	while (sl_rec_next(rec, &pos, &k, &v))
		if (dropf_listed(c, &k))
			return true;
	return false;
}

/* Write rec without the listed fields behind the event's data, then move it over the old
 * record. Returns false when it does not fit. */
static bool dropf_rewrite(const struct dropf_conf *c, struct sl_ctx *ctx, struct rte_mbuf *ev)
{
	struct sl_meta *meta = sl_ctx_meta(ctx, ev);
	struct sl_rec rec = sl_event_record(ctx, ev);
	uint8_t *dst = rte_pktmbuf_mtod_offset(ev, uint8_t *, ev->data_len);
	struct sl_rec_writer w;
	struct sl_val k, v;
	uint32_t pos = 0, len;

	sl_rec_begin(&w, dst, (uint32_t)rte_pktmbuf_tailroom(ev));
	while (sl_rec_next(rec, &pos, &k, &v)) {
		if (dropf_listed(c, &k))
			continue;
		sl_rec_key(&w, k.s.p, k.s.len);
		sl_rec_writer_cb(&w, (const char *)v.raw, v.raw_len);
	}
	len = sl_rec_end(&w);
	if (len == 0)
		return false;
	memmove(rte_pktmbuf_mtod_offset(ev, uint8_t *, meta->rec_off), dst, len);
	ev->data_len = (uint16_t)(meta->rec_off + len);
	ev->pkt_len = ev->data_len;
	return true;
}

static void dropf_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
			  struct sl_emit *out)
{
	const struct dropf_conf *c = conf;
	uint64_t *cnt = ctx->counters;

	for (uint16_t i = 0; i < in->n; i++) {
		struct rte_mbuf *ev = in->ev[i];
		struct sl_rec rec = sl_event_record(ctx, ev);

		if (rec.len == 0 || !dropf_any(c, rec)) {
			cnt[DROPF_CNT_UNCHANGED]++;
			sl_emit(out, 0, ev);
			continue;
		}
		if (rte_mbuf_refcnt_read(ev) > 1) {
			/* Fan-out shares events; the host released ev if it returns NULL. */
			ev = ctx->host->event_unshare(ctx, ev);
			if (!ev) {
				cnt[DROPF_CNT_NOMBUF]++;
				continue;
			}
		}
		if (!dropf_rewrite(c, ctx, ev)) {
			cnt[DROPF_CNT_TOO_LARGE]++;
			sl_drop(out, ev, SL_DROP_INVALID);
			continue;
		}
		cnt[DROPF_CNT_REWRITTEN]++;
		sl_emit(out, 0, ev);
	}
}

static const char *const *dropf_reads(const void *conf)
{
	return dropf_reads_none;
}

const struct sl_stage_desc sl_stage_drop_fields = {
	SL_STAGE_DESC_INIT,	    .name = "drop_fields",
	.version = "1.0.0",	    .summary = "remove fields from records",
	.params = dropf_params,	    .outputs = NULL,
	.counters = dropf_counters, .flags = SL_STAGE_F_FORWARDS,
	.init = dropf_init,	    .process = dropf_process,
	.fini = dropf_fini,	    .reads = dropf_reads,
};
