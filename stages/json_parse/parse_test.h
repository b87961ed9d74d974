/*
 * What the unit tests of the line-parser stages (json_parse, logfmt_parse, syslog_parse,
 * regex_parse) share: a test pool and host, the stage found in the built-in table and
 * initialised with given parameters, process() on a burst, counters by name, field checks
 * on records, and the checks every parser stage must pass the same way (descriptor,
 * events that are not lines, shared events, events too small for the record). Included
 * by one test program at a time; cmocka must be included first.
 */
#ifndef SL_STAGES_PARSE_TEST_H
#define SL_STAGES_PARSE_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>

#include <sluice/stage.h>

#include "eal.h"
#include "parse_common.h"
#include "event/event.h"
#include "plugin/registry.h"

static struct rte_mempool *pt_pool, *pt_small_pool;
static int pt_meta_off;
static const struct sl_stage_desc *pt_desc;
static void *pt_conf;
static struct sl_ctx_host pt_host_priv;
static uint64_t pt_counters[SL_COUNTER_MAX];
static struct sl_ctx pt_ctx;
static struct sl_emit pt_out;

/* Every declared parameter with its default, then the given "key=value" overrides. */
static int pt_init_args(const char *const *kv, struct sl_error *err, void **conf)
{
	static struct sl_arg v[16];
	static char strs[16][256];
	static const char *lists[16][8];
	struct sl_args args = { .file = "test.yaml", .name = "parse", .n = 0, .v = v };
	uint32_t n = 0;

	memset(v, 0, sizeof(v));
	for (const struct sl_param_desc *p = pt_desc->params; p->name; p++, n++) {
		const char *val = p->def;
		for (int i = 0; kv && kv[i]; i++)
			if (strncmp(kv[i], p->name, strlen(p->name)) == 0 &&
			    kv[i][strlen(p->name)] == '=')
				val = kv[i] + strlen(p->name) + 1;
		v[n].key = p->name;
		v[n].type = p->type;
		if (!val)
			continue;
		snprintf(strs[n], sizeof(strs[n]), "%s", val);
		v[n].str = strs[n];
		v[n].i = strtoll(val, NULL, 0);
		v[n].b = strcmp(val, "true") == 0;
		if (p->type == SL_PARAM_LIST) {
			/* items separated by ',' */
			char *s = strs[n], *save = NULL;
			for (char *t = strtok_r(s, ",", &save); t && v[n].n_list < 8;
			     t = strtok_r(NULL, ",", &save))
				lists[n][v[n].n_list++] = t;
			v[n].list = lists[n];
		}
	}
	args.n = n;
	memset(err, 0, sizeof(*err));
	return pt_desc->init(&sl_host_table, &args, conf, err);
}

/* Find the stage, make the pools and the context, init with kv (NULL: the defaults). */
static void pt_setup(const char *stage, const char *const *kv)
{
	struct sl_error err;
	int small_off;

	if (!pt_pool) {
		pt_pool = sl_test_pool(512, 2048, &pt_meta_off);
		pt_small_pool = sl_test_pool(128, 256, &small_off);
		assert_int_equal(small_off, pt_meta_off);
	}
	pt_desc = NULL;
	for (int i = 0; sl_builtin_stages[i]; i++)
		if (strcmp(sl_builtin_stages[i]->name, stage) == 0)
			pt_desc = sl_builtin_stages[i];
	assert_non_null(pt_desc);
	if (pt_init_args(kv, &err, &pt_conf) != 0)
		fail_msg("init: %s: %s", err.key ? err.key : "", err.msg);
	pt_host_priv.pool = pt_pool;
	pt_ctx = (struct sl_ctx){ .host = &sl_host_table,
				  .meta_offset = pt_meta_off,
				  .counters = pt_counters,
				  .name = "parse",
				  .host_priv = &pt_host_priv };
}

static void pt_teardown(void)
{
	if (pt_desc->fini)
		pt_desc->fini(pt_conf);
	pt_conf = NULL;
}

static struct rte_mbuf *pt_event(struct rte_mempool *mp, const char *line, size_t n, uint8_t kind)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
	struct sl_meta *meta;

	assert_non_null(m);
	assert_true(n <= rte_pktmbuf_tailroom(m));
	memcpy(rte_pktmbuf_mtod(m, char *), line, n);
	m->data_len = (uint16_t)n;
	m->pkt_len = (uint32_t)n;
	meta = sl_event_meta(pt_meta_off, m);
	memset(meta, 0, sizeof(*meta));
	meta->kind = kind;
	meta->raw_len = (uint16_t)n;
	return m;
}

