/*
 * Unit tests of the control messages (message.c): the JSON reader on valid values of
 * every type, escapes and surrogate pairs, and on each kind of malformed input; the
 * request decoder on every field with every wrong JSON type, versions, ids, unknown and
 * duplicate fields, unknown commands and the size cap. Expected values are written out
 * by hand.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "control/message.h"

static int parse(const char *s, struct sl_jr_val *v, char *err)
{
	return sl_jr_parse(s, strlen(s), 8, v, err, 256);
}

static void test_reader_values(void **state)
{
	struct sl_jr_val v;
	const struct sl_jr_val *x;
	char err[256];

	assert_int_equal(parse(" {\"a\": [1, -2, 3.5, 1e2, true, false, null, \"s\"], \"b\": {}}\n",
			       &v, err),
			 0);
	assert_int_equal(v.type, SL_JR_OBJ);
	assert_int_equal(v.n, 2);
	x = sl_jr_get(&v, "a");
	assert_non_null(x);
	assert_int_equal(x->type, SL_JR_ARR);
	assert_int_equal(x->n, 8);
	assert_int_equal(x->items[0].type, SL_JR_INT);
	assert_int_equal(x->items[0].i, 1);
	assert_int_equal(x->items[1].i, -2);
	assert_int_equal(x->items[2].type, SL_JR_NUM);
	assert_true(x->items[2].d == 3.5);
	assert_int_equal(x->items[3].type, SL_JR_NUM);
	assert_true(x->items[3].d == 100.0);
	assert_int_equal(x->items[4].type, SL_JR_BOOL);
	assert_true(x->items[4].b);
	assert_false(x->items[5].b);
	assert_int_equal(x->items[6].type, SL_JR_NULL);
	assert_string_equal(x->items[7].s, "s");
	assert_int_equal(sl_jr_get(&v, "b")->type, SL_JR_OBJ);
	assert_null(sl_jr_get(&v, "c"));
	sl_jr_free(&v);

	/* Escapes: \n, \u00e9 (2 bytes), a surrogate pair (4 bytes), \u0000 inside. */
	assert_int_equal(parse("\"a\\n\\u00e9\\ud83d\\ude00\\u0000z\\/\"", &v, err), 0);
	assert_int_equal(v.type, SL_JR_STR);
	assert_int_equal(v.len, 11);
	assert_memory_equal(v.s, "a\n\xc3\xa9\xf0\x9f\x98\x80\0z/", 11);
	sl_jr_free(&v);
	/* Integers past int64 become numbers. */
	assert_int_equal(parse("9223372036854775808", &v, err), 0);
	assert_int_equal(v.type, SL_JR_NUM);
	assert_int_equal(parse("-9223372036854775808", &v, err), 0);
	assert_int_equal(v.type, SL_JR_INT);
	assert_true(v.i == INT64_MIN);
}

static void reader_bad(const char *s, const char *part)
{
	struct sl_jr_val v;
	char err[256];

	assert_int_equal(parse(s, &v, err), -EINVAL);
	if (!strstr(err, part))
		fprintf(stderr, "# input %s: got '%s', wanted '%s'\n", s, err, part);
	assert_non_null(strstr(err, part));
	assert_int_equal(v.type, SL_JR_NULL);
}

static void test_reader_errors(void **state)
{
	reader_bad("", "unexpected end of input");
	reader_bad("{\"a\":1", "expected ',' or '}'");
	reader_bad("{\"a\" 1}", "expected ':' after a key");
	reader_bad("{1:2}", "expected a string key");
	reader_bad("[1,]", "unexpected character ']'");
	reader_bad("\"abc", "unterminated string");
	reader_bad("\"a\tb\"", "control character in a string");
	reader_bad("\"\xff\"", "invalid UTF-8");
	reader_bad("\"\xed\xa0\x80\"", "invalid UTF-8"); /* an encoded surrogate */
	reader_bad("\"\\x\"", "invalid escape '\\x'");
	reader_bad("\"\\u12\"", "four hex digits");
	reader_bad("\"\\ud800\"", "high surrogate without its low half");
	reader_bad("\"\\udc00\"", "lone low surrogate");
	reader_bad("01", "unexpected bytes after the value");
	reader_bad("1.", "invalid number");
	reader_bad("-", "invalid number");
	reader_bad("1e", "invalid number");
	reader_bad("tru", "unexpected character 't'");
	reader_bad("{} {}", "unexpected bytes after the value");
	reader_bad("[[[[[[[[[1]]]]]]]]]", "nested deeper than 8");
	reader_bad("{\"a\":1} x", "at byte 8");
}

