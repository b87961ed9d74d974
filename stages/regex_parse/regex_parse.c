/*
 * regex_parse: turns lines into records with a PCRE2 pattern's named groups (parse.h has
 * the matcher and the configuration; the burst loop is shared with the other line parsers
 * through ../json_parse/parse_common.h). The record is appended after the line inside the
 * same mbuf; lines the pattern does not match, or whose groups are not of their declared
 * type, leave on the "errors" output with a record {"error": reason, "offset": byte}.
 * Built-in stage; uses only the SDK and libpcre2-8. init runs on the control thread: it
 * compiles the pattern once (a mistake is reported at load time as file:line:column of the
 * byte PCRE2 stopped at) and allocates one match-data block per lcore; process runs on
 * worker lcores, possibly on several replicas at once, each using its own lcore's block.
 */
#include <errno.h>
#include <stdio.h>

#include <rte_lcore.h>

#include <sluice/stage.h>

#include "parse.h"

static const char *const regex_parse_outputs[] = { "default", "errors", NULL };

static const struct sl_param_desc regex_parse_params[] = {
	{ .name = "pattern",
	  .type = SL_PARAM_STR,
	  .required = true,
	  .help = "PCRE2 pattern; each named group (?<name>...) becomes a field" },
	{ .name = "types",
	  .type = SL_PARAM_LIST,
	  .help = "name:type items, type one of str (the default), int, float, bool, rfc3339, "
		  "clf (timestamps become epoch ns)" },
	{ NULL },
};

static const struct parse_stage regex_parse_stage = {
	.names = sl_regex_err_names,
	.too_large = SL_REGEX_TOO_LARGE,
	.cnt_not_line = SL_REGEX_N_CODES,
	.cnt_nombuf = SL_REGEX_N_CODES + 1,
};

/* What one process call hands the parser: the configuration and this lcore's block. */
struct regex_call {
	const struct sl_regex_conf *c;
	pcre2_match_data *md;
};

static int regex_parse_init(const struct sl_host *host, const struct sl_args *args, void **conf,
			    struct sl_error *err)
{
	const struct sl_arg *pattern = sl_args_get(args, "pattern");
	const struct sl_arg *types = sl_args_get(args, "types");
	struct sl_regex_conf *c;
	int rc;

	if (!pattern || !pattern->str) {
		err->key = "pattern";
		snprintf(err->msg, sizeof(err->msg), "missing the required parameter 'pattern'");
		return -EINVAL;
	}
	rc = regex_conf_create(pattern->str, types && types->list ? types->list : NULL,
			       types && types->list ? types->n_list : 0, RTE_MAX_LCORE, &c,
			       &err->key, &err->offset, err->msg, sizeof(err->msg));
	if (rc < 0)
		return rc;
	*conf = c;
	return 0;
}

static void regex_parse_fini(void *conf)
{
	regex_conf_destroy(conf);
}

static int regex_parse_one(const void *conf, const char *line, size_t len, struct sl_rec_writer *w,
			   uint32_t *err_offset)
{
	const struct regex_call *call = conf;

	return regex_parse_line(call->c, call->md, line, len, w, err_offset);
}

static void regex_parse_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
				struct sl_emit *out)
{
	const struct sl_regex_conf *c = conf;
	struct regex_call call = { c, c->md[ctx->lcore % c->n_md] };

	parse_stage_process(&regex_parse_stage, regex_parse_one, &call, ctx, in, out);
}

const struct sl_stage_desc sl_stage_regex_parse = {
	SL_STAGE_DESC_INIT,
	.name = "regex_parse",
	.version = "1.0.0",
	.summary = "parse lines into records with a PCRE2 pattern's named groups",
	.params = regex_parse_params,
	.outputs = regex_parse_outputs,
	.counters = sl_regex_err_names,
	.init = regex_parse_init,
	.process = regex_parse_process,
	.fini = regex_parse_fini,
};