static void pt_run(struct rte_mbuf **evs, uint16_t n)
{
	struct sl_burst in = { .ev = evs, .n = n };

	memset(&pt_out, 0, sizeof(pt_out));
	pt_out.n_ports = 2;
	memset(pt_counters, 0, sizeof(pt_counters));
	pt_desc->process(pt_conf, &pt_ctx, &in, &pt_out);
}

static uint64_t pt_counter(const char *name)
{
	for (int i = 0; pt_desc->counters[i]; i++)
		if (strcmp(pt_desc->counters[i], name) == 0)
			return pt_counters[i];
	fail_msg("no counter %s", name);
	return 0;
}

static void pt_free_out(void)
{
	for (int p = 0; p < pt_out.n_ports; p++)
		for (int i = 0; i < pt_out.n[p]; i++)
			rte_pktmbuf_free(pt_out.port[p][i]);
	for (int i = 0; i < pt_out.n_drop; i++)
		rte_pktmbuf_free(pt_out.drop[i]);
}

static struct sl_val pt_field(struct sl_rec r, const char *key, enum sl_val_type type)
{
	struct sl_val v = { 0 };

	if (!sl_rec_find(r, key, strlen(key), &v))
		fail_msg("field %s missing", key);
	if (v.type != type)
		fail_msg("field %s: type %d, expected %d", key, v.type, type);
	return v;
}

static void pt_str(struct sl_rec r, const char *key, const char *want, size_t n)
{
	struct sl_val v = pt_field(r, key, SL_VAL_STR);

	if (v.s.len != n || memcmp(v.s.p, want, n) != 0)
		fail_msg("field %s: '%.*s', expected '%.*s'", key, (int)v.s.len, v.s.p, (int)n,
			 want);
}

static void pt_int(struct sl_rec r, const char *key, int64_t want)
{
	struct sl_val v = pt_field(r, key, SL_VAL_INT);

	if (v.i != want)
		fail_msg("field %s: %lld, expected %lld", key, (long long)v.i, (long long)want);
}

static __attribute__((unused)) void pt_absent(struct sl_rec r, const char *key)
{
	struct sl_val v = { 0 };

	if (sl_rec_find(r, key, strlen(key), &v))
		fail_msg("field %s present, expected absent", key);
}

/* The record's keys, in order, joined by ',' (for order checks). */
static void pt_keys(struct sl_rec r, const char *want)
{
	char got[1024];
	struct sl_val k, v;
	uint32_t pos = 0;
	size_t n = 0;

	got[0] = '\0';
	while (sl_rec_next(r, &pos, &k, &v) && n + k.s.len + 2 < sizeof(got)) {
		n += (size_t)snprintf(got + n, sizeof(got) - n, "%s%.*s", n ? "," : "",
				      (int)k.s.len, k.s.p);
	}
	if (strcmp(got, want) != 0)
		fail_msg("keys '%s', expected '%s'", got, want);
}

/*
 * The checks every parser stage passes alike: the descriptor (outputs, counters that start
 * with the reason names, the registry's own check); a good and a bad line through process;
 * events that are not lines, a record event that kept its line, shared events, and events
 * too small for the record.
 */
