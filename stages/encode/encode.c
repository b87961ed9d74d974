/*
 * json_encode and msgpack_encode: turn each record event into a line event whose bytes are
 * the record, as JSON text (json_encode: one object, the same text a jsonl sink writes) or
 * as its msgpack encoding (msgpack_encode: the record's bytes as they travel, for a raw
 * sink or a forwarder that carries msgpack on). The record is gone afterwards: downstream
 * sees a line (`raw` sinks write it, parsers can read it again). A line event with no
 * record passes through json_encode as {"line":"..."} (as jsonl sinks write lines) and
 * msgpack_encode as the msgpack map {"line": "<bytes>"}.
 *
 * Per event: the text is written into a per-lcore scratch buffer made at init (no
 * allocation per event), then copied over the event's data. An encoding that does not fit
 * the event's room (or the scratch, 8 KiB) leaves on `errors` with
 * {"error":"too_large","offset":<bytes needed so far>} kept as the record; a malformed record
 * leaves there as bad_record. Events shared with another consumer are copied first.
 * Built-in stage; uses the SDK and dataplane/format/json.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <sluice/event.h>
#include <sluice/record.h>
#include <sluice/stage.h>

#include "event/event.h" /* sl_event_grow */
#include "format/json.h"

#define ENC_SCRATCH 8192u

enum { ENC_CNT_ENCODED = 0, ENC_CNT_LINES, ENC_CNT_TOO_LARGE, ENC_CNT_BAD, ENC_CNT_NOMBUF };
enum { ENC_PORT_DEFAULT = 0, ENC_PORT_ERRORS = 1 };

static const char *const enc_counters[] = { "encoded",	  "lines",  "too_large",
					    "bad_record", "nombuf", NULL };
static const char *const enc_outputs[] = { "default", "errors", NULL };
static const struct sl_param_desc enc_params[] = { { NULL } };

struct enc_conf {
	bool json;
	char *scratch; /* RTE_MAX_LCORE x ENC_SCRATCH */
};

static int enc_init_kind(struct sl_error *err, void **conf, bool json)
{
	struct enc_conf *c = calloc(1, sizeof(*c));

	if (c)
		c->scratch = malloc((size_t)RTE_MAX_LCORE * ENC_SCRATCH);
	if (!c || !c->scratch) {
		free(c);
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return -ENOMEM;
	}
	c->json = json;
	*conf = c;
	return 0;
}

static int json_encode_init(const struct sl_host *host, const struct sl_args *args, void **conf,
			    struct sl_error *err)
{
	(void)host;
	(void)args;
	return enc_init_kind(err, conf, true);
}

static int msgpack_encode_init(const struct sl_host *host, const struct sl_args *args, void **conf,
			       struct sl_error *err)
{
	(void)host;
	(void)args;
	return enc_init_kind(err, conf, false);
}

static void enc_fini(void *conf)
{
	struct enc_conf *c = conf;

	if (c)
		free(c->scratch);
	free(c);
}

/* {"line": <bytes>} as msgpack (str 8/16 header); -2 when it does not fit. */
static long enc_msgpack_line(const char *s, size_t n, char *out, size_t cap)
{
	uint8_t *o = (uint8_t *)out;
	size_t h = n < 256 ? 2 : 3;

	if (n > 0xffff || 6 + h + n > cap)
		return -2;
	memcpy(o, "\x81\xa4line", 6);
	if (h == 2) {
		o[6] = 0xd9;
		o[7] = (uint8_t)n;
	} else {
		o[6] = 0xda;
		o[7] = (uint8_t)(n >> 8);
		o[8] = (uint8_t)n;
		h = 3;
	}
	memcpy(o + 6 + h, s, n);
	return (long)(6 + h + n);
}

/* The error record after the event's current data (its line, if any, stays the raw). */
static bool enc_error(struct rte_mbuf *ev, struct sl_meta *meta, const char *reason, uint32_t off)
{
	struct sl_rec_writer w;
	uint32_t raw = meta->raw_len, len;

	if (raw > ev->data_len)
		raw = 0;
	sl_rec_begin(&w, rte_pktmbuf_mtod_offset(ev, uint8_t *, raw),
		     (uint32_t)(ev->buf_len - ev->data_off - raw));
	sl_rec_put_str(&w, "error", reason, strlen(reason));
	sl_rec_put_int(&w, "offset", off);
	len = sl_rec_end(&w);
	if (len == 0)
		return false;
	ev->data_len = (uint16_t)(raw + len);
	ev->pkt_len = raw + len;
	meta->raw_len = (uint16_t)raw;
	meta->rec_off = (uint16_t)raw;
	meta->kind = SL_EVENT_RECORD;
	return true;
}

