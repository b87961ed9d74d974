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

enum { SOCKET_ON_CTR_PASSED = 0 };

static const char *const socket_on_counters[] = { "passed", NULL };
static const char *const socket_on_outputs[] = { "default", "failed", NULL };

static const struct sl_param_desc socket_on_params[] = {
	{ "marker", SL_PARAM_STR, true, NULL,
	  "open a socket and an io_uring on an event whose raw bytes contain this string" },
	{ NULL },
};

struct socket_on_conf {
	size_t len;
	char marker[];
};

static int socket_on_init(const struct sl_host *host, const struct sl_args *args, void **conf,
			  struct sl_error *err)
{
	const struct sl_arg *m = sl_args_get(args, "marker");
	struct socket_on_conf *c;
	size_t n = m && m->str ? strlen(m->str) : 0;

	if (n == 0) {
		err->key = "marker";
		snprintf(err->msg, sizeof(err->msg), "must not be empty");
		return -EINVAL;
	}
	c = malloc(sizeof(*c) + n + 1);
	if (!c) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return -ENOMEM;
	}
	c->len = n;
	memcpy(c->marker, m->str, n + 1);
	*conf = c;
	return 0;
}

static void socket_on_fini(void *conf)
{
	free(conf);
}

static void socket_on_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
			      struct sl_emit *out)
{
	const struct socket_on_conf *c = conf;

	for (uint16_t i = 0; i < in->n; i++) {
		struct rte_mbuf *ev = in->ev[i];
		const struct sl_meta *meta = sl_ctx_meta(ctx, ev);
		uint32_t raw = meta->raw_len < ev->data_len ? meta->raw_len : ev->data_len;

		if (memmem(rte_pktmbuf_mtod(ev, const char *), raw, c->marker, c->len)) {
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
	.init = socket_on_init,
	.process = socket_on_process,
	.fini = socket_on_fini,
};

SL_PLUGIN(&socket_on_stage);