static void pt_common_checks(const char *good, const char *bad, const char *reason, int64_t offset,
			     const char *field)
{
	char err[256] = "", line[256];
	struct rte_mbuf *evs[4], *ev;
	struct sl_meta *meta;
	struct sl_rec_writer w;
	struct sl_val v = { 0 };
	uint32_t len;
	int n;

	if (sl_stage_desc_check(pt_desc, err, sizeof(err)) != 0)
		fail_msg("descriptor rejected: %s", err);
	assert_string_equal(pt_desc->outputs[0], "default");
	assert_string_equal(pt_desc->outputs[1], "errors");
	assert_null(pt_desc->outputs[2]);
	assert_string_equal(pt_desc->counters[0], "parsed");

	/* one good, one bad: ports, records, raw line kept in front */
	evs[0] = pt_event(pt_pool, good, strlen(good), SL_EVENT_LINE);
	evs[1] = pt_event(pt_pool, bad, strlen(bad), SL_EVENT_LINE);
	pt_run(evs, 2);
	assert_int_equal(pt_out.n[0], 1);
	assert_int_equal(pt_out.n[1], 1);
	assert_ptr_equal(pt_out.port[0][0], evs[0]);
	assert_ptr_equal(pt_out.port[1][0], evs[1]);
	for (int i = 0; i < 2; i++) {
		meta = sl_event_meta(pt_meta_off, evs[i]);
		assert_int_equal(meta->kind, SL_EVENT_RECORD);
		assert_int_equal(meta->rec_off, meta->raw_len);
		assert_memory_equal(rte_pktmbuf_mtod(evs[i], char *), i ? bad : good,
				    meta->raw_len);
		assert_int_equal(evs[i]->pkt_len, evs[i]->data_len);
	}
	assert_true(sl_rec_find(sl_event_record(&pt_ctx, evs[0]), field, strlen(field), &v));
	pt_str(sl_event_record(&pt_ctx, evs[1]), "error", reason, strlen(reason));
	pt_int(sl_event_record(&pt_ctx, evs[1]), "offset", offset);
	assert_int_equal(pt_counter("parsed"), 1);
	assert_int_equal(pt_counter(reason), 1);
	pt_free_out();

	/* a packet, a record without raw bytes, a line whose raw_len exceeds its data, and a
	 * record event that kept its line (its old record is replaced) */
	evs[0] = pt_event(pt_pool, good, strlen(good), SL_EVENT_PACKET);
	evs[1] = pt_event(pt_pool, good, strlen(good), SL_EVENT_RECORD);
	sl_event_meta(pt_meta_off, evs[1])->raw_len = 0;
	evs[2] = pt_event(pt_pool, good, strlen(good), SL_EVENT_LINE);
	evs[2]->data_len = 1;
	evs[3] = pt_event(pt_pool, good, strlen(good), SL_EVENT_RECORD);
	meta = sl_event_meta(pt_meta_off, evs[3]);
	sl_rec_begin(&w, rte_pktmbuf_mtod_offset(evs[3], uint8_t *, meta->raw_len),
		     rte_pktmbuf_tailroom(evs[3]));
	sl_rec_put_str(&w, "old_field_x", "yes", 3);
	len = sl_rec_end(&w);
	meta->rec_off = meta->raw_len;
	evs[3]->data_len += (uint16_t)len;
	evs[3]->pkt_len += len;
	pt_run(evs, 4);
	assert_int_equal(pt_out.n_drop, 3);
	for (int i = 0; i < 3; i++) {
		assert_ptr_equal(pt_out.drop[i], evs[i]);
		assert_int_equal(pt_out.drop_reason[i], SL_DROP_INVALID);
	}
	assert_int_equal(pt_counter("not_line"), 3);
	assert_int_equal(pt_out.n[0], 1);
	assert_false(sl_rec_find(sl_event_record(&pt_ctx, evs[3]), "old_field_x", 11, &v));
	assert_true(sl_rec_find(sl_event_record(&pt_ctx, evs[3]), field, strlen(field), &v));
	pt_free_out();

	/* shared: the stage works on a copy */
	ev = pt_event(pt_pool, good, strlen(good), SL_EVENT_LINE);
	rte_mbuf_refcnt_update(ev, 1);
	pt_run(&ev, 1);
	assert_int_equal(pt_out.n[0], 1);
	assert_ptr_not_equal(pt_out.port[0][0], ev);
	assert_int_equal(sl_event_meta(pt_meta_off, ev)->kind, SL_EVENT_LINE);
	assert_int_equal(ev->data_len, strlen(good));
	pt_free_out();
	rte_pktmbuf_free(ev);

	/* shared, and no mbuf for the copy: counted, the event released by the host */
	pt_host_priv.pool = pt_small_pool;
	{
		struct rte_mbuf *hold[128];
		unsigned k = 0;

		ev = pt_event(pt_pool, good, strlen(good), SL_EVENT_LINE);
		rte_mbuf_refcnt_update(ev, 1);
		while (k < 128 && (hold[k] = rte_pktmbuf_alloc(pt_small_pool)))
			k++;
		pt_run(&ev, 1);
		assert_int_equal(pt_out.n[0] + pt_out.n[1] + pt_out.n_drop, 0);
		assert_int_equal(pt_counter("nombuf"), 1);
		for (unsigned i = 0; i < k; i++)
			rte_pktmbuf_free(hold[i]);
		rte_pktmbuf_free(ev);
	}
	pt_host_priv.pool = pt_pool;

	/* 256-byte events: the good line padded to 250 bytes leaves no room for any record
	 * (dropped as invalid, counted as too_large); padded to 200, the error record fits */
	n = snprintf(line, sizeof(line), "%s", good);
	assert_true(n < 200);
	memset(line + n, ' ', (size_t)(250 - n));
	evs[0] = pt_event(pt_small_pool, line, 250, SL_EVENT_LINE);
	pt_run(evs, 1);
	assert_int_equal(pt_out.n_drop, 1);
	assert_int_equal(pt_out.drop_reason[0], SL_DROP_INVALID);
	assert_int_equal(pt_counter("too_large"), 1);
	pt_free_out();
	assert_int_equal(rte_mempool_avail_count(pt_pool), 512);
}

