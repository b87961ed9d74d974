/*
 * Test of the ua_class plugin, loaded through the registry from a private copy of the
 * build's ua_class.so (the only argument) and run on real record events. Expected classes
 * are written by hand from the rules in ua_class.c's header, not taken from the plugin;
 * byte sizes of the appended field are computed here from the msgpack encoding (fixstr:
 * one header byte plus the text). Also covers: the record around the new field is intact,
 * custom field/target parameters, events left alone (line events, missing or non-string
 * field, target already present, no tailroom, not a map16 record), and a shared event
 * being unshared so the other holder's copy is untouched.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "eal.h"
#include "event/event.h"
#include "fixture.h"
#include "plugin/registry.h"

enum {
	C_BOT = 0,
	C_MOBILE,
	C_DESKTOP,
	C_OTHER,
	C_NO_FIELD,
	C_NOT_RECORD,
	C_EXISTS,
	C_UNWRITABLE,
	C_NO_MBUF
};

static const char *ua_class_so;

struct fixture {
	struct sl_registry *reg;
	const struct sl_stage_desc *d;
	struct rte_mempool *mp;
	int meta_offset;
	struct sl_ctx_host priv;
	uint64_t counters[SL_COUNTER_MAX];
	struct sl_ctx ctx;
};

static struct fixture fx;
static struct sl_emit out; /* about 20 KiB: not on the stack */

