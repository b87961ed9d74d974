/*
 * Fuzz target for the control protocol's request decoder and JSON reader (message.c):
 * any bytes go through sl_ctl_request_decode and sl_jr_parse. Never a crash, leak or
 * out-of-bounds read; a decoded request has a known command and version 1 and, when it
 * names a node, a non-empty one; a rejected one always says why. A value the reader
 * accepts is a tree within the depth bound whose strings are NUL-terminated at their
 * length and whose keys are all found by sl_jr_get. Every build replays
 * tests/fuzz/corpus/control_message; -Dfuzz=true builds it for fuzzing (tests/meson.build).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_walk(const struct sl_jr_val *v, int depth)
{
	if (depth > SL_CTL_JSON_DEPTH)
		__builtin_trap();
	switch (v->type) {
	case SL_JR_STR:
		if (!v->s || v->s[v->len] != '\0')
			__builtin_trap();
		break;
	case SL_JR_OBJ:
		for (size_t i = 0; i < v->n; i++) {
			if (!v->keys[i])
				__builtin_trap();
			if (sl_jr_get(v, v->keys[i]) == NULL)
				__builtin_trap();
		}
		/* fall through */
	case SL_JR_ARR:
		for (size_t i = 0; i < v->n; i++)
			fuzz_walk(&v->items[i], depth + 1);
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_ctl_request req;
	struct sl_jr_val v;
	char err[256];
	int rc;

	rc = sl_ctl_request_decode((const char *)data, size, &req, err, sizeof(err));
	if (rc == 0) {
		if (req.v != SL_CTL_VERSION || req.cmd >= SL_CTL_CMD_N)
			__builtin_trap();
		if (req.has_node && (req.node[0] == '\0' || strlen(req.node) > SL_CTL_NAME_MAX))
			__builtin_trap();
		if (req.cmd == SL_CTL_CMD_TAP &&
		    (!req.has_node || req.limit < 1 || req.limit > SL_CTL_TAP_LIMIT_MAX ||
		     !(req.rate > 0 && req.rate <= SL_CTL_TAP_RATE_MAX)))
			__builtin_trap();
		if (req.has_output && (req.cmd != SL_CTL_CMD_TAP || req.output[0] == '\0' ||
				       strlen(req.output) > SL_CTL_NAME_MAX))
			__builtin_trap();
	} else if (rc != -ENOMEM && err[0] == '\0') {
		__builtin_trap();
	}
	rc = sl_jr_parse((const char *)data, size, SL_CTL_JSON_DEPTH, &v, err, sizeof(err));
	if (rc == 0) {
		fuzz_walk(&v, 0);
		sl_jr_free(&v);
	} else if (rc != -ENOMEM && err[0] == '\0') {
		__builtin_trap();
	}
	return 0;
}
