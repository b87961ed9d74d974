/*
 * msgpack record -> JSON text, zero allocation, for jsonl sinks and `tap`. Strings are
 * escaped per RFC 8259 (invalid UTF-8 bytes become \u00XX so output is always valid JSON);
 * bin and ext values are written as base64-free hex strings; non-finite floats as null.
 * Safe on any input bytes: a malformed record yields -1, never a read out of bounds.
 */
#ifndef SL_EVENT_JSON_H
#define SL_EVENT_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <sluice/record.h>

/** Write rec as one JSON object (no newline) into out. Returns bytes written, -1 when the
 *  record is malformed, -2 when out is too small. */
long sl_json_from_record(struct sl_rec rec, char *out, size_t cap);

#endif
