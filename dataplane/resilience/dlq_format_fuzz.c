/*
 * Fuzz target for the dead-letter reader (sl_dlq_parse): arbitrary bytes are taken as one
 * line. The reader must never read outside the line or write more scratch than the line's
 * length (both buffers are exactly sized heap copies, so ASan sees any overrun). A line it
 * accepts must survive a round trip: written again with sl_dlq_format, the result must be
 * valid JSON (json_check.h, an independent validator) and read back to the same event id,
 * raw bytes and string fields. Replayed over tests/fuzz/corpus/dlq/ by every build;
 * libFuzzer drives it under -Dfuzz=true.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/json_check.h"
#include "resilience/dlq_format.h"

static void fuzz_fail(const char *what)
{
	fprintf(stderr, "dlq_format_fuzz: %s\n", what);
	abort();
}

static void same_str(struct sl_dlq_str a, struct sl_dlq_str b, const char *what)
{
	if (!a.p != !b.p || a.len != b.len || (a.len && memcmp(a.p, b.p, a.len) != 0))
		fuzz_fail(what);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_dlq_entry e, again;
	struct sl_dlq_error err;
	char *line, *scratch, *out, *scratch2;
	size_t cap;
	long n;

	if (size > SL_DLQ_LINE_MAX)
		return 0;
	line = malloc(size ? size : 1);
	scratch = malloc(size ? size : 1);
	if (!line || !scratch)
		fuzz_fail("out of memory");
	memcpy(line, data, size);
	if (sl_dlq_parse(line, size, &e, scratch, &err) < 0) {
		if (err.offset > size || !err.msg[0])
			fuzz_fail("error offset outside the line, or no message");
		goto out;
	}
	/* Worst case: every byte as a 6-byte escape or base64, plus the fixed keys. */
	cap = 6 * size + 1024;
	out = malloc(cap);
	if (!out)
		fuzz_fail("out of memory");
	n = sl_dlq_format(&e, out, cap);
	if (n <= 0 || out[n - 1] != '\n')
		fuzz_fail("an accepted entry could not be written");
	if (!json_check(out, (size_t)n - 1, SL_DLQ_MAX_DEPTH + 2))
		fuzz_fail("written entry is not valid JSON");
	scratch2 = malloc((size_t)n);
	if (!scratch2)
		fuzz_fail("out of memory");
	if (sl_dlq_parse(out, (size_t)n - 1, &again, scratch2, &err) < 0)
		fuzz_fail("written entry does not read back");
	if (again.event_id != e.event_id || again.truncated != e.truncated)
		fuzz_fail("event_id or truncated changed");
	same_str(e.raw, again.raw, "raw bytes changed");
	same_str(e.stage, again.stage, "stage changed");
	same_str(e.reason, again.reason, "reason changed");
	same_str(e.plugin, again.plugin, "plugin changed");
	same_str(e.source, again.source, "source changed");
	free(scratch2);
	free(out);
out:
	free(scratch);
	free(line);
	return 0;
}
