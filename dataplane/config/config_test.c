/*
 * Unit tests of the pipeline loader (config.c): the issue's pipeline loads with every
 * field resolved; flow and block style give the same config; defaults fill; every error
 * kind is reported at the file:line:column computed here from the YAML text (by hand, or
 * by finding the offending text in the literal), all errors of a file are collected; stage
 * init runs once with fini called at the right time. Built-in stages and source/sink kinds
 * come from their rooms; the "fixture" stage kinds below are test descriptors handed in
 * through opts.stages so parameter typing can be tested on every type.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <cmocka.h>

#include "config/config.h"
#include "event/event.h"
#include "plugin/registry.h"
#include "sink/sink.h"
#include "source/source.h"

/* Calls of the fixture's init, confs it made, and fini calls. */
static int n_init, n_conf, n_fini;

/*
 * Allocation failure injection. The test is linked with --wrap for malloc, calloc and
 * realloc, which reroutes the calls made by the runtime's static objects (config.c,
 * diag.c, the stages) but not those inside shared libraries (libyaml, cmocka). When armed
 * with n, the n-th allocation from then on fails, and with sticky every one after it too.
 */
void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);

static struct {
	long countdown; /* 0: disarmed */
	bool sticky;
	bool failed;
} alloc_fault;

static bool alloc_fails(void)
{
	if (alloc_fault.failed)
		return alloc_fault.sticky;
	if (alloc_fault.countdown == 0 || --alloc_fault.countdown > 0)
		return false;
	alloc_fault.failed = true;
	return true;
}

void *__wrap_malloc(size_t size)
{
	return alloc_fails() ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
	return alloc_fails() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
	return alloc_fails() ? NULL : __real_realloc(p, size);
}

/* Fails on the text "BAD" in expr, naming the byte offset of it, like an expression
 * compiler reporting where it stopped. */
static int fixture_init(const struct sl_host *host, const struct sl_args *args, void **conf,
			struct sl_error *err)
{
	const struct sl_arg *expr = sl_args_get(args, "expr");
	const char *bad = expr && expr->str ? strstr(expr->str, "BAD") : NULL;

	n_init++;
	if (bad) {
		err->key = "expr";
		err->offset = (uint32_t)(bad - expr->str);
		snprintf(err->msg, sizeof(err->msg), "unexpected token 'BAD'");
		return -EINVAL;
	}
	*conf = malloc(16);
	if (!*conf)
		return -ENOMEM;
	n_conf++;
	return 0;
}

static void fixture_fini(void *conf)
{
	n_fini++;
	free(conf);
}

static void fixture_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
			    struct sl_emit *out)
{
	for (uint16_t i = 0; i < in->n; i++)
		sl_emit(out, 0, in->ev[i]);
}

static const struct sl_param_desc fixture_params[] = {
	{ "expr", SL_PARAM_STR, false, NULL, "an expression" },
	{ "size", SL_PARAM_INT, false, "4Ki", "a size" },
	{ "fast", SL_PARAM_BOOL, false, "yes", "a switch" },
	{ "fields", SL_PARAM_LIST, false, "[a, b]", "names" },
	{ NULL },
};

static const char *const fixture_outputs[] = { "default", "errors", NULL };

static const struct sl_stage_desc fixture_stage = {
	SL_STAGE_DESC_INIT,	  .name = "fixture",
	.version = "1",		  .summary = "test stage with one parameter of each type",
	.params = fixture_params, .outputs = fixture_outputs,
	.init = fixture_init,	  .process = fixture_process,
	.fini = fixture_fini,
};

static const struct sl_param_desc fixture_req_params[] = {
	{ "need", SL_PARAM_STR, true, NULL, "required" },
	{ NULL },
};

static const struct sl_stage_desc fixture_req_stage = {
	SL_STAGE_DESC_INIT,
	.name = "fixture_req",
	.version = "1",
	.summary = "test stage with a required parameter",
	.params = fixture_req_params,
	.init = fixture_init,
	.process = fixture_process,
	.fini = fixture_fini,
};

static const struct sl_stage_desc *const fixtures[] = { &fixture_stage, &fixture_req_stage, NULL };

static struct sl_registry *registry;

static struct sl_config_opts opts(bool keep)
{
	struct sl_config_opts o = {
		.registry = registry,
		.load_plugins = false,
		.keep_stage_conf = keep,
		.host = &sl_host_table,
		.stages = fixtures,
	};
	return o;
}

static void print_diag(const struct sl_diag *d)
{
	for (uint32_t i = 0; i < d->n; i++)
		fprintf(stderr, "# diag: %s\n", d->msgs[i]);
}

static struct sl_config *load_ok(const char *yaml)
{
	struct sl_config_opts o = opts(false);
	struct sl_diag d = { 0 };
	struct sl_config *c = NULL;
	int rc = sl_config_load_buffer("t.yaml", yaml, strlen(yaml), &o, &c, &d);

	if (rc != 0)
		print_diag(&d);
	assert_int_equal(rc, 0);
	assert_int_equal(d.n, 0);
	assert_non_null(c);
	sl_diag_fini(&d);
	return c;
}

/* "t.yaml:L:C: " of the nth (0-based) occurrence of needle in yaml. */
static void where(const char *yaml, const char *needle, int nth, char *out, size_t len)
{
	const char *p = yaml - 1, *bol = yaml;
	unsigned line = 1;

	for (int i = 0; i <= nth; i++) {
		p = strstr(p + 1, needle);
		assert_non_null(p);
	}
	for (const char *q = yaml; q < p; q++) {
		if (*q == '\n') {
			line++;
			bol = q + 1;
		}
	}
	snprintf(out, len, "t.yaml:%u:%u: ", line, (unsigned)(p - bol) + 1);
}

static bool has_msg(const struct sl_diag *d, const char *prefix, const char *part)
{
	for (uint32_t i = 0; i < d->n; i++)
		if (d->msgs[i] && strncmp(d->msgs[i], prefix, strlen(prefix)) == 0 &&
		    strstr(d->msgs[i], part))
			return true;
	return false;
}

static void load_fail(const char *yaml, struct sl_config_opts *o, struct sl_diag *d)
{
	struct sl_config *c = (struct sl_config *)1;
	int rc = sl_config_load_buffer("t.yaml", yaml, strlen(yaml), o, &c, d);

	assert_int_equal(rc, -EINVAL);
	assert_null(c);
	assert_true(d->n > 0);
}

static void expect_at(const char *yaml, const char *prefix, const char *part)
{
	struct sl_config_opts o = opts(false);
	struct sl_diag d = { 0 };

	load_fail(yaml, &o, &d);
	if (!has_msg(&d, prefix, part)) {
		fprintf(stderr, "# wanted: %s...%s\n", prefix, part);
		print_diag(&d);
	}
	assert_true(has_msg(&d, prefix, part));
	sl_diag_fini(&d);
}

/* Expect an error at the nth occurrence of needle. */
static void expect_error(const char *yaml, const char *needle, int nth, const char *part)
{
	char prefix[64];

	where(yaml, needle, nth, prefix, sizeof(prefix));
	expect_at(yaml, prefix, part);
}

