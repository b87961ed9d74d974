/*
 * The dead-letter file format: one JSON object per line, written by the `dlq` sink
 * (sink/dlq.c) and read back by the `dlq` source (source/dlq.c), `sluice dlq check` and the
 * fuzz target (dlq_format_fuzz.c). Pure functions over byte ranges: no EAL, no allocation,
 * callable from any thread. docs/resilience.md describes the keys.
 *
 * Writer: keys in a fixed order; the event's original bytes go to "raw" as a JSON string
 * when they are valid UTF-8 and to "raw_base64" otherwise, so every byte comes back exactly.
 * Reader: strict JSON (RFC 8259: UTF-8, no unescaped control bytes, no trailing bytes),
 * one object whose known keys must have their documented types; unknown keys are skipped
 * (any JSON value, nesting at most SL_DLQ_MAX_DEPTH) so newer writers stay readable.
 */
#ifndef SL_RESILIENCE_DLQ_FORMAT_H
#define SL_RESILIENCE_DLQ_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest dead-letter line the reader takes (a 64 KiB event escaped as \u00XX is 384 KiB). */
#define SL_DLQ_LINE_MAX (1u << 20)
/* Deepest nesting of JSON containers inside an entry ("record" holds the event's record). */
#define SL_DLQ_MAX_DEPTH 40

/* A string field: p == NULL when absent or null. Not NUL-terminated. */
struct sl_dlq_str {
	const char *p;
	uint32_t len;
};

/* One dead letter. The writer fills it from the event; the reader from a line. */
struct sl_dlq_entry {
	uint64_t time_ns;	   /* unix time (ns) the sink took the event */
	uint64_t event_id;	   /* struct sl_meta.event_id */
	struct sl_dlq_str stage;   /* the stage whose output fed the sink (node name) */
	struct sl_dlq_str use;	   /* its kind (`use:`) */
	struct sl_dlq_str version; /* the kind's descriptor version */
	struct sl_dlq_str plugin;  /* plugin path, absent for built-ins */
	struct sl_dlq_str output;  /* the stage output the event left on ("errors") */
	struct sl_dlq_str reason;  /* why: the record's "error", else the output name */
	struct sl_dlq_str source;  /* the source node the event came from */
	struct sl_dlq_str raw;	   /* the event's original bytes */
	bool truncated;		   /* the source had cut the line */
	bool has_time, has_event_id;
	/* Writer only: the event's msgpack record (written as "record"), or NULL. */
	const uint8_t *record;
	uint32_t record_len;
};

/* Write e as one line (with '\n') into out. Returns bytes written, or -2 when out is too
 * small. A malformed record is written as "record":null. */
long sl_dlq_format(const struct sl_dlq_entry *e, char *out, size_t cap);

/* Why a line did not parse: a message and the byte offset in the line it points at. */
struct sl_dlq_error {
	size_t offset;
	char msg[128];
};

/* Parse one line (without its '\n') into e. Decoded strings are written to scratch, which
 * needs len bytes (decoding never grows); e's strings point into line or scratch. Requires
 * "event_id" and exactly one of "raw" / "raw_base64". Returns 0, or -1 with err set. */
int sl_dlq_parse(const char *line, size_t len, struct sl_dlq_entry *e, char *scratch,
		 struct sl_dlq_error *err);

#endif
