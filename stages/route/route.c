/*
 * route: sends each event to the named outputs whose condition its record satisfies, as
 * Vector's route transform does. `routes: {name: "condition", ...}` makes one output per
 * entry (after `_unmatched`, port 0, which takes the events no route matched); `mode:
 * first` (default) sends an event to the first route that matches, in the order written,
 * `mode: all` to every route that matches. Conditions are the shared expressions
 * (stages/expr, docs/expressions.md), compiled once in init; process evaluates them per
 * event with no allocation. Events are never modified: in `all` mode an event that goes to
 * several routes is one mbuf with its reference count raised, counted in `copies`.
 * Built-in stage; uses only the SDK.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include <sluice/event.h>
#include <sluice/record.h>
#include <sluice/stage.h>

#ifdef SL_HAVE_HYPERSCAN
#include <hs.h>
#endif

#include "../expr/expr.h"

/* Port 0 is _unmatched; routes follow in the order written. */
#define ROUTE_MAX (SL_PORT_MAX - 1)

enum {
	ROUTE_CNT_ROUTED = 0,
	ROUTE_CNT_UNMATCHED,
	ROUTE_CNT_COPIES,
	ROUTE_CNT_NO_RECORD,
	ROUTE_CNT_HS_SCANS
};

/* hs_scans: events whose field went through the Hyperscan database (0 without one). */
static const char *const route_counters[] = { "routed",	   "unmatched", "copies",
					      "no_record", "hs_scans",	NULL };
static const char *const route_outputs[] = { "_unmatched", NULL };

static const struct sl_param_desc route_params[] = {
	{ .name = "routes",
	  .type = SL_PARAM_MAP,
	  .required = true,
	  .help = "name: condition, one output per entry (e.g. errors: \"status >= 500\")" },
	{ .name = "mode",
	  .type = SL_PARAM_STR,
	  .def = "first",
	  .help = "first: the first route that matches; all: every route that matches" },
	{ .name = "hyperscan",
	  .type = SL_PARAM_BOOL,
	  .def = "true",
	  .help = "match the routes that are `FIELD matches RE` on one field in one Hyperscan "
		  "scan (when built with it and there are at least two); false: PCRE2 each" },
	{ NULL },
};

struct route_conf {
	uint32_t n;
	bool all;
	struct sl_expr *cond[ROUTE_MAX];
	const char **fields; /* every condition's fields, NULL-terminated (projection) */
#ifdef SL_HAVE_HYPERSCAN
	/* Routes `F matches RE` on the same field F, in one database (id = route index). */
	hs_database_t *hs_db;
	hs_scratch_t **hs_scratch; /* one per lcore */
	const struct sl_rec_key *hs_field;
	uint64_t hs_routes; /* bit r: route r is in hs_db */
#endif
};

#ifdef SL_HAVE_HYPERSCAN
static int route_hs_hit(unsigned int id, unsigned long long from, unsigned long long to,
			unsigned int flags, void *ctx)
{
	(void)from;
	(void)to;
	(void)flags;
	*(uint64_t *)ctx |= 1ull << id;
	return 0;
}

/* Put the routes that are `F matches RE` on the most common such field F into one
 * Hyperscan database, when there are two or more and Hyperscan compiles them all (it
 * refuses backreferences, lookaround...: then PCRE2 does every route as before). */