static int decode(const char *s, struct sl_ctl_request *r, char *err)
{
	return sl_ctl_request_decode(s, strlen(s), r, err, 256);
}

static void request_bad(const char *s, const char *msg)
{
	struct sl_ctl_request r;
	char err[256];

	assert_int_equal(decode(s, &r, err), -EINVAL);
	if (strcmp(err, msg) != 0)
		fprintf(stderr, "# request %s: got '%s', wanted '%s'\n", s, err, msg);
	assert_string_equal(err, msg);
}

static void test_request_ok(void **state)
{
	struct sl_ctl_request r;
	char err[256];

	assert_int_equal(decode("{\"v\":1,\"cmd\":\"stats\"}", &r, err), 0);
	assert_int_equal(r.cmd, SL_CTL_CMD_STATS);
	assert_false(r.has_id);
	assert_false(r.has_node);
	assert_int_equal(
		decode(" { \"cmd\" : \"nodes\", \"node\": \"parse\", \"id\": 42, \"v\": 1 } ", &r,
		       err),
		0);
	assert_int_equal(r.cmd, SL_CTL_CMD_NODES);
	assert_true(r.has_id);
	assert_int_equal(r.id, 42);
	assert_string_equal(r.node, "parse");
	for (int c = 0; c < SL_CTL_CMD_N; c++) {
		char req[64];

		/* tap needs a node, swap a node and a plugin path, scale a node and a count */
		snprintf(req, sizeof(req), "{\"v\":1,\"cmd\":\"%s\"%s}", sl_ctl_cmd_name(c),
			 c == SL_CTL_CMD_TAP	 ? ",\"node\":\"n\""
			 : c == SL_CTL_CMD_SWAP	 ? ",\"node\":\"n\",\"path\":\"/p.so\""
			 : c == SL_CTL_CMD_SCALE ? ",\"node\":\"n\",\"replicas\":2"
						 : "");
		assert_int_equal(decode(req, &r, err), 0);
		assert_int_equal(r.cmd, c);
	}
	assert_int_equal(decode("{\"v\":1,\"cmd\":\"swap\",\"node\":\"tag\",\"path\":\"/x/v2.so\"}",
				&r, err),
			 0);
	assert_true(r.has_path);
	assert_string_equal(r.path, "/x/v2.so");
	assert_string_equal(r.node, "tag");
	assert_int_equal(decode("{\"v\":1,\"cmd\":\"reload\"}", &r, err), 0);
	assert_false(r.has_path);
	assert_true(sl_ctl_cmd_changes_state(SL_CTL_CMD_SWAP));
	assert_true(sl_ctl_cmd_changes_state(SL_CTL_CMD_RELOAD));
	assert_true(sl_ctl_cmd_changes_state(SL_CTL_CMD_STOP));
	assert_false(sl_ctl_cmd_changes_state(SL_CTL_CMD_STATS));
	assert_int_equal(decode("{\"v\":1,\"cmd\":\"ping\",\"id\":9007199254740992}", &r, err), 0);
	assert_int_equal(r.id, (uint64_t)1 << 53);
	/* tap: defaults, then every field */
	assert_int_equal(decode("{\"v\":1,\"cmd\":\"tap\",\"node\":\"parse\"}", &r, err), 0);
	assert_int_equal(r.cmd, SL_CTL_CMD_TAP);
	assert_false(r.has_output);
	assert_int_equal(r.limit, SL_CTL_TAP_LIMIT_DEFAULT);
	assert_true(r.rate == SL_CTL_TAP_RATE_DEFAULT);
	assert_true(sl_ctl_cmd_changes_state(SL_CTL_CMD_TAP));
	assert_int_equal(decode("{\"v\":1,\"cmd\":\"tap\",\"node\":\"parse\",\"output\":"
				"\"errors\",\"limit\":7,\"rate\":0.5}",
				&r, err),
			 0);
	assert_true(r.has_output);
	assert_string_equal(r.output, "errors");
	assert_int_equal(r.limit, 7);
	assert_true(r.rate == 0.5);
	assert_int_equal(decode("{\"v\":1,\"cmd\":\"tap\",\"node\":\"p\",\"rate\":3}", &r, err), 0);
	assert_true(r.rate == 3.0);
}

