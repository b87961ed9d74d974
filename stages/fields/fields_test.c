/*
 * Unit test of drop_fields and rename. drop_fields: init checks `fields`; process() on real mbufs removes exactly
 * the listed fields and keeps the others with their values and order, leaves an event with
 * none of them untouched (same bytes, no copy), copies a shared event instead of changing
 * it, and keeps the raw line in front of the record. rename: new names in place, a field
 * already under a new name replaced, lists of different lengths refused. Expected records
 * are built by hand.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <rte_mbuf.h>

#include <sluice/stage.h>

#include "eal.h"
#include "event/event.h"
#include "plugin/registry.h"

static struct rte_mempool *pool;
static int meta_off;
static const struct sl_stage_desc *desc, *ren;
static struct sl_ctx_host host_priv;
static uint64_t counters[SL_COUNTER_MAX];
static struct sl_ctx ctx;
static struct sl_emit out;

static int setup(void **unused)
{
	pool = sl_test_pool(128, 1024, &meta_off);
	desc = sl_test_builtin("drop_fields");
	ren = sl_test_builtin("rename");
	ctx = sl_test_ctx(&host_priv, pool, meta_off, counters, "drop");
	return 0;
}

static int init(const char *const *fields, uint32_t n, void **conf, struct sl_error *err)
{
	struct sl_arg v = {
		.key = "fields", .type = SL_PARAM_LIST, .str = "", .list = fields, .n_list = n
	};
	struct sl_args args = { .file = "t.yaml", .name = "d", .n = 1, .v = &v };

	memset(err, 0, sizeof(*err));
	return desc->init(&sl_host_table, &args, conf, err);
}

/* "LINE" then {"a": 1, "b": "two", "c": 3} */
static struct rte_mbuf *make_event(void)
{
	struct rte_mbuf *ev = rte_pktmbuf_alloc(pool);
	struct sl_meta *meta;
	struct sl_rec_writer w;
	uint32_t len;

	assert_non_null(ev);
	meta = sl_event_meta(meta_off, ev);
	memset(meta, 0, sizeof(*meta));
	memcpy(rte_pktmbuf_mtod(ev, char *), "LINE", 4);
	sl_rec_begin(&w, rte_pktmbuf_mtod_offset(ev, char *, 4),
		     (uint32_t)rte_pktmbuf_tailroom(ev) - 4);
	sl_rec_put_int(&w, "a", 1);
	sl_rec_put_str(&w, "b", "two", 3);
	sl_rec_put_int(&w, "c", 3);
	len = sl_rec_end(&w);
	ev->data_len = (uint16_t)(4 + len);
	ev->pkt_len = 4 + len;
	meta->kind = SL_EVENT_RECORD;
	meta->raw_len = 4;
	meta->rec_off = 4;
	return ev;
}

static void run_stage(const struct sl_stage_desc *d, void *conf, struct rte_mbuf **evs, uint16_t n)
{
	struct sl_burst in = { .ev = evs, .n = n };

	memset(&out, 0, sizeof(out));
	out.n_ports = 1;
	memset(counters, 0, sizeof(counters));
	d->process(conf, &ctx, &in, &out);
}

static void run(void *conf, struct rte_mbuf **evs, uint16_t n)
{
	run_stage(desc, conf, evs, n);
}

static int init_rename(const char *const *from, uint32_t nf, const char *const *to, uint32_t nt,
		       void **conf, struct sl_error *err)
{
	struct sl_arg v[2] = {
		{ .key = "from", .type = SL_PARAM_LIST, .str = "", .list = from, .n_list = nf },
		{ .key = "to", .type = SL_PARAM_LIST, .str = "", .list = to, .n_list = nt },
	};
	struct sl_args args = { .file = "t.yaml", .name = "r", .n = 2, .v = v };

	memset(err, 0, sizeof(*err));
	return ren->init(&sl_host_table, &args, conf, err);
}

/* The record's keys in order, joined by ',' */
static void keys_of(struct rte_mbuf *ev, char *buf, size_t cap)
{
	struct sl_rec r = sl_event_record(&ctx, ev);
	struct sl_val k, v;
	uint32_t pos = 0;
	size_t n = 0;

	buf[0] = '\0';
	while (sl_rec_next(r, &pos, &k, &v))
		n += (size_t)snprintf(buf + n, cap - n, "%s%.*s", n ? "," : "", (int)k.s.len,
				      k.s.p);
}

static void test_init_errors(void **unused)
{
	static const char *const empty[] = { "", NULL };
	static const char *const none[] = { NULL };
	struct sl_error err;
	void *conf = NULL;

	assert_int_equal(init(none, 0, &conf, &err), -EINVAL);
	assert_string_equal(err.key, "fields");
	assert_int_equal(init(empty, 1, &conf, &err), -EINVAL);
}

