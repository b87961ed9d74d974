/*
 * Unit tests for projection masks (projection.h): pipelines loaded from YAML with the
 * built-in stages, the mask of nginx_parse checked against what its consumers read.
 * Expected masks are written out by hand from the rules in projection.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "graph/projection.h"
#include "plugin/registry.h"

/* nginx_parse writes, in order: status bytes method path ip user time protocol referer
 * user_agent */
#define F_STATUS 0x001ull
#define F_BYTES	 0x002ull
#define F_PATH	 0x008ull
#define F_ALL	 0x3ffull

static struct sl_registry *registry;

static uint64_t parse_mask(const char *yaml)
{
	struct sl_config_opts o = { .registry = registry, .keep_stage_conf = true };
	struct sl_config *c = NULL;
	struct sl_diag d = { 0 };
	uint64_t m;
	int i;

	if (sl_config_load_buffer("p.yaml", yaml, strlen(yaml), &o, &c, &d) != 0) {
		for (uint32_t k = 0; k < d.n; k++)
			fprintf(stderr, "# %s\n", d.msgs[k]);
		fail_msg("pipeline did not load");
	}
	sl_diag_fini(&d);
	i = sl_config_find(c, "parse");
	assert_true(i >= 0);
	m = sl_projection_mask(c, (uint32_t)i);
	/* not a stage, or no writes: everything */
	assert_int_equal(sl_projection_mask(c, (uint32_t)sl_config_find(c, "in")), ~0ull);
	sl_config_destroy(c);
	return m;
}

#define HEAD                               \
	"sources:\n"                       \
	"  in: { type: gen, count: 10 }\n" \
	"stages:\n"                        \
	"  parse: { use: nginx_parse, inputs: [in] }\n"

static void test_issue2_pipeline(void **unused)
{
	/* filter on status -> raw file; count by status -> jsonl: only status is read */
	assert_int_equal(
		parse_mask(HEAD
			   "  errors: { use: filter, inputs: [parse], where: \"status >= 500\" }\n"
			   "  by: { use: count, inputs: [parse], key: status }\n"
			   "sinks:\n"
			   "  a: { type: stdout, inputs: [by], format: jsonl }\n"
			   "  b: { type: file, inputs: [errors], path: /dev/null, format: raw }\n"),
		F_STATUS);
}

static void test_forwarded_reads(void **unused)
{
	/* filter passes events on: what follows it counts (count by path), and the filter's
	 * own fields (bytes, status) */
	assert_int_equal(parse_mask(HEAD "  f: { use: filter, inputs: [parse], where: \"bytes > 0 "
					 "and status == 200\" }\n"
					 "  by: { use: count, inputs: [f], key: path }\n"
					 "sinks:\n"
					 "  a: { type: null, inputs: [by] }\n"),
			 F_STATUS | F_BYTES | F_PATH);
	/* a filter followed by a sink that writes records: everything */
	assert_int_equal(
		parse_mask(HEAD "  f: { use: filter, inputs: [parse], where: \"status == 1\" }\n"
				"sinks:\n"
				"  a: { type: stdout, inputs: [f], format: jsonl }\n"),
		F_ALL);
}

static void test_sinks(void **unused)
{
	/* raw and null sinks read no field; the default stdout format is a table of records */
	assert_int_equal(
		parse_mask(HEAD
			   "sinks:\n"
			   "  a: { type: file, inputs: [parse], path: /dev/null, format: raw }\n"
			   "  b: { type: null, inputs: [parse] }\n"),
		0);
	assert_int_equal(parse_mask(HEAD "sinks:\n"
					 "  a: { type: stdout, inputs: [parse] }\n"),
			 F_ALL);
}

static int setup(void **unused)
{
	return sl_registry_create(&registry);
}

static int teardown(void **unused)
{
	sl_registry_destroy(registry);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_issue2_pipeline),
		cmocka_unit_test(test_forwarded_reads),
		cmocka_unit_test(test_sinks),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