static const struct {
	const char *ua;
	const char *cls;
} cases[] = {
	{ "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "bot" },
	{ "curl/8.4.0", "bot" },
	{ "Wget/1.21.3", "bot" },
	{ "python-requests/2.31.0", "bot" },
	{ "Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)",
	  "bot" },
	{ "Baiduspider-render/2.0", "bot" },
	{ "SiteAuditCRAWLER/1.0", "bot" },
	{ "BOT", "bot" },
	/* bot wins over the mobile and desktop words in the same string */
	{ "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X) Mobile (compatible; Googlebot/2.1)",
	  "bot" },
	{ "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
	  "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
	  "mobile" },
	/* Android says Linux too: mobile is tried first */
	{ "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
	  "Chrome/120.0 Mobile Safari/537.36",
	  "mobile" },
	{ "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X)", "mobile" },
	{ "MOZILLA/5.0 (IPHONE)", "mobile" },
	{ "SomeApp/3.2 mobile", "mobile" },
	{ "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
	  "Chrome/120.0.0.0 Safari/537.36",
	  "desktop" },
	{ "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)", "desktop" },
	{ "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
	  "desktop" },
	{ "WINDOWS-UPDATE-AGENT", "desktop" },
	{ "linux", "desktop" },
	{ "", "other" },
	{ "okhttp/4.9.0", "other" },
	{ "Opera/9.80 (J2ME/MIDP; Opera Mini/9.80)", "other" },
	{ "bo", "other" },
	{ "Mozilla/5.0 (PlayStation 5)", "other" },
};

/* A record event: prefix bytes of 'x' as the line, then the map16 record written by
 * `write` into the rest of the data room. */
static struct rte_mbuf *make_event(uint16_t prefix, void (*write)(struct sl_rec_writer *, void *),
				   void *arg)
{
	struct rte_mbuf *ev = rte_pktmbuf_alloc(fx.mp);
	struct sl_rec_writer w;
	struct sl_meta *m;
	uint32_t n;
	char *p;

	assert_non_null(ev);
	p = rte_pktmbuf_mtod(ev, char *);
	memset(p, 'x', prefix);
	sl_rec_begin(&w, p + prefix, rte_pktmbuf_tailroom(ev) - prefix);
	write(&w, arg);
	n = sl_rec_end(&w);
	assert_true(n > 0);
	ev->data_len = (uint16_t)(prefix + n);
	ev->pkt_len = ev->data_len;
	m = sl_event_meta(fx.meta_offset, ev);
	memset(m, 0, sizeof(*m));
	m->kind = SL_EVENT_RECORD;
	m->raw_len = prefix;
	m->rec_off = prefix;
	return ev;
}

/* host, <key>: ua, status: the record most cases use. */
struct ua_rec {
	const char *key;
	const char *ua;
};

static void write_ua(struct sl_rec_writer *w, void *arg)
{
	const struct ua_rec *u = arg;

	sl_rec_put_str(w, "host", "example.org", 11);
	sl_rec_put_str(w, u->key, u->ua, strlen(u->ua));
	sl_rec_put_int(w, "status", 200);
}

static struct rte_mbuf *make_ua_event(const char *key, const char *ua)
{
	struct ua_rec u = { key, ua };

	return make_event(7, write_ua, &u);
}

static void run(struct rte_mbuf **ev, uint16_t n, const void *conf)
{
	struct sl_burst in = { .ev = ev, .n = n };

	memset(&out, 0, sizeof(out));
	out.n_ports = 1;
	fx.d->process(conf, &fx.ctx, &in, &out);
	assert_int_equal(out.n_drop, 0);
	assert_int_equal(out.n[0], n);
}

static void *init_conf(const char *field, const char *target)
{
	struct sl_arg v[2] = {
		{ .key = "field", .type = SL_PARAM_STR, .str = field },
		{ .key = "target", .type = SL_PARAM_STR, .str = target },
	};
	struct sl_args args = { .file = "test.yaml", .name = "ua", .n = 2, .v = v };
	struct sl_error err = { 0 };
	void *conf = NULL;

	assert_int_equal(fx.d->init(&sl_host_table, &args, &conf, &err), 0);
	assert_non_null(conf);
	return conf;
}

static struct sl_rec rec_of(struct rte_mbuf *ev)
{
	return sl_event_record(&fx.ctx, ev);
}

/* The record's field count, from its map16 header. */
static uint32_t n_fields(struct rte_mbuf *ev)
{
	struct sl_rec r = rec_of(ev);

	assert_true(r.len >= 3);
	assert_int_equal(r.p[0], 0xde);
	return (uint32_t)r.p[1] << 8 | r.p[2];
}

static void assert_str_field(struct rte_mbuf *ev, const char *key, const char *want)
{
	struct sl_val v;

	assert_true(sl_rec_find(rec_of(ev), key, strlen(key), &v));
	assert_int_equal(v.type, SL_VAL_STR);
	assert_int_equal(v.s.len, strlen(want));
	assert_memory_equal(v.s.p, want, v.s.len);
}

static void test_classes(void **state)
{
	const uint16_t n = (uint16_t)(sizeof(cases) / sizeof(cases[0]));
	struct rte_mbuf *ev[SL_BURST_MAX];
	uint16_t len_before[SL_BURST_MAX];
	uint64_t want[4] = { 0 };
	void *conf = init_conf("user_agent", "ua_class");

	assert_true(n <= SL_BURST_MAX);
	memset(fx.counters, 0, sizeof(fx.counters));
	for (uint16_t i = 0; i < n; i++) {
		ev[i] = make_ua_event("user_agent", cases[i].ua);
		len_before[i] = ev[i]->data_len;
		want[strcmp(cases[i].cls, "bot") == 0	    ? C_BOT
		     : strcmp(cases[i].cls, "mobile") == 0  ? C_MOBILE
		     : strcmp(cases[i].cls, "desktop") == 0 ? C_DESKTOP
							    : C_OTHER]++;
	}
	run(ev, n, conf);
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *e = out.port[0][i];
		struct sl_val k, v;
		uint32_t pos = 0;
		static const char *const keys[] = { "host", "user_agent", "status", "ua_class" };

		assert_ptr_equal(e, ev[i]); /* unshared events are changed in place */
		assert_str_field(e, "ua_class", cases[i].cls);
		/* fixstr key "ua_class" (1 + 8) and fixstr value (1 + strlen) */
		assert_int_equal(e->data_len, len_before[i] + 9 + 1 + strlen(cases[i].cls));
		assert_int_equal(e->pkt_len, e->data_len);
		assert_int_equal(n_fields(e), 4);
		/* The whole record still parses, old fields first and unchanged. */
		for (int f = 0; f < 4; f++) {
			assert_true(sl_rec_next(rec_of(e), &pos, &k, &v));
			assert_int_equal(k.s.len, strlen(keys[f]));
			assert_memory_equal(k.s.p, keys[f], k.s.len);
		}
		assert_int_equal(pos, rec_of(e).len);
		assert_false(sl_rec_next(rec_of(e), &pos, &k, &v));
		assert_str_field(e, "user_agent", cases[i].ua);
		assert_str_field(e, "host", "example.org");
		/* The line in front of the record is untouched. */
		assert_memory_equal(rte_pktmbuf_mtod(e, char *), "xxxxxxx", 7);
		rte_pktmbuf_free(e);
	}
	assert_int_equal(fx.counters[C_BOT], want[C_BOT]);
	assert_int_equal(fx.counters[C_MOBILE], want[C_MOBILE]);
	assert_int_equal(fx.counters[C_DESKTOP], want[C_DESKTOP]);
	assert_int_equal(fx.counters[C_OTHER], want[C_OTHER]);
	/* Counted by hand from the table: 9 bot, 5 mobile, 5 desktop, 5 other. */
	assert_int_equal(want[C_BOT], 9);
	assert_int_equal(want[C_MOBILE], 5);
	assert_int_equal(want[C_DESKTOP], 5);
	assert_int_equal(want[C_OTHER], 5);
	fx.d->fini(conf);
}