#define SRC	   "sources:\n  in: { type: file, path: a.log }\n"
#define SINK(from) "sinks:\n  out: { type: file, inputs: [" from "], path: o.log, format: raw }\n"

static const char issue_flow[] =
	"sources:\n"
	"  access: { type: file, path: tests/data/access.log }\n"
	"stages:\n"
	"  parse:     { use: nginx_parse, inputs: [access] }\n"
	"  errors:    { use: filter, inputs: [parse], where: \"status >= 500\" }\n"
	"  by_status: { use: count, inputs: [parse], key: status, window: all }\n"
	"sinks:\n"
	"  status_counts: { type: file, inputs: [by_status], path: out/status.jsonl,"
	" format: jsonl }\n" /* one line of YAML */
	"  server_errors: { type: file, inputs: [errors], path: out/5xx.log, format: raw }\n";

static const char issue_block[] = "# the same pipeline, block style\n"
				  "sources:\n"
				  "  access:\n"
				  "    type: file\n"
				  "    path: tests/data/access.log\n"
				  "stages:\n"
				  "  parse:\n"
				  "    use: nginx_parse\n"
				  "    inputs:\n"
				  "      - access\n"
				  "  errors:\n"
				  "    use: filter\n"
				  "    inputs: [parse]\n"
				  "    where: 'status >= 500'\n"
				  "  by_status:\n"
				  "    use: count\n"
				  "    inputs:\n"
				  "    - parse\n"
				  "    key: status\n"
				  "    window: all\n"
				  "sinks:\n"
				  "  status_counts:\n"
				  "    type: file\n"
				  "    inputs: [by_status]\n"
				  "    path: out/status.jsonl\n"
				  "    format: jsonl\n"
				  "  server_errors:\n"
				  "    type: file\n"
				  "    inputs:\n"
				  "      - errors\n"
				  "    path: out/5xx.log\n"
				  "    format: raw\n";

static const char *arg_str(const struct sl_config_node *n, const char *key)
{
	const struct sl_arg *a = sl_args_get(&n->args, key);

	assert_non_null(a);
	return a->str;
}

static void test_issue_pipeline_loads(void **state)
{
	struct sl_config *c = load_ok(issue_flow);
	static const char *const names[] = { "access",	  "parse",	   "errors",
					     "by_status", "status_counts", "server_errors" };
	static const enum sl_node_role roles[] = { SL_NODE_SOURCE, SL_NODE_STAGE, SL_NODE_STAGE,
						   SL_NODE_STAGE,  SL_NODE_SINK,  SL_NODE_SINK };
	static const char *const kinds[] = { "file",  "nginx_parse", "filter",
					     "count", "file",	     "file" };
	/* Lines of the node names in issue_flow, counted by hand; all names at column 3. */
	static const uint32_t lines[] = { 2, 4, 5, 6, 8, 9 };
	const struct sl_config_node *n = c->nodes;
	const struct sl_arg *where;

	assert_string_equal(c->file, "t.yaml");
	assert_int_equal(c->n_nodes, 6);
	assert_int_equal(c->n_plugins, 0);
	for (uint32_t i = 0; i < 6; i++) {
		assert_string_equal(n[i].name, names[i]);
		assert_int_equal(n[i].role, roles[i]);
		assert_string_equal(n[i].kind, kinds[i]);
		assert_int_equal(n[i].line, lines[i]);
		assert_int_equal(n[i].column, 3);
		assert_int_equal(sl_config_find(c, names[i]), (int)i);
		assert_null(n[i].stage_conf);
	}
	assert_int_equal(sl_config_find(c, "nope"), -1);
	assert_non_null(n[0].source);
	assert_null(n[0].stage);
	assert_non_null(n[1].stage);
	assert_non_null(n[4].sink);
	assert_string_equal(n[1].stage->name, "nginx_parse");

	/* inputs: each to node index and port 0, at the position of the name. */
	assert_int_equal(n[0].n_inputs, 0);
	assert_int_equal(n[1].n_inputs, 1);
	assert_int_equal(n[1].inputs[0].node, 0);
	assert_int_equal(n[2].inputs[0].node, 1);
	assert_int_equal(n[3].inputs[0].node, 1);
	assert_int_equal(n[4].inputs[0].node, 3);
	assert_int_equal(n[5].inputs[0].node, 2);
	for (uint32_t i = 1; i < 6; i++)
		assert_int_equal(n[i].inputs[0].port, 0);
	assert_string_equal(n[2].inputs[0].text, "parse");
	/* "  errors:    { use: filter, inputs: [parse]": '[' is column 37. */
	assert_int_equal(n[2].inputs[0].line, 5);
	assert_int_equal(n[2].inputs[0].column, 38);

	/* Common keys at their defaults. */
	for (uint32_t i = 1; i < 6; i++) {
		assert_int_equal(n[i].ring_size, 2048);
		assert_int_equal(n[i].when_full, SL_EDGE_BLOCK);
	}
	assert_int_equal(n[1].replicas, 1);

	/* Outputs: sources one "default", sinks none, nginx_parse default + errors. */
	assert_int_equal(n[0].n_outputs, 1);
	assert_string_equal(n[0].output_names[0], "default");
	assert_int_equal(n[4].n_outputs, 0);
	assert_int_equal(n[1].n_outputs, 2);
	assert_string_equal(n[1].output_names[0], "default");
	assert_string_equal(n[1].output_names[1], "errors");

	/* Parameters, typed, at the value's position: the quote of "status >= 500" is at
	 * column 53 of line 5 (2 + 7 + 4 + 39 characters before it). */
	where = sl_args_get(&n[2].args, "where");
	assert_non_null(where);
	assert_string_equal(where->str, "status >= 500");
	assert_int_equal(where->line, 5);
	assert_int_equal(where->column, 53);
	assert_string_equal(n[2].args.name, "errors");
	assert_string_equal(n[2].args.file, "t.yaml");
	assert_string_equal(arg_str(&n[3], "key"), "status");
	assert_string_equal(arg_str(&n[3], "window"), "all");
	assert_string_equal(arg_str(&n[0], "path"), "tests/data/access.log");
	assert_string_equal(arg_str(&n[4], "path"), "out/status.jsonl");
	assert_string_equal(arg_str(&n[4], "format"), "jsonl");
	assert_string_equal(arg_str(&n[5], "format"), "raw");
	/* Every declared parameter is present. */
	for (uint32_t i = 0; i < 6; i++) {
		const struct sl_param_desc *p = n[i].source ? n[i].source->params
						: n[i].sink ? n[i].sink->params
							    : n[i].stage->params;

		for (; p && p->name; p++)
			assert_non_null(sl_args_get(&n[i].args, p->name));
	}
	sl_config_destroy(c);
}