/* The small-event case where the record does not fit but the error record does: the
 * caller gives a line of at most 200 bytes whose record is larger than 56 - 3 bytes. */
static __attribute__((unused)) void pt_too_large(const char *line)
{
	struct rte_mbuf *ev = pt_event(pt_small_pool, line, strlen(line), SL_EVENT_LINE);

	pt_run(&ev, 1);
	assert_int_equal(pt_out.n[1], 1);
	pt_str(sl_event_record(&pt_ctx, ev), "error", "too_large", 9);
	pt_int(sl_event_record(&pt_ctx, ev), "offset", (int64_t)strlen(line));
	pt_free_out();
}

/* One malformed line: '|' marks the byte the error offset must name (it is removed before
 * parsing); conf NULL means the runner's default configuration. */
struct pt_bad_case {
	const char *line;
	int code;
	const void *conf;
};

/*
 * Parse every case with parse and check its code and offset. The byte after the line is
 * set to past, a byte the parser must not read as part of the line.
 */
static __attribute__((unused)) void pt_bad_cases(parse_line_fn parse, const void *conf,
						 const struct pt_bad_case *cases, size_t n,
						 const char *const *names, char past)
{
	static uint8_t buf[65536];

	for (size_t i = 0; i < n; i++) {
		const struct pt_bad_case *t = &cases[i];
		const char *mark = strchr(t->line, '|');
		char line[1024];
		size_t at, len;
		struct sl_rec_writer w;
		uint32_t off = 99999;
		int rc;

		assert_non_null(mark);
		at = (size_t)(mark - t->line);
		len = strlen(t->line) - 1;
		assert_true(len < sizeof(line));
		memcpy(line, t->line, at);
		memcpy(line + at, mark + 1, len - at);
		line[len] = past;
		sl_rec_begin(&w, buf, sizeof(buf));
		rc = parse(t->conf ? t->conf : conf, line, len, &w, &off);
		if (rc != t->code || off != at)
			fail_msg("case %zu '%s': got %s at %u, expected %s at %zu", i, t->line,
				 names[rc], off, names[t->code], at);
	}
}

/* Every writer size up to the record's: the record fits and equals the full one, or the
 * writer overflowed (the parser still succeeds; the stage turns that into too_large). */
static __attribute__((unused)) void pt_writer_sizes(parse_line_fn parse, const void *conf,
						    const char *line)
{
	uint8_t full[1024], small[1024];
	struct sl_rec_writer w;
	uint32_t off, full_len;

	sl_rec_begin(&w, full, sizeof(full));
	assert_int_equal(parse(conf, line, strlen(line), &w, &off), 0);
	full_len = sl_rec_end(&w);
	assert_true(full_len > 3);
	for (uint32_t cap = 0; cap <= full_len; cap++) {
		sl_rec_begin(&w, small, cap);
		assert_int_equal(parse(conf, line, strlen(line), &w, &off), 0);
		if (cap < full_len) {
			assert_int_equal(sl_rec_end(&w), 0);
		} else {
			assert_int_equal(sl_rec_end(&w), full_len);
			assert_memory_equal(small, full, full_len);
		}
	}
}

#endif
