/*
 * socket_on: a test plugin that reaches for the network the way a compromised stage
 * would. It takes `marker: STRING` and passes every event through unchanged on its
 * default output, except one whose raw bytes contain the marker: on that one it opens a
 * TCP socket and an io_uring. In a sandbox (`isolation: process`) the seccomp allow-list
 * kills it with SIGSYS at the first call; in process the calls work, and the event goes
 * out of `failed` instead, so a test can tell (tests/integration/isolation.sh).
 */
#include <errno.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/io_uring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/stage.h>

#include "marker.h"

enum { SOCKET_ON_CTR_PASSED = 0 };

static const char *const socket_on_counters[] = { "passed", NULL };
static const char *const socket_on_outputs[] = { "default", "failed", NULL };

static const struct sl_param_desc socket_on_params[] = {
	{ "marker", SL_PARAM_STR, true, NULL,
	  "open a socket and an io_uring on an event whose raw bytes contain this string" },
	{ NULL },
};

static void socket_on_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
			      struct sl_emit *out)
{
	for (uint16_t i = 0; i < in->n; i++) {
		struct rte_mbuf *ev = in->ev[i];

		if (marker_hit(conf, ctx, ev)) {
			struct io_uring_params p = { 0 };
			int s = socket(AF_INET, SOCK_STREAM, 0);
			long u = syscall(__NR_io_uring_setup, 4, &p);

			if (s >= 0)
				close(s);
			if (u >= 0)
				close((int)u);
			sl_emit(out, 1, ev);
			continue;
		}
		sl_emit(out, 0, ev);
	}
	ctx->counters[SOCKET_ON_CTR_PASSED] += in->n;
}

static const struct sl_stage_desc socket_on_stage = {
	SL_STAGE_DESC_INIT,
	.name = "socket_on",
	.version = "1.0.0",
	.summary = "test plugin: pass events through; open a socket on one containing `marker`",
	.params = socket_on_params,
	.outputs = socket_on_outputs,
	.counters = socket_on_counters,
	.flags = SL_STAGE_F_FORWARDS,
	.init = marker_init,
	.process = socket_on_process,
	.fini = marker_fini,
};

SL_PLUGIN(&socket_on_stage);
