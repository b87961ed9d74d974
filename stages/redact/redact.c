/*
 * redact: masks what a PCRE2 pattern matches in chosen string fields of each record
 * (`fields: [msg, path]`, `pattern: '\d{4}-\d{4}-\d{4}-\d{4}'`, `replacement`, default
 * "****"). Every non-overlapping match is replaced, left to right, as Python's re.sub
 * does (an empty match next to a previous match counts too). Fields that are missing or
 * not strings are left alone. An event with no match passes on untouched; otherwise its
 * record is rewritten once (a shared event is copied first) and takes the place of the
 * raw line, which is dropped (rec_off = raw_len = 0), so a `raw` sink writes the redacted
 * record as JSON instead of the original text. A redacted value longer than 8 KiB cannot be written: the event is
 * dropped as invalid (counted in too_large) rather than passed on unredacted.
 *
 * The pattern is compiled once in init (JIT when the library can) with one match-data
 * block and one 8 KiB buffer per lcore; process allocates nothing. Built-in stage; uses
 * only the SDK and libpcre2-8.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_lcore.h>
#include <rte_mbuf.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <sluice/event.h>
#include <sluice/record.h>
#include <sluice/stage.h>

#include "event/event.h" /* sl_event_grow */

#define REDACT_MAX	   64
#define REDACT_BUF	   8192
#define REDACT_MATCH_LIMIT 1000000

enum {
	REDACT_CNT_REDACTED = 0,
	REDACT_CNT_UNCHANGED,
	REDACT_CNT_MATCHES,
	REDACT_CNT_MATCH_ERROR,
	REDACT_CNT_TOO_LARGE,
	REDACT_CNT_NOMBUF,
};

static const char *const redact_counters[] = { "redacted",  "unchanged", "matches", "match_error",
					       "too_large", "nombuf",	 NULL };

static const struct sl_param_desc redact_params[] = {
	{ .name = "fields",
	  .type = SL_PARAM_LIST,
	  .required = true,
	  .help = "top-level string fields to redact" },
	{ .name = "pattern",
	  .type = SL_PARAM_STR,
	  .required = true,
	  .help = "PCRE2 pattern; every match is replaced" },
	{ .name = "replacement",
	  .type = SL_PARAM_STR,
	  .def = "****",
	  .help = "what a match becomes" },
	{ NULL },
};

struct redact_conf {
	uint32_t n;
	char *names[REDACT_MAX];
	struct sl_rec_key keys[REDACT_MAX];
	const char *reads[REDACT_MAX + 1];
	char *repl;
	uint32_t repl_len;
	pcre2_code *re;
	bool jit;
	pcre2_match_context *mctx;
	uint32_t n_lcores;
	pcre2_match_data **md; /* one per lcore */
	char *buf;	       /* 2 * REDACT_BUF per lcore: a redacted string, then the record */
};

static void redact_fini(void *conf)
{
	struct redact_conf *c = conf;

	if (!c)
		return;
	for (uint32_t i = 0; i < c->n; i++)
		free(c->names[i]);
	for (uint32_t i = 0; c->md && i < c->n_lcores; i++)
		pcre2_match_data_free(c->md[i]);
	free(c->md);
	free(c->buf);
	free(c->repl);
	pcre2_match_context_free(c->mctx);
	pcre2_code_free(c->re);
	free(c);
}

static int redact_init(const struct sl_host *host, const struct sl_args *args, void **conf,
		       struct sl_error *err)
{
	const struct sl_arg *f = sl_args_get(args, "fields");
	const struct sl_arg *pat = sl_args_get(args, "pattern");
	const struct sl_arg *rep = sl_args_get(args, "replacement");
	struct redact_conf *c;
	PCRE2_SIZE eoff;
	int ecode;

