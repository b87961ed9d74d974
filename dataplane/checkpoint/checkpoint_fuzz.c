/*
 * Fuzz target for the checkpoint parser: arbitrary bytes are parsed. A refusal must name
 * a byte offset inside the input (or its end) and say why; an accepted checkpoint must
 * format back to exactly the same bytes (the format has one spelling per content), or for
 * a version 1 checkpoint, to a version 2 one that reads back as the same files.
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
	if (size >= 19 && memcmp(data, "sluice-checkpoint 1", 19) == 0) {
		/* Version 1 is written as version 2: that must read back as the same files,
		 * each with birth time 0. */
		struct sl_ckpt_file *again;
		uint32_t m;

		if (sl_ckpt_parse(buf, len, &again, &m, &err) != 0 || m != n) {
			fprintf(stderr, "checkpoint_fuzz: version 1 written as 2 does not parse\n");
			abort();
		}
		for (uint32_t i = 0; i < n; i++)
			if (again[i].dev != files[i].dev || again[i].ino != files[i].ino ||
			    again[i].fp != files[i].fp || again[i].fp_len != files[i].fp_len ||
			    again[i].off != files[i].off || again[i].slot != files[i].slot ||
			    again[i].flags != files[i].flags || files[i].birth || again[i].birth) {
				fprintf(stderr, "checkpoint_fuzz: file %u changed from 1 to 2\n",
					i);
				abort();
			}
		free(again);
	} else if (len != size || memcmp(buf, data, size) != 0) {
		fprintf(stderr, "checkpoint_fuzz: %u files do not format back to the input\n", n);
		abort();
	}
	free(buf);
	free(files);
	return 0;
}