static void test_custom_params(void **state)
{
	void *conf = init_conf("agent", "device");
	struct rte_mbuf *ev[2];

	memset(fx.counters, 0, sizeof(fx.counters));
	ev[0] = make_ua_event("agent", "Mozilla/5.0 (iPhone)");
	/* the default field name is not looked at any more */
	ev[1] = make_ua_event("user_agent", "curl/8.0");
	run(ev, 2, conf);
	assert_str_field(out.port[0][0], "device", "mobile");
	assert_int_equal(n_fields(out.port[0][0]), 4);
	assert_int_equal(n_fields(out.port[0][1]), 3);
	assert_int_equal(fx.counters[C_MOBILE], 1);
	assert_int_equal(fx.counters[C_NO_FIELD], 1);
	assert_int_equal(fx.counters[C_BOT], 0);
	rte_pktmbuf_free(ev[0]);
	rte_pktmbuf_free(ev[1]);
	fx.d->fini(conf);
}

static void write_int_ua(struct sl_rec_writer *w, void *arg)
{
	sl_rec_put_int(w, "user_agent", 7);
}

static void write_existing(struct sl_rec_writer *w, void *arg)
{
	sl_rec_put_str(w, "user_agent", "curl/8.0", 8);
	sl_rec_put_str(w, "ua_class", "mine", 4);
}

/* The last (up to) 128 data bytes of an event: where a record would have grown. */
static uint16_t tail_len(struct rte_mbuf *ev)
{
	return ev->data_len > 128 ? 128 : ev->data_len;
}

static const uint8_t *tail(struct rte_mbuf *ev)
{
	return rte_pktmbuf_mtod_offset(ev, const uint8_t *, ev->data_len - tail_len(ev));
}

static void test_left_alone(void **state)
{
	void *conf = init_conf("user_agent", "ua_class");
	struct rte_mbuf *ev[6];
	uint8_t before[6][128];
	uint16_t len[6];
	struct sl_meta *m;
	uint8_t *p;
	uint16_t room;

	memset(fx.counters, 0, sizeof(fx.counters));
	/* 0: a line event */
	ev[0] = rte_pktmbuf_alloc(fx.mp);
	assert_non_null(ev[0]);
	p = (uint8_t *)rte_pktmbuf_append(ev[0], 10);
	memcpy(p, "curl/8.0 x", 10);
	m = sl_event_meta(fx.meta_offset, ev[0]);
	memset(m, 0, sizeof(*m));
	m->kind = SL_EVENT_LINE;
	m->raw_len = 10;
	/* 1: no such field; 2: the field is an integer; 3: target already present */
	ev[1] = make_ua_event("agent", "curl/8.0");
	ev[2] = make_event(0, write_int_ua, NULL);
	ev[3] = make_event(0, write_existing, NULL);
	/* 4: a record that fills the mbuf but for 12 bytes; "bot" needs 9 + 4 = 13 */
	ev[4] = make_ua_event("user_agent", "curl/8.0");
	room = rte_pktmbuf_tailroom(ev[4]);
	{
		struct ua_rec u = { "user_agent", "curl/8.0" };
		uint16_t rec_len = ev[4]->data_len - 7;

		rte_pktmbuf_free(ev[4]);
		ev[4] = make_event((uint16_t)(7 + room - 12), write_ua, &u);
		assert_int_equal(ev[4]->data_len - sl_event_meta(fx.meta_offset, ev[4])->rec_off,
				 rec_len);
	}
	assert_int_equal(rte_pktmbuf_tailroom(ev[4]), 12);
	/* 5: a record that is a fixmap, not map16: cannot grow in place */
	ev[5] = rte_pktmbuf_alloc(fx.mp);
	assert_non_null(ev[5]);
	{
		/* {"user_agent": "curl"} as fixmap 1, fixstr 10, fixstr 4 */
		static const uint8_t fixmap[] = { 0x81, 0xaa, 'u', 's',	 'e', 'r', '_', 'a', 'g',
						  'e',	'n',  't', 0xa4, 'c', 'u', 'r', 'l' };
		p = (uint8_t *)rte_pktmbuf_append(ev[5], sizeof(fixmap));
		memcpy(p, fixmap, sizeof(fixmap));
		m = sl_event_meta(fx.meta_offset, ev[5]);
		memset(m, 0, sizeof(*m));
		m->kind = SL_EVENT_RECORD;
	}
	for (int i = 0; i < 6; i++) {
		len[i] = ev[i]->data_len;
		memcpy(before[i], tail(ev[i]), tail_len(ev[i]));
	}
	run(ev, 6, conf);
	for (int i = 0; i < 6; i++) {
		assert_ptr_equal(out.port[0][i], ev[i]);
		assert_int_equal(ev[i]->data_len, len[i]);
		assert_memory_equal(before[i], tail(ev[i]), tail_len(ev[i]));
		rte_pktmbuf_free(ev[i]);
	}
	assert_int_equal(fx.counters[C_NOT_RECORD], 1);
	assert_int_equal(fx.counters[C_NO_FIELD], 2);
	assert_int_equal(fx.counters[C_EXISTS], 1);
	assert_int_equal(fx.counters[C_UNWRITABLE], 2);
	assert_int_equal(fx.counters[C_BOT] + fx.counters[C_MOBILE] + fx.counters[C_DESKTOP] +
				 fx.counters[C_OTHER],
			 0);
	fx.d->fini(conf);
}