	err->offset = 0;
	if (!f || f->n_list == 0) {
		err->key = "fields";
		snprintf(err->msg, sizeof(err->msg), "list at least one field");
		return -EINVAL;
	}
	if (f->n_list > REDACT_MAX) {
		err->key = "fields";
		snprintf(err->msg, sizeof(err->msg), "at most %d fields", REDACT_MAX);
		return -EINVAL;
	}
	if (!pat || !pat->str || !*pat->str) {
		err->key = "pattern";
		snprintf(err->msg, sizeof(err->msg), "the pattern is empty");
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->re = pcre2_compile((PCRE2_SPTR)pat->str, PCRE2_ZERO_TERMINATED, 0, &ecode, &eoff, NULL);
	if (!c->re) {
		PCRE2_UCHAR text[160];

		pcre2_get_error_message(ecode, text, sizeof(text));
		err->key = "pattern";
		err->offset = (uint32_t)eoff;
		snprintf(err->msg, sizeof(err->msg), "%s", (const char *)text);
		redact_fini(c);
		return -EINVAL;
	}
	c->jit = pcre2_jit_compile(c->re, PCRE2_JIT_COMPLETE) == 0;
	for (uint32_t i = 0; i < f->n_list; i++) {
		if (!*f->list[i]) {
			err->key = "fields";
			snprintf(err->msg, sizeof(err->msg), "a field name is empty");
			redact_fini(c);
			return -EINVAL;
		}
		c->names[i] = strdup(f->list[i]);
		if (!c->names[i]) {
			redact_fini(c);
			return -ENOMEM;
		}
		c->n = i + 1;
		sl_rec_key_init(&c->keys[i], c->names[i], strlen(c->names[i]));
		c->reads[i] = c->names[i];
	}
	c->repl = strdup(rep && rep->str ? rep->str : "****");
	c->mctx = pcre2_match_context_create(NULL);
	c->n_lcores = RTE_MAX_LCORE;
	c->md = calloc(c->n_lcores, sizeof(*c->md));
	c->buf = malloc((size_t)c->n_lcores * 2 * REDACT_BUF);
	if (!c->repl || !c->mctx || !c->md || !c->buf) {
		redact_fini(c);
		return -ENOMEM;
	}
	c->repl_len = (uint32_t)strlen(c->repl);
	pcre2_set_match_limit(c->mctx, REDACT_MATCH_LIMIT);
	for (uint32_t i = 0; i < c->n_lcores; i++) {
		c->md[i] = pcre2_match_data_create_from_pattern(c->re, NULL);
		if (!c->md[i]) {
			redact_fini(c);
			return -ENOMEM;
		}
		/* Without JIT the interpreter allocates on first use: now, not on a worker. */
		if (!c->jit)
			pcre2_match(c->re, (PCRE2_SPTR) "", 0, 0, 0, c->md[i], c->mctx);
	}
	*conf = c;
	return 0;
}

static int redact_match(const struct redact_conf *c, pcre2_match_data *md, const char *s,
			uint32_t len, uint32_t start)
{
	PCRE2_SPTR subj = (PCRE2_SPTR)(len ? s : "");

	if (c->jit)
		return pcre2_jit_match(c->re, subj, len, start, 0, md, c->mctx);
	return pcre2_match(c->re, subj, len, start, 0, md, c->mctx);
}

/*
 * s with every match replaced, into buf (cap bytes). Returns the new length, or -1 when
 * it does not fit, -2 on a match error (match limit); *n_match counts the matches.
 */
static long redact_string(const struct redact_conf *c, pcre2_match_data *md, const char *s,
			  uint32_t len, char *buf, size_t cap, uint32_t *n_match)
{
	uint32_t start = 0, copied = 0;
	size_t o = 0;

	*n_match = 0;
	while (start <= len) {
		int rc = redact_match(c, md, s, len, start);
		PCRE2_SIZE *ov;
		uint32_t ms, me;

		if (rc == PCRE2_ERROR_NOMATCH)
			break;
		if (rc < 0)
			return -2;
		ov = pcre2_get_ovector_pointer(md);
		ms = (uint32_t)ov[0];
		me = (uint32_t)ov[1];
		if (ms < copied || me < ms) /* \K tricks: not worth redacting around */
			return -2;
		if (o + (ms - copied) + c->repl_len > cap)
			return -1;
		memcpy(buf + o, s + copied, ms - copied);
		o += ms - copied;
		memcpy(buf + o, c->repl, c->repl_len);
		o += c->repl_len;
		copied = me;
		(*n_match)++;
		if (me == ms) {
			/* An empty match: the next search starts one byte on, and that byte
			 * is kept. */
			if (ms >= len)
				break;
			if (o + 1 > cap)
				return -1;
			buf[o++] = s[ms];
			copied = ms + 1;
			start = ms + 1;
		} else {
			start = me;
		}
	}
	if (o + (len - copied) > cap)
		return -1;
	memcpy(buf + o, s + copied, len - copied);
	return (long)(o + (len - copied));
}

/* Index of key k among the fields, or -1. */
static int redact_index(const struct redact_conf *c, const struct sl_val *k)
{
	if (k->type != SL_VAL_STR)
		return -1;
	for (uint32_t i = 0; i < c->n; i++)
		if (c->keys[i].len == k->s.len && memcmp(c->keys[i].name, k->s.p, k->s.len) == 0)
			return (int)i;
	return -1;
}

/* Some listed field holds a match (or the matcher failed on it: treated as a match, so
 * the rewrite decides). */
static bool redact_any(const struct redact_conf *c, pcre2_match_data *md, struct sl_rec rec)
{
	for (uint32_t i = 0; i < c->n; i++) {
		struct sl_val v;

		if (sl_rec_get(rec, &c->keys[i], &v) && v.type == SL_VAL_STR &&
		    redact_match(c, md, v.s.p, v.s.len, 0) != PCRE2_ERROR_NOMATCH)
			return true;
	}
	return false;
}

enum { REDACT_OK = 0, REDACT_TOO_LARGE, REDACT_ERROR };

/* Rewrite the record with the listed strings redacted into the lcore's scratch, then copy
 * it to the start of the event in place of the line and the old record. */
static int redact_rewrite(const struct redact_conf *c, pcre2_match_data *md, char *buf,
			  struct sl_ctx *ctx, struct rte_mbuf *ev, uint64_t *n_matches)
{
	struct sl_meta *meta = sl_ctx_meta(ctx, ev);
	struct sl_rec rec = sl_event_record(ctx, ev);
	uint8_t *dst = (uint8_t *)buf + REDACT_BUF;
	size_t room = rte_pktmbuf_tailroom(ev) + ev->data_len;
	struct sl_rec_writer w;
	struct sl_val k, v;
	uint32_t pos = 0, len;