static int route_hs_build(struct route_conf *c)
{
	const struct sl_rec_key *field[ROUTE_MAX] = { 0 }, *best = NULL;
	const char *pat[ROUTE_MAX];
	size_t plen[ROUTE_MAX];
	char *text[ROUTE_MAX] = { 0 };
	unsigned flags[ROUTE_MAX], ids[ROUTE_MAX];
	uint32_t n = 0, best_n = 0;
	hs_compile_error_t *cerr = NULL;
	hs_scratch_t *proto = NULL;
	int rc = 0;

	for (uint32_t r = 0; r < c->n && r < 64; r++)
		if (!sl_expr_single_match(c->cond[r], &field[r], &pat[r], &plen[r]))
			field[r] = NULL;
	for (uint32_t r = 0; r < c->n && r < 64; r++) {
		uint32_t k = 0;

		for (uint32_t q = 0; field[r] && q < c->n && q < 64; q++)
			k += field[q] && field[q]->len == field[r]->len &&
			     memcmp(field[q]->name, field[r]->name, field[r]->len) == 0;
		if (k > best_n) {
			best_n = k;
			best = field[r];
		}
	}
	if (best_n < 2)
		return 0;
	for (uint32_t r = 0; r < c->n && r < 64; r++) {
		if (!field[r] || field[r]->len != best->len ||
		    memcmp(field[r]->name, best->name, best->len) != 0)
			continue;
		/* A NUL in the pattern cannot be given to hs_compile_multi: leave it to PCRE2. */
		if (memchr(pat[r], '\0', plen[r]))
			continue;
		text[n] = strndup(pat[r], plen[r]);
		if (!text[n]) {
			rc = -ENOMEM;
			goto out;
		}
		flags[n] = HS_FLAG_SINGLEMATCH | HS_FLAG_ALLOWEMPTY;
		ids[n] = r;
		n++;
	}
	if (n < 2 || hs_compile_multi((const char *const *)text, flags, ids, n, HS_MODE_BLOCK, NULL,
				      &c->hs_db, &cerr) != HS_SUCCESS) {
		c->hs_db = NULL;
		goto out;
	}
	c->hs_scratch = calloc(RTE_MAX_LCORE, sizeof(*c->hs_scratch));
	if (!c->hs_scratch || hs_alloc_scratch(c->hs_db, &proto) != HS_SUCCESS) {
		rc = -ENOMEM;
		goto out;
	}
	for (unsigned l = 0; l < RTE_MAX_LCORE; l++)
		if (hs_clone_scratch(proto, &c->hs_scratch[l]) != HS_SUCCESS) {
			rc = -ENOMEM;
			goto out;
		}
	c->hs_field = best;
	for (uint32_t i = 0; i < n; i++)
		c->hs_routes |= 1ull << ids[i];
out:
	if (cerr)
		hs_free_compile_error(cerr);
	if (proto)
		hs_free_scratch(proto);
	for (uint32_t i = 0; i < n; i++)
		free(text[i]);
	return rc;
}

static void route_hs_free(struct route_conf *c)
{
	if (c->hs_scratch)
		for (unsigned l = 0; l < RTE_MAX_LCORE; l++)
			if (c->hs_scratch[l])
				hs_free_scratch(c->hs_scratch[l]);
	free(c->hs_scratch);
	if (c->hs_db)
		hs_free_database(c->hs_db);
}
#endif

static void route_fini(void *conf)
{
	struct route_conf *c = conf;

	if (!c)
		return;
	for (uint32_t i = 0; i < c->n; i++)
		sl_expr_destroy(c->cond[i]);
#ifdef SL_HAVE_HYPERSCAN
	route_hs_free(c);
#endif
	free(c->fields);
	free(c);
}

static int route_fail(struct sl_error *err, const char *key, uint32_t item, uint32_t off,
		      const char *msg)
{
	err->key = key;
	err->item = item;
	err->offset = off;
	snprintf(err->msg, sizeof(err->msg), "%s", msg);
	return -EINVAL;
}

static int route_init(const struct sl_host *host, const struct sl_args *args, void **conf,
		      struct sl_error *err)
{
	const struct sl_arg *routes = sl_args_get(args, "routes");
	const struct sl_arg *mode = sl_args_get(args, "mode");
	struct route_conf *c;
	int rc;

