/*
 * Fuzz target for the checkpoint parser: arbitrary bytes are parsed. A refusal must name
 * a byte offset inside the input (or its end) and say why; an accepted checkpoint must
 * format back to exactly the same bytes (the format has one spelling per content).
 * Replayed over tests/fuzz/corpus/checkpoint/ by every build; libFuzzer drives it under
 * -Dfuzz=true.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint/checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_ckpt_error err = { 0 };
	struct sl_ckpt_file *files;
	uint32_t n;
	size_t len;
	char *buf;

	if (sl_ckpt_parse((const char *)data, size, &files, &n, &err) != 0) {
		if (err.off > size || err.msg[0] == '\0') {
			fprintf(stderr, "checkpoint_fuzz: bad error (byte %zu of %zu: '%s')\n",
				err.off, size, err.msg);
			abort();
		}
		return 0;
	}
	if (sl_ckpt_format(files, n, &buf, &len) != 0)
		abort();
	if (len != size || memcmp(buf, data, size) != 0) {
		fprintf(stderr, "checkpoint_fuzz: %u files do not format back to the input\n", n);
		abort();
	}
	free(buf);
	free(files);
	return 0;
}
