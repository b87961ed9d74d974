/*
 * Fuzz target for the record check of sandboxed stages (sl_sandbox_msgpack_valid): the
 * bytes a sandbox child returns as a record are untrusted. On an exactly sized heap copy
 * (so ASan sees any read past it), the check must agree with msgpack-c's own unpacker,
 * an independent parser: whatever msgpack-c unpacks in full as one map must be accepted,
 * and anything accepted must be a map msgpack-c unpacks in full, unless it nests deeper
 * than msgpack-c's stack allows (its limit, not an error of ours). Inputs whose headers
 * claim more items than bytes are not shown to msgpack-c (it would allocate them all up
 * front) but must be refused. Replayed over
 * tests/fuzz/corpus/sandbox_msgpack/ by every build; libFuzzer drives it under -Dfuzz=true.
 */
#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mp_overclaim.h"
#include "resilience/sandbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1);
	msgpack_unpacked u;
	size_t off = 0;
	msgpack_unpack_return rc;
	bool ours, theirs;
	long over;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	ours = sl_sandbox_msgpack_valid(copy, copy + size);
	/* msgpack-c allocates a container's items up front: an array or map header (at any
	 * offset, conservatively) that claims more items than there are bytes would make it
	 * ask for gigabytes. Such input cannot be valid; we must refuse it (checked), and the
	 * oracle is skipped. */
	over = mp_first_overclaim(copy, size);
	if (over >= 0) {
		if (ours && over == 0) {
			fprintf(stderr,
				"sandbox_msgpack_fuzz: accepted a map longer than its bytes\n");
			abort();
		}
		free(copy);
		return 0;
	}
	msgpack_unpacked_init(&u);
	rc = msgpack_unpack_next(&u, (const char *)copy, size, &off);
	theirs = rc == MSGPACK_UNPACK_SUCCESS && off == size && u.data.type == MSGPACK_OBJECT_MAP;
	if (theirs && !ours) {
		fprintf(stderr, "sandbox_msgpack_fuzz: msgpack-c unpacks a map we refuse\n");
		abort();
	}
	if (ours && !theirs && rc != MSGPACK_UNPACK_NOMEM_ERROR &&
	    rc != MSGPACK_UNPACK_PARSE_ERROR) {
		fprintf(stderr,
			"sandbox_msgpack_fuzz: we accept what msgpack-c cannot unpack (%d)\n",
			(int)rc);
		abort();
	}
	msgpack_unpacked_destroy(&u);
	free(copy);
	return 0;
}