static void test_request_wrong_types(void **state)
{
	/* Every field with every JSON type it must not have. */
	static const char *const values[] = { "null", "true", "1", "1.5", "\"x\"", "[]", "{}" };
	static const char *const names[] = { "null",	 "a boolean", "an integer", "a number",
					     "a string", "an array",  "an object" };
	static const struct {
		const char *field, *want;
		int ok_type;
	} fields[] = {
		{ "v", "an integer", 2 },
		{ "cmd", "a string", 4 },
		{ "id", "an integer", 2 },
		{ "node", "a string", 4 },
	};
	char req[128], msg[128];

	for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++)
		for (int t = 0; t < 7; t++) {
			if (t == fields[f].ok_type)
				continue;
			if (strcmp(fields[f].field, "v") == 0)
				snprintf(req, sizeof(req), "{\"v\":%s,\"cmd\":\"stats\"}",
					 values[t]);
			else if (strcmp(fields[f].field, "cmd") == 0)
				snprintf(req, sizeof(req), "{\"v\":1,\"cmd\":%s}", values[t]);
			else
				snprintf(req, sizeof(req), "{\"v\":1,\"cmd\":\"stats\",\"%s\":%s}",
					 fields[f].field, values[t]);
			snprintf(msg, sizeof(msg), "field '%s': expected %s, got %s",
				 fields[f].field, fields[f].want, names[t]);
			request_bad(req, msg);
		}
}