static void test_flow_block_equivalent(void **state)
{
	struct sl_config *f = load_ok(issue_flow), *b = load_ok(issue_block);

	assert_int_equal(f->n_nodes, b->n_nodes);
	for (uint32_t i = 0; i < f->n_nodes; i++) {
		const struct sl_config_node *x = &f->nodes[i], *y = &b->nodes[i];

		assert_string_equal(x->name, y->name);
		assert_string_equal(x->kind, y->kind);
		assert_int_equal(x->role, y->role);
		assert_ptr_equal(x->stage, y->stage);
		assert_ptr_equal(x->source, y->source);
		assert_ptr_equal(x->sink, y->sink);
		assert_int_equal(x->n_inputs, y->n_inputs);
		for (uint32_t k = 0; k < x->n_inputs; k++) {
			assert_int_equal(x->inputs[k].node, y->inputs[k].node);
			assert_int_equal(x->inputs[k].port, y->inputs[k].port);
			assert_string_equal(x->inputs[k].text, y->inputs[k].text);
		}
		assert_int_equal(x->replicas, y->replicas);
		assert_int_equal(x->ring_size, y->ring_size);
		assert_int_equal(x->when_full, y->when_full);
		assert_int_equal(x->n_outputs, y->n_outputs);
		assert_int_equal(x->args.n, y->args.n);
		for (uint32_t k = 0; k < x->args.n; k++) {
			const struct sl_arg *p = &x->args.v[k], *q = &y->args.v[k];

			assert_string_equal(p->key, q->key);
			if (p->str || q->str)
				assert_string_equal(p->str, q->str);
			assert_int_equal(p->i, q->i);
			assert_int_equal(p->b, q->b);
			assert_int_equal(p->n_list, q->n_list);
		}
	}
	/* Positions differ and are those of the block text: "path" of access on line 5,
	 * value at column 11 ("    path: " is 10 characters). */
	assert_int_equal(sl_args_get(&b->nodes[0].args, "path")->line, 5);
	assert_int_equal(sl_args_get(&b->nodes[0].args, "path")->column, 11);
	assert_int_equal(b->nodes[1].line, 7);
	sl_config_destroy(f);
	sl_config_destroy(b);
}

static void test_defaults_fill(void **state)
{
	const char *yaml = SRC "stages:\n"
			       "  f: { use: fixture, inputs: [in] }\n" SINK("f");
	struct sl_config *c = load_ok(yaml);
	const struct sl_config_node *f = &c->nodes[1];
	const struct sl_arg *a;

	assert_string_equal(f->name, "f");
	assert_int_equal(f->args.n, 4);
	assert_int_equal(f->replicas, 1);
	assert_int_equal(f->ring_size, 2048);
	assert_int_equal(f->when_full, SL_EDGE_BLOCK);
	a = sl_args_get(&f->args, "expr");
	assert_non_null(a);
	assert_null(a->str);
	assert_int_equal(a->n_list, 0);
	assert_non_null(a->list);
	assert_null(a->list[0]);
	assert_int_equal(a->line, 0);
	a = sl_args_get(&f->args, "size");
	assert_int_equal(a->type, SL_PARAM_INT);
	assert_int_equal(a->i, 4096);
	assert_string_equal(a->str, "4Ki");
	assert_int_equal(a->line, 0);
	assert_int_equal(a->column, 0);
	a = sl_args_get(&f->args, "fast");
	assert_true(a->b);
	a = sl_args_get(&f->args, "fields");
	assert_int_equal(a->n_list, 2);
	assert_string_equal(a->list[0], "a");
	assert_string_equal(a->list[1], "b");
	assert_null(a->list[2]);
	/* Outputs from the descriptor. */
	assert_int_equal(f->n_outputs, 2);
	assert_string_equal(f->output_names[1], "errors");
	sl_config_destroy(c);
}

static void test_values_typed(void **state)
{
	const char *yaml =
		SRC "stages:\n"
		    "  f:\n"
		    "    use: fixture\n"
		    "    inputs: [in]\n"
		    "    replicas: 3\n"
		    "    ring_size: 4Ki\n"
		    "    when_full: drop_newest\n"
		    "    size: 0x10k\n"
		    "    fast: Off\n"
		    "    fields: [x, 'y z', 7]\n"
		    "    expr: |\n"
		    "      two\n"
		    "      lines\n"
		    "  g: { use: fixture, inputs: [f.errors, f], fields: solo, size: -2Mi,\n"
		    "       when_full: block }\n" SINK("g");
	struct sl_config *c = load_ok(yaml);
	const struct sl_config_node *f = &c->nodes[1], *g = &c->nodes[2];
	const struct sl_arg *a;

	assert_int_equal(f->replicas, 3);
	assert_int_equal(f->ring_size, 4096);
	assert_int_equal(f->when_full, SL_EDGE_DROP_NEWEST);
	assert_int_equal(sl_args_get(&f->args, "size")->i, 16000);
	assert_false(sl_args_get(&f->args, "fast")->b);
	a = sl_args_get(&f->args, "fields");
	assert_int_equal(a->n_list, 3);
	assert_string_equal(a->list[0], "x");
	assert_string_equal(a->list[1], "y z");
	assert_string_equal(a->list[2], "7");
	assert_null(a->list[3]);
	assert_string_equal(a->str, "x, y z, 7");
	assert_int_equal(a->line, 12);
	assert_int_equal(a->column, 13);
	assert_string_equal(sl_args_get(&f->args, "expr")->str, "two\nlines\n");
	/* Ports: f.errors is output 1 of f, f alone output 0. */
	assert_int_equal(g->n_inputs, 2);
	assert_int_equal(g->inputs[0].node, 1);
	assert_int_equal(g->inputs[0].port, 1);
	assert_int_equal(g->inputs[1].node, 1);
	assert_int_equal(g->inputs[1].port, 0);
	a = sl_args_get(&g->args, "fields");
	assert_int_equal(a->n_list, 1);
	assert_string_equal(a->list[0], "solo");
	assert_int_equal(sl_args_get(&g->args, "size")->i, -2 * 1024 * 1024);
	assert_int_equal(g->when_full, SL_EDGE_BLOCK);
	sl_config_destroy(c);
}

/* A list of mappings of scalars (aggregate's `aggregations`) reaches the stage as one flow
 * text per item, quoting what flow syntax would misread. */
static void test_list_of_mappings(void **state)
{
	const char *yaml = SRC "stages:\n"
			       "  f:\n"
			       "    use: fixture\n"
			       "    inputs: [in]\n"
			       "    fields:\n"
			       "      - { name: requests,  fn: count }\n"
			       "      - name: p99\n"
			       "        q: 0.99\n"
			       "      - { name: 'a, b', x: 'say \"hi\"' }\n"
			       "      - plain\n" SINK("f");
	struct sl_config *c = load_ok(yaml);
	const struct sl_arg *a = sl_args_get(&c->nodes[1].args, "fields");

	assert_int_equal(a->n_list, 4);
	assert_string_equal(a->list[0], "{ name: requests, fn: count }");
	assert_string_equal(a->list[1], "{ name: p99, q: 0.99 }");
	assert_string_equal(a->list[2], "{ name: \"a, b\", x: \"say \\\"hi\\\"\" }");
	assert_string_equal(a->list[3], "plain");
	sl_config_destroy(c);
	expect_error(
		SRC
		"stages:\n  p: { use: fixture, inputs: [in], fields: [{ a: [1] }] }\n" SINK("p"),
		"{ a", 0,
		"fields: list items must be scalars or mappings of scalars, got a mapping with a "
		"nested list or mapping");
}

