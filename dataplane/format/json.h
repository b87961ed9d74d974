/*
 * msgpack record -> JSON text, zero allocation, for jsonl sinks and `tap`. Strings are
 * escaped per RFC 8259 (invalid UTF-8 bytes become \u00XX so output is always valid JSON);
 * bin and ext values are written as base64-free hex strings; non-finite floats as null.
 * Safe on any input bytes: a malformed record yields -1, never a read out of bounds.
 * Callable from any thread; keeps no state.
 */
#ifndef SL_FORMAT_JSON_H
#define SL_FORMAT_JSON_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include <sluice/record.h>

/** Write rec as one JSON object (no newline) into out. Returns bytes written, -1 when the
 *  record is malformed, -2 when out is too small. The record must start with a map;
 *  bytes after the map are ignored. Maps nest at most SL_REC_MAX_DEPTH deep; map keys
 *  that are not strings are written as strings of their JSON text (containers as keys
 *  are malformed). Floats are printed with the fewest digits that read back to the same
 *  value, always with a '.' or an exponent so they stay floats. */
long sl_json_from_record(struct sl_rec rec, char *out, size_t cap);

/** sl_json_from_record, leaving out every top-level member whose key is the string skip
 *  (the file sink's own "event_id" replaces a record's). Same returns. */
long sl_json_from_record_without(struct sl_rec rec, const char *skip, char *out, size_t cap);

/** Write one msgpack value of any type (the first one at p) as JSON. Same returns. */
long sl_json_from_value(const uint8_t *p, size_t len, char *out, size_t cap);

/** Write len bytes as one quoted, escaped JSON string. Returns bytes written or -2. */
long sl_json_string(const char *s, size_t len, char *out, size_t cap);

/** The same for a C string, onto a stream (control paths: messages, stats); "" when it
 *  cannot be escaped (out of memory). */
void sl_json_fput_string(FILE *f, const char *s);

/** Write a line event as {"line":"<escaped bytes>"}. Returns bytes written or -2. */
long sl_json_from_line(const char *s, size_t len, char *out, size_t cap);

#endif
