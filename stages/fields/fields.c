/*
 * Two record transforms that share one rewrite:
 *   - drop_fields removes the listed top-level fields (`fields: [referer, user_agent]`);
 *   - rename gives fields new names (`from: [ip, ua]`, `to: [client, agent]`); a field
 *     already called by a new name is replaced by the renamed one, as in Vector.
 * An event whose record has none of the fields passes on untouched, with no copy;
 * otherwise the record is rewritten in place of the old one (a shared event is first
 * copied through host->event_unshare, so other consumers keep the original). Other fields
 * keep their values and order, and the raw line in front of the record stays. Absent fields
 * are not an error. Built-in stages; only the SDK; no allocation per event.
 *
 * Projection: drop_fields reads no field's value and passes its events on
 * (SL_STAGE_F_FORWARDS). rename declares no reads hook: a consumer's field may come from
 * any `from`, so upstream writes everything.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>

#include <sluice/event.h>
#include <sluice/record.h>
#include <sluice/stage.h>

#include "event/event.h" /* sl_event_grow */

enum { DROPF_CNT_REWRITTEN = 0, DROPF_CNT_UNCHANGED, DROPF_CNT_TOO_LARGE, DROPF_CNT_NOMBUF };

/* Both stages count the same things. */
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

/* The fields to drop or rename (keys) and, for rename, their new names (to). */
struct dropf_conf {
	uint32_t n;
	struct sl_rec_key keys[DROPF_MAX];
	char *names[DROPF_MAX];
	char *to[DROPF_MAX]; /* rename only */
	struct sl_rec_key to_keys[DROPF_MAX];
};

static const char *const dropf_reads_none[] = { NULL };

static int dropf_fail_at(struct sl_error *err, const char *key, const char *fmt, const char *arg)
{
	err->key = key;
	err->offset = 0;
	snprintf(err->msg, sizeof(err->msg), fmt, arg);
	return -EINVAL;
}

static int dropf_fail(struct sl_error *err, const char *fmt, const char *arg)
{
	return dropf_fail_at(err, "fields", fmt, arg);
}

static void dropf_fini(void *conf)
{
	struct dropf_conf *c = conf;

	for (uint32_t i = 0; c && i < c->n; i++) {
		free(c->names[i]);
		free(c->to[i]);
	}
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

/* Index of the key (a string value) among the prepared names, or -1. */
static int dropf_index(const struct sl_rec_key *names, uint32_t n, const struct sl_val *k)
{
	if (k->type != SL_VAL_STR)
		return -1;
	for (uint32_t i = 0; i < n; i++)
		if (names[i].len == k->s.len && memcmp(names[i].name, k->s.p, k->s.len) == 0)
			return (int)i;
	return -1;
}

static bool dropf_listed(const struct dropf_conf *c, const struct sl_val *k)
{
	return dropf_index(c->keys, c->n, k) >= 0;
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

/* Write rec behind the event's data, the listed fields dropped or (rename) renamed, then
 * move it over the old record. Returns false when it does not fit. */
static bool dropf_rewrite(const struct dropf_conf *c, bool rename, struct sl_ctx *ctx,
			  struct rte_mbuf *ev)
{
	struct sl_meta *meta = sl_ctx_meta(ctx, ev);
	struct sl_rec rec = sl_event_record(ctx, ev);
	uint8_t *dst = rte_pktmbuf_mtod_offset(ev, uint8_t *, ev->data_len);
	struct sl_rec_writer w;
	struct sl_val k, v;
	uint32_t pos = 0, len;

	sl_rec_begin(&w, dst, (uint32_t)rte_pktmbuf_tailroom(ev));
	while (sl_rec_next(rec, &pos, &k, &v)) {
		int i = dropf_index(c->keys, c->n, &k);

		if (i < 0 && rename) {
			/* a field already under a new name gives way when its source is here */
			int t = dropf_index(c->to_keys, c->n, &k);
			struct sl_val tmp;

			if (t >= 0 && sl_rec_get(rec, &c->keys[t], &tmp))
				continue;
		}
		if (i >= 0 && !rename)
			continue;
		if (i >= 0)
			sl_rec_key(&w, c->to_keys[i].name, c->to_keys[i].len);
		else
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

static void dropf_run(const struct dropf_conf *c, bool rename, struct sl_ctx *ctx,
		      struct sl_burst *in, struct sl_emit *out)
{
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
		/* A small event that cannot hold the new record behind its data gets the big
		 * room first (event.h). */
		if (!dropf_rewrite(c, rename, ctx, ev) &&
		    !(sl_event_grow(ev) && dropf_rewrite(c, rename, ctx, ev))) {
			cnt[DROPF_CNT_TOO_LARGE]++;
			sl_drop(out, ev, SL_DROP_INVALID);
			continue;
		}
		cnt[DROPF_CNT_REWRITTEN]++;
		sl_emit(out, 0, ev);
	}
}

static void dropf_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
			  struct sl_emit *out)
{
	dropf_run(conf, false, ctx, in, out);
}

static void rename_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
			   struct sl_emit *out)
{
	dropf_run(conf, true, ctx, in, out);
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

static const struct sl_param_desc rename_params[] = {
	{ .name = "from", .type = SL_PARAM_LIST, .required = true, .help = "fields to rename" },
	{ .name = "to", .type = SL_PARAM_LIST, .required = true, .help = "their new names" },
	{ NULL },
};

static int rename_init(const struct sl_host *host, const struct sl_args *args, void **conf,
		       struct sl_error *err)
{
	const struct sl_arg *from = sl_args_get(args, "from");
	const struct sl_arg *to = sl_args_get(args, "to");
	struct dropf_conf *c;

	if (!from || !from->list || !from->list[0])
		return dropf_fail_at(err, "from", "%s", "list at least one field");
	if (!to || to->n_list != from->n_list)
		return dropf_fail_at(err, "to", "%s", "needs one new name per field in 'from'");
	if (from->n_list > DROPF_MAX)
		return dropf_fail_at(err, "from", "at most %s fields", "64");
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	for (uint32_t i = 0; i < from->n_list; i++) {
		const char *f = from->list[i], *t = to->list[i];

		if (!*f || !*t) {
			dropf_fini(c);
			return dropf_fail_at(err, *f ? "to" : "from", "%s",
					     "a field name is empty");
		}
		for (uint32_t j = 0; j < i; j++)
			if (strcmp(from->list[j], f) == 0 || strcmp(to->list[j], t) == 0) {
				dropf_fini(c);
				return dropf_fail_at(err, "from",
						     "'%s' is renamed twice, or two "
						     "fields get one name",
						     f);
			}
		c->names[i] = strdup(f);
		c->to[i] = strdup(t);
		c->n = i + 1;
		if (!c->names[i] || !c->to[i]) {
			dropf_fini(c);
			return -ENOMEM;
		}
		sl_rec_key_init(&c->keys[i], c->names[i], strlen(c->names[i]));
		sl_rec_key_init(&c->to_keys[i], c->to[i], strlen(c->to[i]));
	}
	*conf = c;
	return 0;
}

const struct sl_stage_desc sl_stage_rename = {
	SL_STAGE_DESC_INIT,	    .name = "rename",
	.version = "1.0.0",	    .summary = "give record fields new names",
	.params = rename_params,    .outputs = NULL,
	.counters = dropf_counters, .init = rename_init,
	.process = rename_process,  .fini = dropf_fini,
};