static void enc_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
			struct sl_emit *out)
{
	const struct enc_conf *c = conf;
	uint64_t *cnt = ctx->counters;
	char *buf = c->scratch + (size_t)(ctx->lcore % RTE_MAX_LCORE) * ENC_SCRATCH;

	for (uint16_t i = 0; i < in->n; i++) {
		struct rte_mbuf *ev = in->ev[i];
		struct sl_meta *meta = sl_ctx_meta(ctx, ev);
		size_t room;
		long n;

		if (rte_mbuf_refcnt_read(ev) > 1) {
			ev = ctx->host->event_unshare(ctx, ev);
			if (!ev) {
				cnt[ENC_CNT_NOMBUF]++;
				continue;
			}
			meta = sl_ctx_meta(ctx, ev);
		}
		/* Text too big for a small event: once more in the big room (event.h). */
		for (bool again = true; again;) {
			room = (size_t)(ev->buf_len - ev->data_off);
			if (room > ENC_SCRATCH)
				room = ENC_SCRATCH;
			if (meta->kind == SL_EVENT_RECORD) {
				struct sl_rec rec = sl_event_record(ctx, ev);

				if (c->json) {
					n = sl_json_from_record(rec, buf, room);
				} else {
					struct sl_val v;
					const uint8_t *e = sl_mp_read(rec.p, rec.p + rec.len, &v);

					n = e && v.type == SL_VAL_MAP ? (long)(e - rec.p) : -1;
					if (n > (long)room)
						n = -2;
					else if (n > 0)
						memcpy(buf, rec.p, (size_t)n);
				}
				if (n >= 0)
					cnt[ENC_CNT_ENCODED]++;
			} else {
				const char *s = rte_pktmbuf_mtod(ev, const char *);
				size_t len = meta->raw_len <= ev->data_len ? meta->raw_len
									   : ev->data_len;

				n = c->json ? sl_json_from_line(s, len, buf, room)
					    : enc_msgpack_line(s, len, buf, room);
				if (n >= 0)
					cnt[ENC_CNT_LINES]++;
			}
			again = n == -2 && sl_event_grow(ev);
		}
		if (n < 0) {
			cnt[n == -2 ? ENC_CNT_TOO_LARGE : ENC_CNT_BAD]++;
			if (enc_error(ev, meta, n == -2 ? "too_large" : "bad_record",
				      n == -2 ? (uint32_t)room : 0))
				sl_emit(out, ENC_PORT_ERRORS, ev);
			else
				sl_drop(out, ev, SL_DROP_INVALID);
			continue;
		}
		memcpy(rte_pktmbuf_mtod(ev, char *), buf, (size_t)n);
		ev->data_len = (uint16_t)n;
		ev->pkt_len = (uint32_t)n;
		meta->raw_len = (uint16_t)n;
		meta->rec_off = 0;
		meta->kind = SL_EVENT_LINE;
		meta->flags &= (uint8_t)~SL_META_F_TRUNCATED;
		sl_emit(out, ENC_PORT_DEFAULT, ev);
	}
}

const struct sl_stage_desc sl_stage_json_encode = {
	SL_STAGE_DESC_INIT,
	.name = "json_encode",
	.version = "1.0.0",
	.summary = "replace each record with its JSON text, as a line event",
	.params = enc_params,
	.outputs = enc_outputs,
	.counters = enc_counters,
	.init = json_encode_init,
	.process = enc_process,
	.fini = enc_fini,
};

const struct sl_stage_desc sl_stage_msgpack_encode = {
	SL_STAGE_DESC_INIT,
	.name = "msgpack_encode",
	.version = "1.0.0",
	.summary = "replace each record with its msgpack bytes, as a line event (passthrough)",
	.params = enc_params,
	.outputs = enc_outputs,
	.counters = enc_counters,
	.init = msgpack_encode_init,
	.process = enc_process,
	.fini = enc_fini,
};