/* Integers through a parameter: each text and what it must become, computed by hand. */
static void test_int_forms(void **state)
{
	static const struct {
		const char *text;
		int64_t v;
	} ok[] = {
		{ "0", 0 },
		{ "42", 42 },
		{ "1k", 1000 },
		{ "2M", 2000000 },
		{ "3G", 3000000000 },
		{ "1Ki", 1024 },
		{ "2Mi", 2097152 },
		{ "1Gi", 1073741824 },
		{ "0x1f", 31 },
		{ "0XFF", 255 },
		{ "-5", -5 },
		{ "9223372036854775807", INT64_MAX },
		{ "-9223372036854775808", INT64_MIN },
		{ "8Gi", 8589934592 },
	};
	static const char *const bad[] = { "1.5k", "0x", "k", "12Q", "10G0", "1K", "--1", "0xg" };
	static const char *const range[] = { "9223372036854775808", "9999999999G",
					     "99999999999999999999", "-9223372036854775809" };
	char yaml[512];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct sl_config *c;

		snprintf(yaml, sizeof(yaml),
			 SRC "stages:\n  f: { use: fixture, inputs: [in], "
			     "size: %s }\n" SINK("f"),
			 ok[i].text);
		c = load_ok(yaml);
		assert_int_equal(sl_args_get(&c->nodes[1].args, "size")->i, ok[i].v);
		sl_config_destroy(c);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char part[64];

		snprintf(yaml, sizeof(yaml),
			 SRC "stages:\n  f: { use: fixture, inputs: [in], "
			     "size: %s }\n" SINK("f"),
			 bad[i]);
		snprintf(part, sizeof(part), "size: expected an integer, got '%s'", bad[i]);
		expect_error(yaml, bad[i], 0, part);
	}
	for (size_t i = 0; i < sizeof(range) / sizeof(range[0]); i++) {
		snprintf(yaml, sizeof(yaml),
			 SRC "stages:\n  f: { use: fixture, inputs: [in], "
			     "size: %s }\n" SINK("f"),
			 range[i]);
		expect_error(yaml, range[i], 0, "size: integer out of range");
	}
}

static void test_err_yaml_syntax(void **state)
{
	/* "  in: type: file": the second ':' is at column 11 of line 2. */
	expect_at("sources:\n  in: type: file\n",
		  "t.yaml:2:11: ", "mapping values are not allowed");
	/* An unterminated flow mapping is reported, not crashed on. */
	expect_at("sources:\n  in: { type: file\n", "t.yaml:", "YAML syntax error");
	/* A NUL byte: reader error at byte 9 = line 2, column 1. */
	{
		static const char nul[] = "sources:\n\0x";
		struct sl_config_opts o = opts(false);
		struct sl_diag d = { 0 };
		struct sl_config *c = NULL;

		assert_int_equal(sl_config_load_buffer("t.yaml", nul, sizeof(nul) - 1, &o, &c, &d),
				 -EINVAL);
		assert_null(c);
		assert_true(has_msg(&d, "t.yaml:2:1: ", "invalid input at byte 9"));
		sl_diag_fini(&d);
	}
}

static void test_err_unknown_top_key(void **state)
{
	const char *yaml = SRC SINK("in") "bogus: 1\n";

	/* Line 5: two lines of SRC, two of SINK. */
	expect_at(yaml, "t.yaml:5:1: ",
		  "unknown key 'bogus' (valid keys: plugin_dirs, user, group, "
		  "plugins, sources, stages, sinks, control, ledger, cores, fuse)");
	expect_error(SRC SINK("in") "sources: {}\n", "sources", 1,
		     "duplicate key 'sources' "
		     "(first at line 1)");
}

static void test_err_unknown_node_key(void **state)
{
	const char *yaml = SRC "stages:\n"
			       "  p: { use: nginx_parse, inputs: [in], colour: red }\n" SINK("p");

	expect_error(yaml, "colour", 0,
		     "stage 'p': unknown key 'colour' (valid keys: use, "
		     "inputs, replicas, ring_size, when_full");
	expect_error(SRC "  more: { type: file, path: b, bogus: 1 }\n" SINK("in"), "bogus", 0,
		     "source 'more': unknown key 'bogus' (valid keys: type, ");
	/* A sink that writes one output refuses replicas (a null sink takes them: lanes.sh). */
	expect_error(SRC SINK("in") "  o2: { type: file, inputs: [in], path: x, replicas: 2 }\n",
		     "2 }", 0, "sink 'o2' (file): writes one output in order, so replicas");
	expect_error(SRC "stages:\n  p: { use: fixture, use: fixture, inputs: [in] }\n" SINK("p"),
		     "use", 1, "duplicate key 'use' (first at line 4)");
}

static void test_err_wrong_types(void **state)
{
	const char *yaml = SRC "stages:\n"
			       "  p:\n"
			       "    use: fixture\n"
			       "    inputs: [in]\n"
			       "    replicas: two\n"
			       "    ring_size: 1000\n"
			       "    when_full: later\n"
			       "    fast: maybe\n"
			       "    fields: { a: 1 }\n"
			       "    expr: [x]\n"
			       "    size:\n" SINK("p");

	/* All of them are reported from one load. */
	expect_at(yaml, "t.yaml:7:15: ", "stage 'p': replicas: expected an integer, got 'two'");
	expect_at(yaml, "t.yaml:8:16: ",
		  "ring_size: must be a power of two from 64 to "
		  "1048576, got 1000");
	expect_at(yaml, "t.yaml:9:16: ",
		  "when_full: expected block or drop_newest, got "
		  "'later'");
	expect_at(yaml, "t.yaml:10:11: ", "fast: expected true or false, got 'maybe'");
	expect_at(yaml, "t.yaml:11:13: ", "fields: expected a list, got a mapping");
	expect_at(yaml, "t.yaml:12:11: ", "expr: expected a scalar, got a list");
	expect_error(yaml, "size:\n", 0, "size: expected a value");
	expect_error(SRC "stages:\n  p: { use: fixture, inputs: [in], replicas: 0 }\n" SINK("p"),
		     "0 }", 0, "replicas: must be from 1 to 65535, got 0");
	expect_error(SRC "stages:\n  p: { use: fixture, inputs: [in], ring_size: 32 }\n" SINK("p"),
		     "32", 0, "ring_size: must be a power of two");
	expect_error(SRC "stages:\n  p: { use: fixture, inputs: [in], when_full: [a] }\n" SINK("p"),
		     "[a]", 0, "when_full: expected block or drop_newest, got a list");
	expect_error(SRC "stages:\n  p: { use: fixture, inputs: [in], fields: [[a]] }\n" SINK("p"),
		     "[a]", 0, "fields: list items must be scalars, got a list");
}

