/*
 * Test of the template plugin, loaded the way the runtime loads it: through the registry
 * from a file (a private 0644 copy of the build's template.so, the path given as the only
 * argument), then init and process called on real mbufs from a test pool. Checks that
 * every event comes out on the default output, in order, unchanged, and that the declared
 * counter `events` adds up the bursts.
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

static const char *template_so;

/* Make n events whose first bytes say "event <i>". */
static void make_burst(struct rte_mempool *mp, int meta_offset, struct rte_mbuf **ev, uint16_t n)
{
	for (uint16_t i = 0; i < n; i++) {
		char text[16] = "";
		struct sl_meta *m;
		char *p;

		ev[i] = rte_pktmbuf_alloc(mp);
		assert_non_null(ev[i]);
		p = rte_pktmbuf_append(ev[i], sizeof(text));
		assert_non_null(p);
		snprintf(text, sizeof(text), "event %u", i);
		memcpy(p, text, sizeof(text));
		m = sl_event_meta(meta_offset, ev[i]);
		memset(m, 0, sizeof(*m));
		m->kind = SL_EVENT_LINE;
		m->raw_len = (uint16_t)strlen(text);
		m->event_id = 1000 + i;
	}
}

static void test_template_pass_and_count(void **state)
{
	static struct sl_emit out; /* about 20 KiB: not on the stack */
	struct sl_ctx_host priv = { 0 };
	uint64_t counters[SL_COUNTER_MAX] = { 0 };
	struct rte_mbuf *ev[SL_BURST_MAX];
	const struct sl_stage_desc *d;
	struct sl_args args = { .file = "test.yaml", .name = "t", .n = 0, .v = NULL };
	struct sl_error err = { 0 };
	struct sl_registry *r;
	struct sl_burst in;
	struct sl_ctx ctx;
	char path[512], msg[512];
	void *conf = (void *)1;
	int meta_offset;
	const uint16_t sizes[] = { 32, 5 };
	uint64_t expect_total = 0;

	priv.pool = sl_test_pool(256, 2048, &meta_offset);
	assert_int_equal(sl_fixture_copy(template_so, "template.so", 0644, path, sizeof(path)), 0);
	assert_int_equal(sl_registry_create(&r), 0);
	assert_int_equal(sl_plugin_load(r, path, msg, sizeof(msg)), 0);
	d = sl_registry_find(r, "template");
	assert_non_null(d);
	assert_string_equal(d->counters[0], "events");
	assert_int_equal(d->init(&sl_host_table, &args, &conf, &err), 0);

	memset(&ctx, 0, sizeof(ctx));
	ctx.host = &sl_host_table;
	ctx.meta_offset = meta_offset;
	ctx.counters = counters;
	ctx.name = "t";
	ctx.host_priv = &priv;

	for (size_t b = 0; b < sizeof(sizes) / sizeof(sizes[0]); b++) {
		uint16_t n = sizes[b];

		make_burst(priv.pool, meta_offset, ev, n);
		memset(&out, 0, sizeof(out));
		out.n_ports = 1;
		in.ev = ev;
		in.n = n;
		d->process(conf, &ctx, &in, &out);
		expect_total += n;
		assert_int_equal(out.n[0], n);
		assert_int_equal(out.n_drop, 0);
		for (uint16_t i = 0; i < n; i++) {
			char want[16];

			snprintf(want, sizeof(want), "event %u", i);
			assert_ptr_equal(out.port[0][i], ev[i]);
			assert_int_equal(ev[i]->data_len, 16);
			assert_string_equal(rte_pktmbuf_mtod(ev[i], const char *), want);
			assert_int_equal(sl_event_meta(meta_offset, ev[i])->event_id, 1000 + i);
			rte_pktmbuf_free(ev[i]);
		}
		assert_int_equal(counters[0], expect_total);
	}
	assert_int_equal(counters[0], 37);
	if (d->fini)
		d->fini(conf);
	sl_registry_destroy(r);
}

static int teardown(void **state)
{
	sl_fixture_cleanup();
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_template_pass_and_count),
	};

	if (argc != 2) {
		printf("Bail out! usage: %s PATH/template.so\n", argv[0]);
		return 1;
	}
	template_so = argv[1];
	return cmocka_run_group_tests_name("template", tests, NULL, teardown);
}
