/*
 * syslog_parse: turns syslog lines (RFC 5424 or RFC 3164) into records (parse.h has the
 * parser; the burst loop is shared with the other line parsers through
 * ../json_parse/parse_common.h). The record is appended after the line inside the same
 * mbuf; lines that do not parse leave on the "errors" output with a record
 * {"error": reason, "offset": byte offset}. Built-in stage; uses only the SDK. init runs on
 * the control thread (and reads the clock once, for the year of RFC 3164 timestamps);
 * process runs on worker lcores, possibly on several replicas at once, and keeps no state.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sluice/stage.h>

#include "parse.h"

static const char *const syslog_parse_outputs[] = { "default", "errors", NULL };

static const struct sl_param_desc syslog_parse_params[] = {
	{ .name = "format",
	  .type = SL_PARAM_STR,
	  .def = "auto",
	  .help = "auto (RFC 5424 when a version follows <PRI>, else RFC 3164), rfc5424 or "
		  "rfc3164" },
	{ .name = "year",
	  .type = SL_PARAM_INT,
	  .def = "0",
	  .help = "year of RFC 3164 timestamps (they have none), 1678 to 2261; 0 means the "
		  "current UTC year when the pipeline starts" },
	{ NULL },
};

static const struct parse_stage syslog_parse_stage = {
	.names = sl_syslog_err_names,
	.too_large = SL_SYSLOG_TOO_LARGE,
	.cnt_not_line = SL_SYSLOG_N_CODES,
	.cnt_nombuf = SL_SYSLOG_N_CODES + 1,
};

static int syslog_parse_init(const struct sl_host *host, const struct sl_args *args, void **conf,
			     struct sl_error *err)
{
	const struct sl_arg *format = sl_args_get(args, "format");
	const struct sl_arg *year = sl_args_get(args, "year");
	static const char *const formats[] = { "auto", "rfc3164", "rfc5424" };
	struct sl_syslog_conf *c;
	int f = -1;

	for (int i = 0; i < 3; i++)
		if (format && format->str && strcmp(format->str, formats[i]) == 0)
			f = i;
	if (f < 0) {
		err->key = "format";
		snprintf(err->msg, sizeof(err->msg), "expected auto, rfc5424 or rfc3164, not '%s'",
			 format && format->str ? format->str : "");
		return -EINVAL;
	}
	if (year && year->i != 0 && (year->i < 1678 || year->i > 2261)) {
		err->key = "year";
		snprintf(err->msg, sizeof(err->msg),
			 "expected 1678 to 2261 (times are int64 ns) or 0 (this year), not %lld",
			 (long long)year->i);
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return -ENOMEM;
	}
	c->format = (enum sl_syslog_format)f;
	c->year = year ? (int)year->i : 0;
	if (c->year == 0) {
		time_t now = time(NULL);
		struct tm tm;

		gmtime_r(&now, &tm);
		c->year = tm.tm_year + 1900;
	}
	*conf = c;
	return 0;
}

static void syslog_parse_fini(void *conf)
{
	free(conf);
}

static int syslog_parse_one(const void *conf, const char *line, size_t len, struct sl_rec_writer *w,
			    uint32_t *err_offset)
{
	return syslog_parse_line(conf, line, len, w, err_offset);
}

static void syslog_parse_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
				 struct sl_emit *out)
{
	parse_stage_process(&syslog_parse_stage, syslog_parse_one, conf, ctx, in, out);
}

const struct sl_stage_desc sl_stage_syslog_parse = {
	SL_STAGE_DESC_INIT,
	.name = "syslog_parse",
	.version = "1.0.0",
	.summary = "parse syslog lines (RFC 5424 and RFC 3164) into records",
	.params = syslog_parse_params,
	.outputs = syslog_parse_outputs,
	.counters = sl_syslog_err_names,
	.init = syslog_parse_init,
	.process = syslog_parse_process,
	.fini = syslog_parse_fini,
};