static void test_request_errors(void **state)
{
	struct sl_ctl_request r;
	char big[SL_CTL_MSG_MAX + 64], err[256];
	size_t n;

	request_bad("[1]", "a request must be a JSON object, got an array");
	request_bad("\"stats\"", "a request must be a JSON object, got a string");
	request_bad("{\"cmd\":\"stats\"}", "missing field 'v' (protocol version, 1)");
	request_bad("{\"v\":1}", "missing field 'cmd'");
	request_bad("{\"v\":2,\"cmd\":\"stats\"}",
		    "unsupported protocol version 2 (this server speaks 1)");
	request_bad("{\"v\":1,\"cmd\":\"stats\",\"colour\":1}",
		    "unknown field 'colour' (fields: v, cmd, id, node, output, limit, rate, path, "
		    "replicas)");
	request_bad("{\"v\":1,\"cmd\":\"stats\",\"cmd\":\"nodes\"}", "duplicate field 'cmd'");
	request_bad(
		"{\"v\":1,\"cmd\":\"reboot\"}",
		"unknown command 'reboot' (commands: ping, version, nodes, stats, stop, tap, swap, "
		"reload, scale)");
	request_bad("{\"v\":1,\"cmd\":\"scale\",\"node\":\"n\"}",
		    "scale: fields 'node' (the stage) and 'replicas' (a count or \"auto\") are "
		    "required");
	request_bad("{\"v\":1,\"cmd\":\"scale\",\"node\":\"n\",\"replicas\":65}",
		    "field 'replicas': must be from 0 to 64 or \"auto\"");
	request_bad("{\"v\":1,\"cmd\":\"scale\",\"node\":\"n\",\"replicas\":\"many\"}",
		    "field 'replicas': must be from 0 to 64 or \"auto\"");
	request_bad("{\"v\":1,\"cmd\":\"stats\",\"replicas\":1}",
		    "field 'replicas': only for scale");
	request_bad(
		"{\"v\":1,\"cmd\":\"st\\u0000ats\"}",
		"unknown command 'st?ats' (commands: ping, version, nodes, stats, stop, tap, swap, "
		"reload, scale)");
	request_bad("{\"v\":1,\"cmd\":\"stats\",\"id\":-1}", "field 'id': must be from 0 to 2^53");
	request_bad("{\"v\":1,\"cmd\":\"stats\",\"node\":\"\"}",
		    "field 'node': must be a node name of 1 to 128 bytes");
	request_bad("{\"v\":1,\"cmd\":\"ping\",\"node\":\"a\"}",
		    "field 'node': only for stats, nodes, tap, swap and scale");
	request_bad("{\"v\":1,\"cmd\":\"swap\",\"node\":\"a\"}",
		    "swap: fields 'node' (the stage) and 'path' (the plugin) are required");
	request_bad("{\"v\":1,\"cmd\":\"swap\",\"path\":\"/a.so\"}",
		    "swap: fields 'node' (the stage) and 'path' (the plugin) are required");
	request_bad("{\"v\":1,\"cmd\":\"reload\",\"path\":\"p.yaml\"}",
		    "field 'path': must be an absolute path of 1 to 1024 bytes");
	request_bad("{\"v\":1,\"cmd\":\"reload\",\"path\":\"/a\\u0000b\"}",
		    "field 'path': must be an absolute path of 1 to 1024 bytes");
	request_bad("{\"v\":1,\"cmd\":\"reload\",\"path\":7}",
		    "field 'path': expected a string, got an integer");
	request_bad("{\"v\":1,\"cmd\":\"stats\",\"path\":\"/p\"}",
		    "field 'path': only for swap and reload");
	request_bad("{\"v\":1,\"cmd\":\"tap\"}",
		    "tap: missing field 'node' (the node whose output to watch)");
	request_bad("{\"v\":1,\"cmd\":\"stats\",\"limit\":1}",
		    "fields 'output', 'limit' and 'rate': only for tap");
	request_bad("{\"v\":1,\"cmd\":\"tap\",\"node\":\"p\",\"limit\":0}",
		    "field 'limit': must be from 1 to 1000000");
	request_bad("{\"v\":1,\"cmd\":\"tap\",\"node\":\"p\",\"limit\":1.5}",
		    "field 'limit': expected an integer, got a number");
	request_bad("{\"v\":1,\"cmd\":\"tap\",\"node\":\"p\",\"rate\":0}",
		    "field 'rate': must be from 0.001 to 100000 per second");
	/* Its sampling period (TSC ticks) would not fit in 64 bits. */
	request_bad("{\"v\":1,\"cmd\":\"tap\",\"node\":\"p\",\"rate\":1e-12}",
		    "field 'rate': must be from 0.001 to 100000 per second");
	request_bad("{\"v\":1,\"cmd\":\"tap\",\"node\":\"p\",\"rate\":\"x\"}",
		    "field 'rate': expected a number, got a string");
	request_bad("{\"v\":1,\"cmd\":\"tap\",\"node\":\"p\",\"output\":\"\"}",
		    "field 'output': must be an output name of 1 to 128 bytes");
	request_bad("{\"v\":1,\"cmd\":\"stats\"", "invalid JSON at byte 20: expected ',' or '}'");
	/* The id is kept when a later field is wrong, so the error can carry it. */
	assert_int_equal(decode("{\"id\":5,\"v\":\"1\",\"cmd\":\"stats\"}", &r, err), -EINVAL);
	assert_true(r.has_id);
	assert_int_equal(r.id, 5);

	/* The size cap: a valid request padded with spaces past SL_CTL_MSG_MAX. */
	n = (size_t)snprintf(big, sizeof(big), "{\"v\":1,\"cmd\":\"stats\"}");
	memset(big + n, ' ', sizeof(big) - n - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(sl_ctl_request_decode(big, SL_CTL_MSG_MAX, &r, err, sizeof(err)), 0);
	assert_int_equal(sl_ctl_request_decode(big, SL_CTL_MSG_MAX + 1, &r, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "request longer than 4096 bytes");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reader_values),  cmocka_unit_test(test_reader_errors),
		cmocka_unit_test(test_request_ok),     cmocka_unit_test(test_request_wrong_types),
		cmocka_unit_test(test_request_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
