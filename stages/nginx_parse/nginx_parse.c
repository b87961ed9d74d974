/*
 * nginx_parse: turns nginx access-log lines into records: the "combined" format by a
 * parser written for it (parse.h), any other `log_format` by a compiled format
 * (log_format.h). The record is appended after the line inside the same mbuf, so
 * a raw sink still writes the original bytes and no copy is made. Lines that do not parse
 * leave on the "errors" output with a record {"error": reason, "offset": byte offset}.
 * Built-in stage; uses only the SDK. process runs on worker lcores, possibly on several
 * replicas at once; the stage keeps no state. For combined it declares the fields it
 * writes, and writes only those the runtime says are read downstream (ctx->fields_mask,
 * projection); a custom format that starts with combined does the same for those ten and
 * always writes its other variables ($request_time), any other custom format writes every
 * field. The line is always kept in the event and always checked in full.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include <sluice/event.h>
#include <sluice/record.h>
#include <sluice/stage.h>

#include "log_format.h"
#include "parse.h"

/* Counter indexes after the parser's codes (which count parsed lines and each reason). */
enum {
	NGINX_CNT_NOT_LINE = SL_NGINX_N_CODES, /* neither a line nor a record with raw bytes */
	NGINX_CNT_NOMBUF,		       /* a shared event could not be copied */
};

enum { NGINX_PORT_DEFAULT = 0, NGINX_PORT_ERRORS = 1 };

static const char *const nginx_parse_outputs[] = { "default", "errors", NULL };

static const char *const nginx_parse_counters[] = {
	"parsed",     "bad_ip",	    "bad_user",	 "bad_time", "bad_request",
	"bad_status", "bad_bytes",  "bad_quote", "trailing", "too_large",
	"bad_format", "bad_number", "not_line",	 "nombuf",   NULL,
};
_Static_assert(sizeof(nginx_parse_counters) / sizeof(nginx_parse_counters[0]) ==
		       NGINX_CNT_NOMBUF + 2,
	       "one counter per parser code plus not_line and nombuf");

static const struct sl_param_desc nginx_parse_params[] = {
	{ .name = "log_format",
	  .type = SL_PARAM_STR,
	  .def = "combined",
	  .help = "the line format as in nginx.conf's log_format ($remote_addr, $request_time, "
		  "...), or combined" },
	{ NULL },
};

/* In record order; bit i of ctx->fields_mask selects nginx_parse_writes[i]. */
static const char *const nginx_parse_writes[] = { SL_NGINX_FIELDS, NULL };

struct nginx_parse_conf {
	bool combined; /* the combined parser (parse.h), else fmt */
	bool avx2;     /* run the parsers' AVX2 instances: the CPU has AVX2 */
	struct ngx_fmt fmt;
};

static int nginx_parse_init(const struct sl_host *host, const struct sl_args *args, void **conf,
			    struct sl_error *err)
{
	const struct sl_arg *a = sl_args_get(args, "log_format");
	struct nginx_parse_conf *c;
	uint32_t off = 0;

	(void)host;
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return -ENOMEM;
	}
	/* Asked once here, as the file source does; SLUICE_NO_AVX2 forces the SSE2 path. */
#if NGINX_HAVE_AVX2
	c->avx2 = nginx_cpu_avx2() && !getenv("SLUICE_NO_AVX2");
#endif
	c->combined = !a || !a->str || strcmp(a->str, "combined") == 0 ||
		      strcmp(a->str, NGX_FMT_COMBINED) == 0;
	if (!c->combined &&
	    ngx_fmt_compile(a->str, &c->fmt, &off, err->msg, sizeof(err->msg)) < 0) {
		err->key = "log_format";
		err->offset = off;
		free(c);
		return -EINVAL;
	}
	*conf = c;
	return 0;
}

static void nginx_parse_fini(void *conf)
{
	free(conf);
}

/* One line through the configured parser; avx2 (a constant in each copy of the burst loop):
 * its AVX2 fast path. */
static inline __attribute__((always_inline)) int
nginx_parse_one(const struct nginx_parse_conf *c, const char *line, uint32_t len,
		struct sl_rec_writer *w, uint32_t *err_off, uint64_t fields, bool avx2)
{
	if (likely(!c->combined))
		return ngx_fmt_parse_line_any(&c->fmt, line, len, w, err_off, fields, avx2);
	return nginx_parse_line_rest_any(line, len, w, err_off, fields, NULL, avx2);
}

/* Replace whatever follows the line with an error record; 0 when it does not fit. */
static uint32_t nginx_error_record(uint8_t *buf, uint32_t cap, int code, uint32_t offset)
{
	const char *reason = sl_nginx_err_names[code];
	struct sl_rec_writer w;

	sl_rec_begin(&w, buf, cap);
	sl_rec_put_str(&w, "error", reason, strlen(reason));
	sl_rec_put_int(&w, "offset", offset);
	return sl_rec_end(&w);
}

/* The burst loop, compiled twice (nginx_parse_burst_sse2, nginx_parse_burst_avx2) with the
 * parser inlined into each. */