	if (!routes || routes->n_list < 2)
		return route_fail(err, "routes", 0, 0, "give at least one route: name: condition");
	if (routes->n_list / 2 > ROUTE_MAX) {
		snprintf(err->msg, sizeof(err->msg), "at most %d routes", ROUTE_MAX);
		err->key = "routes";
		err->item = 0;
		err->offset = 0;
		return -EINVAL;
	}
	if (mode && mode->str && strcmp(mode->str, "first") != 0 && strcmp(mode->str, "all") != 0)
		return route_fail(err, "mode", 0, 0, "expected first or all");
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->all = mode && mode->str && strcmp(mode->str, "all") == 0;
	for (uint32_t i = 0; i < routes->n_list / 2; i++) {
		uint32_t off = 0;
		char msg[sizeof(err->msg)];
		enum sl_expr_kind k;

		rc = sl_expr_compile(routes->list[2 * i + 1], RTE_MAX_LCORE, &c->cond[i], &off, msg,
				     sizeof(msg));
		if (rc == -ENOMEM) {
			route_fini(c);
			return rc;
		}
		if (rc < 0) {
			route_fini(c);
			return route_fail(err, "routes", i + 1, off, msg);
		}
		c->n = i + 1;
		k = sl_expr_result_kind(c->cond[i]);
		if (k != SL_EXPR_KIND_BOOL && k != SL_EXPR_KIND_ANY) {
			snprintf(msg, sizeof(msg), "the condition of '%s' is %s, not true/false",
				 routes->list[2 * i], sl_expr_kind_name(k));
			route_fini(c);
			return route_fail(err, "routes", i + 1, 0, msg);
		}
	}
	c->fields = sl_expr_fields_union(c->cond, c->n);
	rc = c->fields ? 0 : -ENOMEM;
#ifdef SL_HAVE_HYPERSCAN
	{
		const struct sl_arg *hs = sl_args_get(args, "hyperscan");

		if (rc == 0 && (!hs || hs->b))
			rc = route_hs_build(c);
	}
#endif
	if (rc < 0) {
		route_fini(c);
		return rc;
	}
	*conf = c;
	return 0;
}

static void route_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
			  struct sl_emit *out)
{
	const struct route_conf *c = conf;
	uint64_t *cnt = ctx->counters;
	unsigned lcore = ctx->lcore;

	for (uint16_t i = 0; i < in->n; i++) {
		struct rte_mbuf *ev = in->ev[i];
		struct sl_rec rec;
		uint16_t hit[ROUTE_MAX];
		uint32_t n_hit = 0;

		if (i + 1 < in->n) {
			struct rte_mbuf *nx = in->ev[i + 1];
			rte_prefetch0(
				rte_pktmbuf_mtod_offset(nx, char *, sl_ctx_meta(ctx, nx)->rec_off));
		}
		rec = sl_event_record(ctx, ev);
		if (rec.len == 0)
			cnt[ROUTE_CNT_NO_RECORD]++;
#ifdef SL_HAVE_HYPERSCAN
		uint64_t hs_hit = 0;

		if (c->hs_routes && rec.len) {
			struct sl_val v;

			/* As OP_MATCH: only a string matches; no record or field, no match. */
			if (sl_rec_get(rec, c->hs_field, &v) && v.type == SL_VAL_STR) {
				hs_scan(c->hs_db, v.s.len ? v.s.p : "", (unsigned)v.s.len, 0,
					c->hs_scratch[lcore], route_hs_hit, &hs_hit);
				cnt[ROUTE_CNT_HS_SCANS]++;
			}
		}
#endif
		for (uint32_t r = 0; r < c->n; r++) {
#ifdef SL_HAVE_HYPERSCAN
			if (c->hs_routes >> r & 1) {
				if (!(hs_hit >> r & 1))
					continue;
			} else
#endif
				if (!sl_expr_test(c->cond[r], rec, lcore))
				continue;
			hit[n_hit++] = (uint16_t)(r + 1);
			if (!c->all)
				break;
		}
		if (n_hit == 0) {
			cnt[ROUTE_CNT_UNMATCHED]++;
			sl_emit(out, 0, ev);
			continue;
		}
		cnt[ROUTE_CNT_ROUTED]++;
		if (n_hit > 1) {
			/* One mbuf on several outputs: each output's consumers free one
			 * reference, as for a fan-out edge. */
			rte_mbuf_refcnt_update(ev, (int16_t)(n_hit - 1));
			cnt[ROUTE_CNT_COPIES] += n_hit - 1;
		}
		for (uint32_t k = 0; k < n_hit; k++)
			sl_emit(out, hit[k], ev);
	}
}

/* Projection: every condition's fields; routed events go on unchanged. */
static const char *const *route_reads(const void *conf)
{
	const struct route_conf *c = conf;

	return c->fields;
}

const struct sl_stage_desc sl_stage_route = {
	SL_STAGE_DESC_INIT,
	.name = "route",
	.version = "1.0.0",
	.summary = "send events to named outputs by conditions on their records",
	.params = route_params,
	.outputs = route_outputs,
	.counters = route_counters,
	.flags = SL_STAGE_F_FORWARDS,
	.init = route_init,
	.process = route_process,
	.fini = route_fini,
	.reads = route_reads,
	.outputs_from = "routes",
};