static void test_err_unknown_kinds(void **state)
{
	expect_error(SRC "stages:\n  p: { use: nope, inputs: [in] }\n" SINK("p"), "nope", 0,
		     "stage 'p': unknown stage kind 'nope' (known: nginx_parse, filter, count");
	expect_error("sources:\n  in: { type: tcp }\n" SINK("in"), "tcp", 0,
		     "source 'in': unknown source kind 'tcp' (known: ");
	expect_error(SRC "sinks:\n  out: { type: kafka, inputs: [in] }\n", "kafka", 0,
		     "sink 'out': unknown sink kind 'kafka' (known: ");
	/* Missing kind: at the node's name. */
	expect_error(SRC "stages:\n  p: { inputs: [in] }\n" SINK("p"), "p:", 0,
		     "stage 'p': missing required key 'use'");
	expect_error("sources:\n  in: { path: x }\n" SINK("in"), "in:", 0,
		     "source 'in': missing required key 'type'");
}

/* An output feeds at most SL_CONFIG_MAX_CONSUMERS nodes, counted per output: 16 on each of
 * a stage's two outputs load; a 17th on one is refused at its own input. */
static void test_err_consumers(void **state)
{
	char yaml[4096];
	size_t len = 0;

	len += (size_t)snprintf(yaml + len, sizeof(yaml) - len,
				SRC "stages:\n  p: { use: fixture, inputs: [in] }\nsinks:\n");
	for (int i = 0; i < 2 * SL_CONFIG_MAX_CONSUMERS; i++)
		len += (size_t)snprintf(yaml + len, sizeof(yaml) - len,
					"  o%d: { type: null, inputs: [%s] }\n", i,
					i % 2 ? "p.errors" : "p");
	sl_config_destroy(load_ok(yaml));
	snprintf(yaml + len, sizeof(yaml) - len, "  last: { type: null, inputs: [p.errors] }\n");
	expect_error(yaml, "p.errors", SL_CONFIG_MAX_CONSUMERS,
		     "input 'p.errors': stage 'p' already feeds 16 nodes from this output");
}

/* A node name longer than a control request can carry is refused: it ran, and no command
 * could name it. */
static void test_err_name_length(void **state)
{
	char name[SL_CONFIG_NAME_MAX + 2], yaml[1024], want[128];

	memset(name, 'p', SL_CONFIG_NAME_MAX);
	name[SL_CONFIG_NAME_MAX] = '\0';
	snprintf(yaml, sizeof(yaml),
		 SRC "stages:\n  %s: { use: fixture, inputs: [in] }\n" SINK("%s"), name, name);
	sl_config_destroy(load_ok(yaml));
	strcat(name, "p");
	snprintf(yaml, sizeof(yaml),
		 SRC "stages:\n  %s: { use: fixture, inputs: [in] }\n" SINK("%s"), name, name);
	snprintf(want, sizeof(want), "node name 'pppppppppppppppp...' is %u bytes long; at most %u",
		 SL_CONFIG_NAME_MAX + 1, SL_CONFIG_NAME_MAX);
	expect_error(yaml, name, 0, want);
}

static void test_err_inputs(void **state)
{
	expect_error(SRC "stages:\n  p: { use: fixture, inputs: [in, ghost] }\n" SINK("p"), "ghost",
		     0, "input 'ghost' names no source or stage");
	expect_error(SRC "stages:\n  p: { use: nginx_parse, inputs: [in] }\n"
			 "  q: { use: fixture, inputs: [p.foo] }\n" SINK("q"),
		     "p.foo", 0, "stage 'p' has no output 'foo' (outputs: default, errors)");
	expect_error(SRC SINK("in.nope"), "in.nope", 0,
		     "source 'in' has no output 'nope' (outputs: default)");
	expect_error(SRC "stages:\n  p: { use: fixture, inputs: [out] }\n" SINK("in"), "out]", 0,
		     "input 'out' is a sink");
	expect_error(SRC "stages:\n  p: { use: fixture, inputs: [in, in] }\n" SINK("p"), "in]", 0,
		     "stage 'p': input 'in' listed twice");
	expect_error(SRC "stages:\n  p: { use: fixture, inputs: [.x] }\n" SINK("p"), ".x", 0,
		     "input '.x' is not 'node' or 'node.output'");
	expect_error(SRC "stages:\n  p: { use: fixture, inputs: [] }\n" SINK("p"), "[]", 0,
		     "stage 'p': inputs: must name at least one node");
	expect_error(SRC "stages:\n  p: { use: fixture }\n" SINK("p"), "p:", 0,
		     "stage 'p': missing required key 'inputs'");
	expect_error("sources:\n  in: { type: file, path: a, inputs: [x] }\n" SINK("in"), "inputs",
		     0, "source 'in' takes no inputs");
}

static void test_err_cycle(void **state)
{
	const char *yaml = SRC "stages:\n"
			       "  a: { use: fixture, inputs: [in, c] }\n"
			       "  b: { use: fixture, inputs: [a] }\n"
			       "  c: { use: fixture, inputs: [b] }\n" SINK("c");

	/* a reads c, c reads b, b reads a: events flow a -> b -> c -> a; reported at a. */
	expect_at(yaml, "t.yaml:4:3: ", "inputs form a cycle: a -> b -> c -> a");
	expect_at(SRC "stages:\n  s: { use: fixture, inputs: [s] }\n" SINK("s"),
		  "t.yaml:4:3: ", "inputs form a cycle: s -> s");
}

static void test_err_names(void **state)
{
	expect_error(SRC "stages:\n  p: { use: fixture, inputs: [in] }\n"
			 "  p: { use: fixture, inputs: [in] }\n" SINK("p"),
		     "p:", 1, "duplicate name 'p': already a stage at line 4");
	expect_error(SRC "stages:\n  x: { use: fixture, inputs: [in] }\n"
			 "sinks:\n  x: { type: file, inputs: [in], path: o, format: raw }\n",
		     "x:", 1, "duplicate name 'x': already a stage at line 4");
	expect_error(SRC "  in: { type: file, path: b }\n" SINK("in"), "in:", 1,
		     "duplicate name 'in': already a source at line 2");
	expect_error(SRC "stages:\n  'bad name': { use: fixture, inputs: [in] }\n" SINK("in"),
		     "'bad", 0, "invalid node name 'bad name'");
	expect_error(SRC "stages:\n  a.b: { use: fixture, inputs: [in] }\n" SINK("in"), "a.b", 0,
		     "invalid node name 'a.b'");
}

static void test_err_shapes(void **state)
{
	expect_error("sources:\n  in: file\n" SINK("in"), "file", 0,
		     "source 'in' must be a mapping of keys, got a scalar");
	expect_error(SRC "stages: [a, b]\n" SINK("in"), "[a", 0,
		     "stages: expected a mapping of name: node, got a list");
	expect_at("- a\n- b\n", "t.yaml:1:1: ", "a pipeline must be a mapping");
	expect_at("", "t.yaml:1:1: ", "pipeline is empty");
	expect_at("# only a comment\n", "t.yaml:1:1: ", "pipeline is empty");
	expect_at(SRC, "t.yaml:1:1: ", "pipeline has no sinks");
	expect_at("sources:\n" SINK("in"), "t.yaml:1:1: ", "pipeline has no sources");
	expect_at(SRC "sinks: {}\n", "t.yaml:3:1: ", "pipeline has no sinks");
	expect_at(SRC SINK("in") "---\nsources: {}\n",
		  "t.yaml:5:1: ", "only one YAML document is allowed");
	expect_error(SRC SINK("in") "plugins: { a: 1 }\n", "{ a", 0,
		     "plugins: expected a list of paths, got a mapping");
}