static inline __attribute__((always_inline)) void
nginx_parse_burst(const struct nginx_parse_conf *conf, struct sl_ctx *ctx, struct sl_burst *in,
		  struct sl_emit *out, bool avx2)
{
	uint64_t *cnt = ctx->counters;
	struct rte_mbuf **evs = in->ev;
	uint16_t n = in->n;

	for (uint16_t i = 0; i < n && i < 2; i++) {
		rte_prefetch0(evs[i]);
		rte_prefetch0((char *)evs[i] + RTE_CACHE_LINE_SIZE);
	}
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *ev = evs[i];
		struct sl_rec_writer w;
		struct sl_meta *meta;
		uint32_t raw_len, cap, rec_len, err_off = 0;
		uint16_t port = NGINX_PORT_DEFAULT;
		uint8_t *rec;
		int rc;

		/* Headers two events ahead, data (line and the record's room) one ahead. */
		if (i + 2 < n) {
			rte_prefetch0(evs[i + 2]);
			rte_prefetch0((char *)evs[i + 2] + RTE_CACHE_LINE_SIZE);
		}
		if (i + 1 < n) {
			const char *next = rte_pktmbuf_mtod(evs[i + 1], const char *);
			rte_prefetch0(next);
			rte_prefetch0(next + RTE_CACHE_LINE_SIZE);
			rte_prefetch0(next + 2 * RTE_CACHE_LINE_SIZE);
			rte_prefetch0(next + 3 * RTE_CACHE_LINE_SIZE);
		}

		meta = sl_ctx_meta(ctx, ev);
		raw_len = meta->raw_len;
		if ((meta->kind != SL_EVENT_LINE &&
		     !(meta->kind == SL_EVENT_RECORD && raw_len > 0)) ||
		    raw_len > ev->data_len || ev->nb_segs != 1) {
			cnt[NGINX_CNT_NOT_LINE]++;
			sl_drop(out, ev, SL_DROP_INVALID);
			continue;
		}
		if (rte_mbuf_refcnt_read(ev) > 1) {
			/* Fan-out shares events; the host released ev if it returns NULL. */
			ev = ctx->host->event_unshare(ctx, ev);
			if (!ev) {
				cnt[NGINX_CNT_NOMBUF]++;
				continue;
			}
			meta = sl_ctx_meta(ctx, ev);
		}

		/* A record already behind the line is replaced by the parsed one. */
		ev->data_len = (uint16_t)raw_len;
		ev->pkt_len = raw_len;
		rec = rte_pktmbuf_mtod_offset(ev, uint8_t *, raw_len);
		cap = rte_pktmbuf_tailroom(ev);
		sl_rec_begin(&w, rec, cap);
		rc = nginx_parse_one(conf, rte_pktmbuf_mtod(ev, const char *), raw_len, &w,
				     &err_off, ctx->fields_mask, avx2);
		cnt[rc]++;
		if (rc == SL_NGINX_OK) {
			rec_len = sl_rec_end(&w);
		} else {
			rec_len = nginx_error_record(rec, cap, rc, err_off);
			port = NGINX_PORT_ERRORS;
		}
		if (rec_len == 0) {
			sl_drop(out, ev, SL_DROP_INVALID);
			continue;
		}
		ev->data_len = (uint16_t)(raw_len + rec_len);
		ev->pkt_len = raw_len + rec_len;
		meta->rec_off = (uint16_t)raw_len;
		meta->kind = SL_EVENT_RECORD;
		sl_emit(out, port, ev);
	}
}

static __attribute__((noinline)) void nginx_parse_burst_sse2(const struct nginx_parse_conf *conf,
							     struct sl_ctx *ctx,
							     struct sl_burst *in,
							     struct sl_emit *out)
{
	nginx_parse_burst(conf, ctx, in, out, false);
}

#if NGINX_HAVE_AVX2
NGINX_AVX2 static __attribute__((noinline)) void
nginx_parse_burst_avx2(const struct nginx_parse_conf *conf, struct sl_ctx *ctx, struct sl_burst *in,
		       struct sl_emit *out)
{
	nginx_parse_burst(conf, ctx, in, out, true);
}
#endif

static void nginx_parse_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
				struct sl_emit *out)
{
	const struct nginx_parse_conf *c = conf;

#if NGINX_HAVE_AVX2
	if (likely(c->avx2)) {
		nginx_parse_burst_avx2(c, ctx, in, out);
		return;
	}
#endif
	nginx_parse_burst_sse2(c, ctx, in, out);
}

const struct sl_stage_desc sl_stage_nginx_parse = {
	SL_STAGE_DESC_INIT,
	.name = "nginx_parse",
	.version = "1.0.0",
	.summary = "parse nginx combined access-log lines into records",
	.params = nginx_parse_params,
	.outputs = nginx_parse_outputs,
	.counters = nginx_parse_counters,
	.init = nginx_parse_init,
	.process = nginx_parse_process,
	.fini = nginx_parse_fini,
	.writes = nginx_parse_writes,
};
