/*
 * The table of built-in stages, read by the plugin registry (dataplane/plugin) when it
 * is created. Each stage lives in its own folder under stages/ and exports one descriptor
 * named sl_stage_<name>; adding a built-in means one line here and one subdir in
 * stages/meson.build. Constant data only.
 */
#include <stddef.h>

#include <sluice/stage.h>

#include "plugin/registry.h"

extern const struct sl_stage_desc sl_stage_nginx_parse;
extern const struct sl_stage_desc sl_stage_filter;
extern const struct sl_stage_desc sl_stage_count;
extern const struct sl_stage_desc sl_stage_json_parse;
extern const struct sl_stage_desc sl_stage_logfmt_parse;
extern const struct sl_stage_desc sl_stage_syslog_parse;
extern const struct sl_stage_desc sl_stage_regex_parse;
extern const struct sl_stage_desc sl_stage_aggregate;
extern const struct sl_stage_desc sl_stage_sample;
extern const struct sl_stage_desc sl_stage_drop_fields;
extern const struct sl_stage_desc sl_stage_rename;
extern const struct sl_stage_desc sl_stage_route;
extern const struct sl_stage_desc sl_stage_set;
extern const struct sl_stage_desc sl_stage_redact;
extern const struct sl_stage_desc sl_stage_pkt_parse;
extern const struct sl_stage_desc sl_stage_pkt_filter;
extern const struct sl_stage_desc sl_stage_udp_payload;
extern const struct sl_stage_desc sl_stage_flow_count;
extern const struct sl_stage_desc sl_stage_bpf_filter;
extern const struct sl_stage_desc sl_stage_json_encode;
extern const struct sl_stage_desc sl_stage_msgpack_encode;

/* One stage per line. */
/* clang-format off */
const struct sl_stage_desc *const sl_builtin_stages[] = {
	&sl_stage_nginx_parse,
	&sl_stage_filter,
	&sl_stage_count,
	&sl_stage_json_parse,
	&sl_stage_logfmt_parse,
	&sl_stage_syslog_parse,
	&sl_stage_regex_parse,
	&sl_stage_aggregate,
	&sl_stage_sample,
	&sl_stage_drop_fields,
	&sl_stage_rename,
	&sl_stage_route,
	&sl_stage_set,
	&sl_stage_redact,
	&sl_stage_pkt_parse,
	&sl_stage_pkt_filter,
	&sl_stage_udp_payload,
	&sl_stage_flow_count,
	&sl_stage_bpf_filter,
	&sl_stage_json_encode,
	&sl_stage_msgpack_encode,
	NULL,
};
/* clang-format on */
