/*
 * logfmt_parse: turns logfmt lines (key=value pairs) into records (parse.h has the
 * parser; the burst loop is shared with the other line parsers through
 * ../json_parse/parse_common.h). The record is appended after the line inside the same
 * mbuf; lines that do not parse leave on the "errors" output with a record
 * {"error": reason, "offset": byte offset}. Built-in stage; uses only the SDK. init runs on
 * the control thread; process runs on worker lcores, possibly on several replicas at once,
 * and keeps no state.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <sluice/stage.h>

#include "parse.h"

static const char *const logfmt_parse_outputs[] = { "default", "errors", NULL };

static const struct sl_param_desc logfmt_parse_params[] = {
	{ .name = "typed",
	  .type = SL_PARAM_BOOL,
	  .def = "true",
	  .help = "unquoted numbers become integers or floats, true/false booleans; false "
		  "keeps every value a string" },
	{ NULL },
};

static const struct parse_stage logfmt_parse_stage = {
	.names = sl_logfmt_err_names,
	.too_large = SL_LOGFMT_TOO_LARGE,
	.cnt_not_line = SL_LOGFMT_N_CODES,
	.cnt_nombuf = SL_LOGFMT_N_CODES + 1,
};

static int logfmt_parse_init(const struct sl_host *host, const struct sl_args *args, void **conf,
			     struct sl_error *err)
{
	const struct sl_arg *typed = sl_args_get(args, "typed");
	struct sl_logfmt_conf *c = calloc(1, sizeof(*c));

	if (!c) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return -ENOMEM;
	}
	c->typed = typed ? typed->b : true;
	*conf = c;
	return 0;
}

static void logfmt_parse_fini(void *conf)
{
	free(conf);
}

static int logfmt_parse_one(const void *conf, const char *line, size_t len, struct sl_rec_writer *w,
			    uint32_t *err_offset)
{
	return logfmt_parse_line(conf, line, len, w, err_offset);
}

static void logfmt_parse_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
				 struct sl_emit *out)
{
	parse_stage_process(&logfmt_parse_stage, logfmt_parse_one, conf, ctx, in, out);
}

const struct sl_stage_desc sl_stage_logfmt_parse = {
	SL_STAGE_DESC_INIT,
	.name = "logfmt_parse",
	.version = "1.0.0",
	.summary = "parse logfmt lines (key=value pairs) into records",
	.params = logfmt_parse_params,
	.outputs = logfmt_parse_outputs,
	.counters = sl_logfmt_err_names,
	.init = logfmt_parse_init,
	.process = logfmt_parse_process,
	.fini = logfmt_parse_fini,
};