static void test_err_aliases(void **state)
{
	const char *yaml = "sources:\n"
			   "  in: &a { type: file, path: a.log }\n"
			   "  in2: *a\n" SINK("in");

	expect_error(yaml, "&a", 0, "anchors are not allowed ('&a')");
	expect_error(yaml, "*a", 0, "aliases are not allowed ('*a')");
	/* The billion-laughs shape is rejected before anything is expanded. */
	expect_error("a: &a [x, x, x, x, x, x, x, x, x]\n"
		     "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
		     "d: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n",
		     "*c", 0, "aliases are not allowed");
}

static void test_err_depth(void **state)
{
	char yaml[256];

	/* 100 '[' on line 1: the 65th opens level 65, at column 65. */
	memset(yaml, '[', 100);
	yaml[100] = '\0';
	expect_at(yaml, "t.yaml:1:65: ", "nesting deeper than 64 levels");
}

/* The limits of config.h, each at one past its value. */
static void test_err_limits(void **state)
{
	size_t cap = 300000, len = 0;
	char *yaml = malloc(cap), prefix[64];

	assert_non_null(yaml);
	/* 1025 sources s0..s1024 on lines 2..1026: the last one is over. */
	len = (size_t)snprintf(yaml, cap, "sources:\n");
	for (int i = 0; i <= SL_CONFIG_MAX_NODES; i++)
		len += (size_t)snprintf(yaml + len, cap - len, "  s%d: { type: gen }\n", i);
	snprintf(yaml + len, cap - len, SINK("s0"));
	snprintf(prefix, sizeof(prefix), "t.yaml:%d:3: ", SL_CONFIG_MAX_NODES + 2);
	expect_at(yaml, prefix, "too many nodes (at most 1024)");

	/* 257 inputs: the list is reported at its '[' (line 4, 31 characters before it). */
	len = (size_t)snprintf(yaml, cap, SRC "sinks:\n  out: { type: 'null', inputs: [in");
	for (int i = 1; i <= SL_CONFIG_MAX_INPUTS; i++)
		len += (size_t)snprintf(yaml + len, cap - len, ", in");
	snprintf(yaml + len, cap - len, "] }\n");
	expect_at(yaml, "t.yaml:4:32: ", "inputs: more than 256 entries");

	/* YAML nodes: the mapping, its key, the list and its first 99998 items make 100001,
	 * one too many; item k starts at column 11 + 2 * (k - 1). */
	len = (size_t)snprintf(yaml, cap, "sources: [0");
	for (int i = 1; i < 99999; i++)
		len += (size_t)snprintf(yaml + len, cap - len, ",0");
	snprintf(yaml + len, cap - len, "]\n");
	snprintf(prefix, sizeof(prefix), "t.yaml:1:%d: ", 11 + 2 * 99997);
	expect_at(yaml, prefix, "more than 100000 YAML nodes");
	free(yaml);
}

static void test_err_required_param(void **state)
{
	const char *yaml = SRC "stages:\n"
			       "  r: { use: fixture_req, inputs: [in] }\n" SINK("r");

	/* At the node's name: line 4, column 3. */
	expect_at(yaml, "t.yaml:4:3: ", "stage 'r': missing required key 'need'");
	expect_at("sources:\n  in: { type: file }\n" SINK("in"),
		  "t.yaml:2:3: ", "source 'in' (file): path: a file path is required");
}

static void test_err_init(void **state)
{
	/* init reports key expr, offset of "BAD": the column of B in the file, whether the
	 * value is plain or quoted. */
	expect_error(SRC "stages:\n  f: { use: fixture, inputs: [in], expr: a BAD b }\n" SINK("f"),
		     "BAD", 0, "stage 'f' (fixture): expr: unexpected token 'BAD'");
	expect_error(SRC
		     "stages:\n  f: { use: fixture, inputs: [in], expr: \"xy BAD\" }\n" SINK("f"),
		     "BAD", 0, "stage 'f' (fixture): expr: unexpected token 'BAD'");
	/* With an escape before it the offset no longer maps to a column: the start of the
	 * value (the quote, column 42 of line 4: 41 characters before it). */
	expect_at(SRC "stages:\n  f: { use: fixture, inputs: [in], expr: \"\\t BAD\" }\n" SINK("f"),
		  "t.yaml:4:42: ", "expr: unexpected token 'BAD'");
	/* On several lines: the start of the value. */
	expect_at(SRC "stages:\n  f:\n    use: fixture\n    inputs: [in]\n    expr: |\n"
		      "      ok\n      BAD\n" SINK("f"),
		  "t.yaml:7:11: ", "expr: unexpected token");
}

static void test_err_plugin_load(void **state)
{
	const char *yaml = "plugins:\n  - /nonexistent/sluice/p.so\n" SRC SINK("in");
	struct sl_config_opts o = opts(false);
	struct sl_diag d = { 0 };

	o.load_plugins = true;
	load_fail(yaml, &o, &d);
	assert_true(has_msg(&d, "t.yaml:2:5: ", "/nonexistent/sluice/p.so"));
	sl_diag_fini(&d);

	/* Without loading, the list is only checked for form and kept as written. */
	struct sl_config *c = load_ok(yaml);

	assert_int_equal(c->n_plugins, 1);
	assert_string_equal(c->plugins[0], "/nonexistent/sluice/p.so");
	sl_config_destroy(c);
	expect_error("plugins: [[a]]\n" SRC SINK("in"), "[a]", 0,
		     "plugins: expected a path, got a list");
}

static void test_all_errors_collected(void **state)
{
	const char *yaml = "sources:\n"
			   "  in: { type: file, path: a.log }\n"
			   "stages:\n"
			   "  p: { use: fixture, inputs: [ghost], replicas: two }\n"
			   "  q: { use: nope, inputs: [p] }\n"
			   "sinks:\n"
			   "  out: { type: file, inputs: [q.x], path: o, format: raw, zz: 1 }\n"
			   "extra: 1\n";
	struct sl_config_opts o = opts(false);
	struct sl_diag d = { 0 };

	load_fail(yaml, &o, &d);
	assert_true(has_msg(&d, "t.yaml:4:31: ", "input 'ghost' names no source or stage"));
	assert_true(has_msg(&d, "t.yaml:4:49: ", "replicas: expected an integer, got 'two'"));
	assert_true(has_msg(&d, "t.yaml:5:13: ", "unknown stage kind 'nope'"));
	assert_true(has_msg(&d, "t.yaml:7:59: ", "unknown key 'zz'"));
	assert_true(has_msg(&d, "t.yaml:8:1: ", "unknown key 'extra'"));
	/* Stage init does not run on a file with errors. */
	sl_diag_fini(&d);
}