	sl_rec_begin(&w, dst, (uint32_t)(room < REDACT_BUF ? room : REDACT_BUF));
	while (sl_rec_next(rec, &pos, &k, &v)) {
		int i = redact_index(c, &k);
		uint32_t n_match;
		long n;

		if (k.type == SL_VAL_STR) {
			sl_rec_key(&w, k.s.p, k.s.len);
		} else {
			sl_rec_writer_cb(&w, (const char *)k.raw, k.raw_len);
			w.n_fields++;
		}
		if (i < 0 || v.type != SL_VAL_STR) {
			sl_rec_writer_cb(&w, (const char *)v.raw, v.raw_len);
			continue;
		}
		n = redact_string(c, md, v.s.p, v.s.len, buf, REDACT_BUF, &n_match);
		if (n == -1)
			return REDACT_TOO_LARGE;
		if (n < 0)
			return REDACT_ERROR;
		*n_matches += n_match;
		msgpack_pack_str_with_body(&w.pk, buf, (size_t)n);
	}
	len = sl_rec_end(&w);
	if (len == 0)
		return REDACT_TOO_LARGE;
	/* The line in front holds what was masked: it goes, so a raw sink cannot write it. */
	memcpy(rte_pktmbuf_mtod(ev, uint8_t *), dst, len);
	ev->data_len = (uint16_t)len;
	ev->pkt_len = len;
	meta->rec_off = 0;
	meta->raw_len = 0;
	return REDACT_OK;
}

static void redact_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
			   struct sl_emit *out)
{
	const struct redact_conf *c = conf;
	uint64_t *cnt = ctx->counters;
	unsigned lc = ctx->lcore % c->n_lcores;
	pcre2_match_data *md = c->md[lc];
	char *buf = c->buf + (size_t)lc * 2 * REDACT_BUF;

	for (uint16_t i = 0; i < in->n; i++) {
		struct rte_mbuf *ev = in->ev[i];
		struct sl_rec rec = sl_event_record(ctx, ev);
		uint64_t n_matches;
		int rc;

		if (rec.len == 0 || !redact_any(c, md, rec)) {
			cnt[REDACT_CNT_UNCHANGED]++;
			sl_emit(out, 0, ev);
			continue;
		}
		if (rte_mbuf_refcnt_read(ev) > 1) {
			/* Fan-out shares events; the host released ev if it returns NULL. */
			ev = ctx->host->event_unshare(ctx, ev);
			if (!ev) {
				cnt[REDACT_CNT_NOMBUF]++;
				continue;
			}
		}
		n_matches = 0;
		rc = redact_rewrite(c, md, buf, ctx, ev, &n_matches);
		/* Too big for a small event: the big room (event.h), then again. */
		if (rc == REDACT_TOO_LARGE && sl_event_grow(ev)) {
			n_matches = 0;
			rc = redact_rewrite(c, md, buf, ctx, ev, &n_matches);
		}
		cnt[REDACT_CNT_MATCHES] += n_matches;
		if (rc != REDACT_OK) {
			/* Never pass on what could not be masked. */
			cnt[rc == REDACT_TOO_LARGE ? REDACT_CNT_TOO_LARGE
						   : REDACT_CNT_MATCH_ERROR]++;
			sl_drop(out, ev, SL_DROP_INVALID);
			continue;
		}
		cnt[REDACT_CNT_REDACTED]++;
		sl_emit(out, 0, ev);
	}
}

/* Projection: the listed fields; events go on (changed or not). */
static const char *const *redact_reads(const void *conf)
{
	const struct redact_conf *c = conf;

	return c->reads;
}

const struct sl_stage_desc sl_stage_redact = {
	SL_STAGE_DESC_INIT,	     .name = "redact",
	.version = "1.0.0",	     .summary = "mask regex matches in record fields",
	.params = redact_params,     .outputs = NULL,
	.counters = redact_counters, .flags = SL_STAGE_F_FORWARDS,
	.init = redact_init,	     .process = redact_process,
	.fini = redact_fini,	     .reads = redact_reads,
};
