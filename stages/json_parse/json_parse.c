/*
 * json_parse: turns JSON lines (one object per line) into records (parse.h has the
 * parser, parse_common.h the burst loop shared with the other line parsers). The record is
 * appended after the line inside the same mbuf, so a raw sink still writes the original
 * bytes. Lines that do not parse leave on the "errors" output with a record
 * {"error": reason, "offset": byte offset}. Built-in stage; uses only the SDK. init runs on
 * the control thread and builds the immutable configuration (flatten, separator); process
 * runs on worker lcores, possibly on several replicas at once, and keeps no state.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/stage.h>

#include "parse.h"

static const char *const json_parse_outputs[] = { "default", "errors", NULL };

static const struct sl_param_desc json_parse_params[] = {
	{ .name = "flatten",
	  .type = SL_PARAM_BOOL,
	  .def = "true",
	  .help = "nested objects become top-level fields named by their path (a.b.c); "
		  "false keeps them as maps" },
	{ .name = "separator",
	  .type = SL_PARAM_STR,
	  .def = ".",
	  .help = "joins the parts of a flattened key (1 to 8 bytes)" },
	{ NULL },
};

static const struct parse_stage json_parse_stage = {
	.names = sl_json_err_names,
	.too_large = SL_JSON_TOO_LARGE,
	.cnt_not_line = SL_JSON_N_CODES,
	.cnt_nombuf = SL_JSON_N_CODES + 1,
};

static int json_parse_init(const struct sl_host *host, const struct sl_args *args, void **conf,
			   struct sl_error *err)
{
	const struct sl_arg *flatten = sl_args_get(args, "flatten");
	const struct sl_arg *sep = sl_args_get(args, "separator");
	struct sl_json_conf *c;
	size_t n = sep && sep->str ? strlen(sep->str) : 0;

	if (n < 1 || n > SL_JSON_SEP_MAX) {
		err->key = "separator";
		snprintf(err->msg, sizeof(err->msg), "must be 1 to %d bytes, not %zu",
			 SL_JSON_SEP_MAX, n);
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return -ENOMEM;
	}
	c->flatten = flatten ? flatten->b : true;
	c->sep_len = (uint8_t)n;
	memcpy(c->sep, sep->str, n);
	*conf = c;
	return 0;
}

static void json_parse_fini(void *conf)
{
	free(conf);
}

static int json_parse_one(const void *conf, const char *line, size_t len, struct sl_rec_writer *w,
			  uint32_t *err_offset)
{
	return json_parse_line(conf, line, len, w, err_offset);
}

static void json_parse_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
			       struct sl_emit *out)
{
	parse_stage_process(&json_parse_stage, json_parse_one, conf, ctx, in, out);
}

const struct sl_stage_desc sl_stage_json_parse = {
	SL_STAGE_DESC_INIT,
	.name = "json_parse",
	.version = "1.0.0",
	.summary = "parse JSON lines (one object per line) into records",
	.params = json_parse_params,
	.outputs = json_parse_outputs,
	.counters = sl_json_err_names,
	.init = json_parse_init,
	.process = json_parse_process,
	.fini = json_parse_fini,
};
