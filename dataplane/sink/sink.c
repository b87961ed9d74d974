/*
 * The table of sink kinds (looked up on the control thread by the config loader and the
 * runtime), `format:` parsing, and the per-event formatter the file and stdout sinks
 * share (called on worker lcores). Owns no state.
 */
#include "sink.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/check.h"
#include "dlq.h"
#include "format/json.h"

static const struct sl_sink_ops *const sink_kinds[] = {
	&sl_sink_file, &sl_sink_stdout,	  &sl_sink_null,    &sl_sink_dlq,
	&sl_sink_dpdk, &sl_sink_pktcheck, &sl_sink_metrics,
};

const struct sl_sink_ops *sl_sink_find(const char *type)
{
	for (size_t i = 0; i < SL_ARRAY_SIZE(sink_kinds); i++)
		if (strcmp(sink_kinds[i]->type, type) == 0)
			return sink_kinds[i];
	return NULL;
}

const struct sl_sink_ops *sl_sink_at(uint32_t i)
{
	return i < SL_ARRAY_SIZE(sink_kinds) ? sink_kinds[i] : NULL;
}

int sl_sink_format_parse(const char *s)
{
	if (strcmp(s, "raw") == 0)
		return SL_FORMAT_RAW;
	if (strcmp(s, "jsonl") == 0)
		return SL_FORMAT_JSONL;
	if (strcmp(s, "table") == 0)
		return SL_FORMAT_TABLE;
	return -1;
}

/* sl_sink_format_event; skip: a top-level record field to leave out of jsonl, or NULL. */
static long format_event(enum sl_sink_format fmt, int meta_offset, struct rte_mbuf *ev, char *out,
			 size_t cap, const char *skip)
{
	const struct sl_meta *m = sl_event_meta(meta_offset, ev);
	const char *data = rte_pktmbuf_mtod(ev, const char *);
	uint32_t raw = m->raw_len < ev->data_len ? m->raw_len : ev->data_len;
	bool has_rec = m->kind == SL_EVENT_RECORD && m->rec_off < ev->data_len;
	long n;

	if (fmt == SL_FORMAT_RAW && (raw > 0 || !has_rec)) {
		if (cap < (size_t)raw + 1)
			return -2;
		memcpy(out, data, raw);
		out[raw] = '\n';
		return (long)raw + 1;
	}
	if (has_rec) {
		struct sl_rec rec = { (const uint8_t *)data + m->rec_off,
				      (uint32_t)(ev->data_len - m->rec_off) };

		n = skip ? sl_json_from_record_without(rec, skip, out, cap)
			 : sl_json_from_record(rec, out, cap);
	} else {
		n = sl_json_from_line(data, raw, out, cap);
	}
	if (n < 0)
		return n;
	if ((size_t)n >= cap)
		return -2;
	out[n] = '\n';
	return n + 1;
}

long sl_sink_format_event(enum sl_sink_format fmt, int meta_offset, struct rte_mbuf *ev, char *out,
			  size_t cap)
{
	return format_event(fmt, meta_offset, ev, out, cap, NULL);
}

long sl_sink_format_event_id(enum sl_sink_format fmt, int meta_offset, struct rte_mbuf *ev,
			     char *out, size_t cap)
{
	const struct sl_meta *m = sl_event_meta(meta_offset, ev);
	bool has_rec = m->kind == SL_EVENT_RECORD && m->rec_off < ev->data_len;
	uint32_t raw = m->raw_len < ev->data_len ? m->raw_len : ev->data_len;
	char pre[40];
	long n;
	int pl;

	if (fmt == SL_FORMAT_RAW && (raw > 0 || !has_rec)) {
		pl = snprintf(pre, sizeof(pre), "%" PRIu64 " ", m->event_id);
		if (cap < (size_t)pl)
			return -2;
		n = sl_sink_format_event(fmt, meta_offset, ev, out + pl, cap - (size_t)pl);
		if (n < 0)
			return n;
		memcpy(out, pre, (size_t)pl);
		return n + pl;
	}
	/* The object is written one byte before the end of the prefix, so the prefix's
	 * final ',' replaces its '{'. A record's own top-level event_id is left out: two
	 * members of one name would leave which one a reader takes to the reader. */
	pl = snprintf(pre, sizeof(pre), "{\"event_id\":%" PRIu64 ",", m->event_id);
	if (cap < (size_t)pl + 2)
		return -2;
	n = format_event(fmt, meta_offset, ev, out + pl - 1, cap - (size_t)pl + 1, "event_id");
	if (n < 0)
		return n;
	if (out[pl] == '}')
		pre[pl - 1] = ' '; /* an empty object: no field follows */
	memcpy(out, pre, (size_t)pl);
	return n + pl - 1;
}

int sl_sink_mkdirs(const char *path, char *msg, size_t msg_len)
{
	char *dir = strdup(path);
	int rc = 0;

	if (!dir)
		return -ENOMEM;
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			rc = -errno;
			snprintf(msg, msg_len, "cannot create directory %s for %s: %s", dir, path,
				 strerror(-rc));
			break;
		}
		*p = '/';
	}
	free(dir);
	return rc;
}