static void test_shared_event_is_unshared(void **state)
{
	void *conf = init_conf("user_agent", "ua_class");
	struct rte_mbuf *ev = make_ua_event("user_agent", "Wget/1.0");
	struct rte_mbuf *held = ev;
	uint16_t len = ev->data_len;
	struct sl_val v;

	memset(fx.counters, 0, sizeof(fx.counters));
	/* Another consumer (a fan-out edge, a tap) holds a second reference. */
	rte_mbuf_refcnt_update(ev, 1);
	run(&ev, 1, conf);
	assert_ptr_not_equal(out.port[0][0], held);
	assert_str_field(out.port[0][0], "ua_class", "bot");
	assert_int_equal(out.port[0][0]->data_len, len + 9 + 4);
	/* The other holder's event is as it was, and it is the only reference left. */
	assert_int_equal(held->data_len, len);
	assert_false(sl_rec_find(rec_of(held), "ua_class", 8, &v));
	assert_int_equal(n_fields(held), 3);
	assert_int_equal(rte_mbuf_refcnt_read(held), 1);
	assert_int_equal(fx.counters[C_BOT], 1);
	rte_pktmbuf_free(out.port[0][0]);
	rte_pktmbuf_free(held);
	fx.d->fini(conf);
}

static void test_init_errors(void **state)
{
	struct sl_arg v[2] = {
		{ .key = "field", .type = SL_PARAM_STR, .str = "user_agent" },
		{ .key = "target", .type = SL_PARAM_STR, .str = "" },
	};
	struct sl_args args = { .file = "test.yaml", .name = "ua", .n = 2, .v = v };
	struct sl_error err = { 0 };
	void *conf = NULL;

	assert_int_equal(fx.d->init(&sl_host_table, &args, &conf, &err), -EINVAL);
	assert_string_equal(err.key, "target");
	assert_string_equal(err.msg, "must not be empty");
	assert_null(conf);
}

static int setup(void **state)
{
	char path[512], msg[512];

	fx.mp = sl_test_pool(512, 512, &fx.meta_offset);
	fx.priv.pool = fx.mp;
	if (sl_fixture_copy(ua_class_so, "ua_class.so", 0644, path, sizeof(path)) < 0)
		return -1;
	if (sl_registry_create(&fx.reg) < 0)
		return -1;
	if (sl_plugin_load(fx.reg, path, msg, sizeof(msg)) < 0) {
		printf("# %s\n", msg);
		return -1;
	}
	fx.d = sl_registry_find(fx.reg, "ua_class");
	if (!fx.d || !fx.d->fini)
		return -1;
	fx.ctx.host = &sl_host_table;
	fx.ctx.meta_offset = fx.meta_offset;
	fx.ctx.counters = fx.counters;
	fx.ctx.name = "ua";
	fx.ctx.host_priv = &fx.priv;
	return 0;
}

static int teardown(void **state)
{
	sl_registry_destroy(fx.reg);
	sl_fixture_cleanup();
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classes),	    cmocka_unit_test(test_custom_params),
		cmocka_unit_test(test_left_alone),  cmocka_unit_test(test_shared_event_is_unshared),
		cmocka_unit_test(test_init_errors),
	};

	if (argc != 2) {
		printf("Bail out! usage: %s PATH/ua_class.so\n", argv[0]);
		return 1;
	}
	ua_class_so = argv[1];
	return cmocka_run_group_tests_name("ua_class", tests, setup, teardown);
}