static void test_stage_conf_lifetime(void **state)
{
	const char *yaml = SRC "stages:\n"
			       "  a: { use: fixture, inputs: [in] }\n"
			       "  b: { use: fixture, inputs: [a] }\n" SINK("b");
	struct sl_config_opts o = opts(true);
	struct sl_diag d = { 0 };
	struct sl_config *c = NULL;

	n_init = n_fini = 0;
	c = load_ok(yaml);
	/* Not kept: each init'ed once, fini'ed at once. */
	assert_int_equal(n_init, 2);
	assert_int_equal(n_fini, 2);
	assert_null(c->nodes[1].stage_conf);
	sl_config_destroy(c);
	assert_int_equal(n_fini, 2);

	n_init = n_fini = 0;
	assert_int_equal(sl_config_load_buffer("t.yaml", yaml, strlen(yaml), &o, &c, &d), 0);
	assert_int_equal(n_init, 2);
	assert_int_equal(n_fini, 0);
	assert_non_null(c->nodes[1].stage_conf);
	assert_non_null(c->nodes[2].stage_conf);
	sl_config_destroy(c);
	assert_int_equal(n_fini, 2);

	/* A later stage failing init: confs kept so far are released with the config. */
	n_init = n_fini = 0;
	yaml = SRC "stages:\n  a: { use: fixture, inputs: [in] }\n"
		   "  b: { use: fixture, inputs: [a], expr: BAD }\n" SINK("b");
	load_fail(yaml, &o, &d);
	assert_int_equal(n_init, 2);
	assert_int_equal(n_fini, 1);
	sl_diag_fini(&d);
	/* Errors found before init: no init at all. */
	n_init = 0;
	yaml = SRC "stages:\n  a: { use: fixture, inputs: [ghost] }\n" SINK("a");
	load_fail(yaml, &o, &d);
	assert_int_equal(n_init, 0);
	sl_diag_fini(&d);
}

static void test_load_file(void **state)
{
	char path[] = "/tmp/sluice-config-test-XXXXXX";
	struct sl_config_opts o = opts(false);
	struct sl_diag d = { 0 };
	struct sl_config *c = NULL;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, issue_block, strlen(issue_block)), (ssize_t)strlen(issue_block));
	close(fd);
	assert_int_equal(sl_config_load_file(path, &o, &c, &d), 0);
	assert_int_equal(c->n_nodes, 6);
	assert_string_equal(c->file, path);
	assert_string_equal(c->nodes[2].args.file, path);
	sl_config_destroy(c);
	unlink(path);

	assert_int_equal(sl_config_load_file(path, &o, &c, &d), -ENOENT);
	assert_null(c);
	assert_int_equal(d.n, 1);
	assert_true(strncmp(d.msgs[0], path, strlen(path)) == 0);
	assert_non_null(strstr(d.msgs[0], "cannot open"));
	sl_diag_fini(&d);

	/* One byte over the size limit (a sparse file: zeros, never parsed). */
	strcpy(path, "/tmp/sluice-config-test-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)SL_CONFIG_MAX_FILE + 1), 0);
	close(fd);
	assert_int_equal(sl_config_load_file(path, &o, &c, &d), -EFBIG);
	assert_null(c);
	assert_int_equal(d.n, 1);
	assert_non_null(strstr(d.msgs[0], "file larger than 16 MiB"));
	sl_diag_fini(&d);
	unlink(path);
}

/* Loads yaml with its n-th allocation failing, for n = 1, 2, ... until a load allocates
 * fewer than n times (once with one failure, once with every allocation from the n-th on
 * failing). The load reports the failure and returns no config, or succeeds when the
 * failure did not matter (n_ok nodes, no diagnostics; n_ok 0: the input is invalid);
 * nothing crashes or leaks (ASan with detect_leaks=1 checks that). Returns the loads. */
static long oom_loop(const char *yaml, uint32_t n_ok)
{
	struct sl_config_opts o = opts(true);
	long n_runs = 0;

	for (int sticky = 0; sticky < 2; sticky++) {
		for (long n = 1; n < 100000; n++) {
			/* Room for every message up front: only the messages themselves are
			 * allocated during the load. */
			struct sl_diag d = { .msgs = calloc(256, sizeof(char *)), .cap = 256 };
			struct sl_config *c = (struct sl_config *)1;
			bool failed;
			int rc;

			assert_non_null(d.msgs);
			n_init = n_conf = n_fini = 0;
			alloc_fault.countdown = n;
			alloc_fault.sticky = sticky;
			alloc_fault.failed = false;
			rc = sl_config_load_buffer("t.yaml", yaml, strlen(yaml), &o, &c, &d);
			failed = alloc_fault.failed;
			alloc_fault.countdown = 0;
			alloc_fault.failed = false;
			n_runs++;
			if (rc == 0) {
				assert_true(n_ok > 0);
				assert_non_null(c);
				assert_int_equal(c->n_nodes, n_ok);
				assert_int_equal(d.n, 0);
				sl_config_destroy(c);
			} else {
				assert_true(rc == -ENOMEM || rc == -EINVAL);
				assert_null(c);
				assert_true(d.n > 0);
			}
			/* Every conf the fixture made is released, whatever failed. */
			assert_int_equal(n_fini, n_conf);
			sl_diag_fini(&d);
			if (!failed)
				break;
		}
	}
	return n_runs;
}

static void test_out_of_memory(void **state)
{
	static const char valid[] =
		"sources:\n"
		"  in: { type: file, path: a.log }\n"
		"stages:\n"
		"  p: { use: nginx_parse, inputs: [in] }\n"
		"  e: { use: filter, inputs: [p], where: \"status >= 500\" }\n"
		"  f: { use: fixture, inputs: [e, p.errors], fields: [a, b], size: 1Ki }\n"
		"  g: { use: fixture, inputs: [f.errors] }\n"
		"sinks:\n"
		"  out: { type: file, inputs: [g, f], path: o, format: raw }\n";
	static const char invalid[] =
		"sources:\n"
		"  in: { type: file, path: a.log, inputs: [x] }\n"
		"stages:\n"
		"  p: { use: nginx_parse, inputs: [in, ghost, p.foo], bad: 1 }\n"
		"  q: { use: fixture, inputs: [p], size: two, fields: [[x]] }\n"
		"  r: { use: nope, inputs: [r] }\n"
		"sinks:\n"
		"  out: { type: file, inputs: [q, in.x], path: o, format: raw }\n"
		"  out: { type: stdout, inputs: [q] }\n"
		"other: 1\n";
	long n_runs = oom_loop(valid, 6) + oom_loop(invalid, 0) + oom_loop(issue_block, 6);

	/* Each load allocates more than a handful of times: the loops did explore. */
	printf("# %ld loads, each with allocations failing\n", n_runs);
	assert_true(n_runs > 40);
}

static int setup(void **state)
{
	return sl_registry_create(&registry);
}

static int teardown(void **state)
{
	sl_registry_destroy(registry);
	return 0;
}