static void test_drop(void **unused)
{
	static const char *const fields[] = { "b", "zz", NULL };
	struct rte_mbuf *evs[2] = { make_event(), make_event() };
	struct sl_error err;
	struct sl_val v;
	void *conf = NULL;
	char keys[64];

	assert_int_equal(init(fields, 2, &conf, &err), 0);
	assert_null(desc->reads(conf)[0]);
	run(conf, evs, 2);
	assert_int_equal(out.n[0], 2);
	assert_int_equal(counters[0], 2); /* rewritten */
	for (int i = 0; i < 2; i++) {
		struct rte_mbuf *ev = out.port[0][i];

		keys_of(ev, keys, sizeof(keys));
		assert_string_equal(keys, "a,c");
		assert_true(sl_rec_find(sl_event_record(&ctx, ev), "c", 1, &v));
		assert_int_equal(v.i, 3);
		assert_memory_equal(rte_pktmbuf_mtod(ev, char *), "LINE", 4);
		assert_int_equal(sl_event_meta(meta_off, ev)->raw_len, 4);
		rte_pktmbuf_free(ev);
	}
	desc->fini(conf);
}

static void test_untouched(void **unused)
{
	static const char *const fields[] = { "x", NULL };
	struct rte_mbuf *ev = make_event();
	uint8_t before[128];
	uint16_t len = ev->data_len;
	struct sl_error err;
	void *conf = NULL;

	memcpy(before, rte_pktmbuf_mtod(ev, void *), len);
	assert_int_equal(init(fields, 1, &conf, &err), 0);
	run(conf, &ev, 1);
	assert_int_equal(out.n[0], 1);
	assert_ptr_equal(out.port[0][0], ev);
	assert_int_equal(ev->data_len, len);
	assert_memory_equal(rte_pktmbuf_mtod(ev, void *), before, len);
	assert_int_equal(counters[1], 1); /* unchanged */
	rte_pktmbuf_free(ev);
	desc->fini(conf);
}

static void test_shared_event_copied(void **unused)
{
	static const char *const fields[] = { "a", NULL };
	struct rte_mbuf *ev = make_event();
	struct sl_error err;
	void *conf = NULL;
	char keys[64];

	rte_mbuf_refcnt_update(ev, 1); /* a second consumer holds it too */
	assert_int_equal(init(fields, 1, &conf, &err), 0);
	run(conf, &ev, 1);
	assert_int_equal(out.n[0], 1);
	assert_ptr_not_equal(out.port[0][0], ev);
	keys_of(out.port[0][0], keys, sizeof(keys));
	assert_string_equal(keys, "b,c");
	keys_of(ev, keys, sizeof(keys));
	assert_string_equal(keys, "a,b,c"); /* the other consumer's view is unchanged */
	rte_pktmbuf_free(out.port[0][0]);
	assert_int_equal(rte_mbuf_refcnt_read(ev), 1);
	rte_pktmbuf_free(ev);
	desc->fini(conf);
}

static void test_rename(void **unused)
{
	static const char *const from[] = { "a", "b", NULL };
	static const char *const to_x[] = { "x", "c", NULL };
	static const char *const one[] = { "x", NULL };
	struct rte_mbuf *ev = make_event();
	struct sl_error err;
	struct sl_val v;
	void *conf = NULL;
	char keys[64];

	assert_int_equal(init_rename(from, 2, one, 1, &conf, &err), -EINVAL);
	assert_string_equal(err.key, "to");
	/* a -> x; b -> c, and the record's own c gives way to it */
	assert_int_equal(init_rename(from, 2, to_x, 2, &conf, &err), 0);
	run_stage(ren, conf, &ev, 1);
	assert_int_equal(out.n[0], 1);
	keys_of(out.port[0][0], keys, sizeof(keys));
	assert_string_equal(keys, "x,c");
	assert_true(sl_rec_find(sl_event_record(&ctx, out.port[0][0]), "c", 1, &v));
	assert_int_equal(v.type, SL_VAL_STR);
	assert_memory_equal(v.s.p, "two", 3);
	assert_true(sl_rec_find(sl_event_record(&ctx, out.port[0][0]), "x", 1, &v));
	assert_int_equal(v.i, 1);
	assert_memory_equal(rte_pktmbuf_mtod(out.port[0][0], char *), "LINE", 4);
	rte_pktmbuf_free(out.port[0][0]);
	ren->fini(conf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_errors), cmocka_unit_test(test_drop),
		cmocka_unit_test(test_untouched),   cmocka_unit_test(test_shared_event_copied),
		cmocka_unit_test(test_rename),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