static void test_control_block(void **state)
{
	struct sl_config *c = load_ok(SRC SINK("in"));

	/* Absent: defaults. */
	assert_null(c->control.socket);
	assert_false(c->control.metrics);
	assert_int_equal(c->control.stall_after_ms, SL_CONFIG_STALL_AFTER_MS);
	assert_int_equal(c->control.linger_ms, 0);
	assert_int_equal(c->control.line, 0);
	sl_config_destroy(c);

	c = load_ok(
		SRC SINK("in") "control: { socket: run/s.sock, metrics: \"127.0.0.1:9464\" }\n");
	assert_string_equal(c->control.socket, "run/s.sock");
	assert_true(c->control.metrics);
	assert_int_equal(c->control.metrics_ip, htonl(INADDR_LOOPBACK));
	assert_int_equal(c->control.metrics_port, 9464);
	assert_int_equal(c->control.line, 5);
	sl_config_destroy(c);

	/* Block style; a bare port binds 127.0.0.1; durations with units. */
	c = load_ok(
		"control:\n  metrics: 9100\n  stall_after: 1500ms\n  linger: 2s\n" SRC SINK("in"));
	assert_int_equal(c->control.metrics_ip, htonl(INADDR_LOOPBACK));
	assert_int_equal(c->control.metrics_port, 9100);
	assert_int_equal(c->control.stall_after_ms, 1500);
	assert_int_equal(c->control.linger_ms, 2000);
	assert_int_equal(c->control.heartbeat_ms, SL_CONFIG_HEARTBEAT_MS);
	sl_config_destroy(c);
	c = load_ok("control: { heartbeat: 250ms }\n" SRC SINK("in"));
	assert_int_equal(c->control.heartbeat_ms, 250);
	sl_config_destroy(c);

	c = load_ok(
		"control: { metrics: \"0.0.0.0:0\", stall_after: 1m, linger: 3 }\n" SRC SINK("in"));
	assert_int_equal(c->control.metrics_ip, 0);
	assert_int_equal(c->control.metrics_port, 0);
	assert_int_equal(c->control.stall_after_ms, 60000);
	assert_int_equal(c->control.linger_ms, 3000);
	sl_config_destroy(c);

	c = load_ok("control: { metrics: localhost:80 }\n" SRC SINK("in"));
	assert_int_equal(c->control.metrics_ip, htonl(INADDR_LOOPBACK));
	assert_int_equal(c->control.metrics_port, 80);
	sl_config_destroy(c);
	/* An empty block is allowed. */
	c = load_ok("control:\n" SRC SINK("in"));
	assert_int_equal(c->control.line, 1);
	sl_config_destroy(c);
}

static void test_err_control_block(void **state)
{
	const char *base = SRC SINK("in");
	char yaml[512];
	static const struct {
		const char *block, *needle, *msg;
	} cases[] = {
		{ "control: [a]\n", "[a]", "control: expected a mapping of keys, got a list" },
		{ "control: { colour: red }\n", "colour",
		  "control: unknown key 'colour' (valid keys: socket, metrics, stall_after, "
		  "linger, heartbeat)" },
		{ "control: { socket: [a] }\n", "[a]",
		  "control: socket: expected a path, got a list" },
		{ "control: { socket: }\n", "socket",
		  "control: socket: expected a path, got nothing" },
		{ "control: { socket: '' }\n", "''", "control: socket: expected a path, got ''" },
		{ "control: { metrics: {} }\n", "{}",
		  "control: metrics: expected a scalar, got a mapping" },
		{ "control: { metrics: \"127.0.0.1:99999\" }\n", "\"127",
		  "control: metrics: expected \"[ADDR:]PORT\" with an IPv4 ADDR and a PORT from 0 "
		  "to 65535, got '127.0.0.1:99999'" },
		{ "control: { metrics: \"example.com:80\" }\n", "\"ex", "got 'example.com:80'" },
		{ "control: { metrics: \"127.0.0.1:\" }\n", "\"127", "got '127.0.0.1:'" },
		{ "control: { metrics: \"127.0.0.1:8x\" }\n", "\"127", "got '127.0.0.1:8x'" },
		{ "control: { stall_after: 10ms }\n", "10ms",
		  "control: stall_after: expected a duration from 100ms to 1h (e.g. 500ms, 5s, "
		  "2m), "
		  "got '10ms'" },
		{ "control: { stall_after: 2h }\n", "2h", "got '2h'" },
		{ "control: { linger: 61m }\n", "61m",
		  "control: linger: expected a duration from 0s to 1h" },
		{ "control: { linger: -1 }\n", "-1", "got '-1'" },
		{ "control: { heartbeat: 20ms }\n", "20ms",
		  "control: heartbeat: expected a duration from 50ms to 1h" },
		{ "control: { socket: a, socket: b }\n", "socket",
		  "control: duplicate key 'socket'" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char prefix[64];

		snprintf(yaml, sizeof(yaml), "%s%s", base, cases[i].block);
		/* The error is on line 5 (after SRC and SINK), at the needle's column; a
		 * duplicate key at its second occurrence. */
		where(yaml, cases[i].needle, strstr(cases[i].msg, "duplicate") ? 1 : 0, prefix,
		      sizeof(prefix));
		expect_at(yaml, prefix, cases[i].msg);
	}
	/* A socket path that cannot fit sockaddr_un. */
	snprintf(yaml, sizeof(yaml), "%scontrol: { socket: /%0120d }\n", base, 0);
	expect_error(yaml, "/000", 0, "control: socket: path longer than 107 bytes");
	expect_error(SRC SINK("in") "control: {}\ncontrol: {}\n", "control", 1,
		     "duplicate key 'control' (first at line 5)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_issue_pipeline_loads),
		cmocka_unit_test(test_flow_block_equivalent),
		cmocka_unit_test(test_defaults_fill),
		cmocka_unit_test(test_values_typed),
		cmocka_unit_test(test_list_of_mappings),
		cmocka_unit_test(test_int_forms),
		cmocka_unit_test(test_err_yaml_syntax),
		cmocka_unit_test(test_err_unknown_top_key),
		cmocka_unit_test(test_err_unknown_node_key),
		cmocka_unit_test(test_err_wrong_types),
		cmocka_unit_test(test_err_unknown_kinds),
		cmocka_unit_test(test_err_inputs),
		cmocka_unit_test(test_err_cycle),
		cmocka_unit_test(test_err_names),
		cmocka_unit_test(test_err_shapes),
		cmocka_unit_test(test_err_aliases),
		cmocka_unit_test(test_err_depth),
		cmocka_unit_test(test_err_limits),
		cmocka_unit_test(test_err_required_param),
		cmocka_unit_test(test_err_init),
		cmocka_unit_test(test_err_plugin_load),
		cmocka_unit_test(test_all_errors_collected),
		cmocka_unit_test(test_stage_conf_lifetime),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_out_of_memory),
		cmocka_unit_test(test_control_block),
		cmocka_unit_test(test_err_control_block),
		cmocka_unit_test(test_err_consumers),
		cmocka_unit_test(test_err_name_length),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
