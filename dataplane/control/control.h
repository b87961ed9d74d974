/*
 * The control plane of a running pipeline (docs/control.md): a unix socket served by a
 * control pthread (never a worker lcore) answering versioned JSON requests (stats, nodes,
 * ping, version, stop), and optionally a Prometheus endpoint (/metrics, /health) served
 * by libmicrohttpd's own thread on 127.0.0.1. Both only read the pipeline's live counters
 * (sl_pipeline_node_stats); nothing here touches the data path. `sluice run` starts it
 * after the pipeline is built and stops it before destroying the pipeline. The client
 * half (connect, one request, one response; finding the default socket) is used by the
 * `sluice ctl | stats | top` subcommands.
 */
#ifndef SL_CONTROL_CONTROL_H
#define SL_CONTROL_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "graph/pipeline.h"

#define SL_CTL_MAX_CONN		64 /* clients served at once; more are refused */
#define SL_CTL_IDLE_TIMEOUT_S	10 /* a client that sends no complete request for this long */
#define SL_CTL_METRICS_MAX_CONN 16

struct sl_control;

struct sl_control_opts {
	const char *socket_path; /* NULL: the default, <runtime dir>/<pid>.sock */
	bool metrics;		 /* serve /metrics and /health */
	uint32_t metrics_ip;	 /* IPv4, network order */
	uint16_t metrics_port;	 /* 0: any free port (logged, and in `version`) */
	uint32_t stall_after_ms; /* /health: 503 after this long without progress */
	uint32_t heartbeat_ms;	 /* /health: 503 when a stage call runs this long */
	const char *version;	 /* of the sluice binary, for `version` */
	/* `swap` and `reload` (reload.h): how the running file was loaded */
	const char *config_file;   /* NULL: the built-in default */
	uint32_t default_replicas; /* `sluice run --replicas N` */
	const struct sl_host *host;
};

/* Fill opts from the pipeline's `control:` block and a --socket PATH (which wins). */
void sl_control_opts_from_config(const struct sl_config *cfg, const char *socket_arg,
				 struct sl_control_opts *o);

/* Create the socket (0600) and start the control thread, and the metrics server when
 * asked. 0 or -errno (logged). The pipeline and config must outlive the control; a reload
 * finishes the start-up config's stage conf of a stage it replaces (sl_reload_create). */
int sl_control_start(const struct sl_control_opts *o, struct sl_pipeline *p, struct sl_config *cfg,
		     struct sl_control **out);
/* The pipeline has finished running: counters are final (stats say "ended"). */
void sl_control_ended(struct sl_control *c);
/* Stop both servers, close every client, remove the socket file. NULL is fine. */
void sl_control_stop(struct sl_control *c);
const char *sl_control_socket_path(const struct sl_control *c);

/* ---- client side ---- */

/* The directory default sockets live in: $XDG_RUNTIME_DIR/sluice, else /run/sluice for
 * root, else /tmp/sluice-<uid>. */
int sl_ctl_default_dir(char *buf, size_t len);
/* The one live socket in the default directory. 0, or -errno with the reason in err
 * (none running, or several: then their paths). */
int sl_ctl_find_socket(char *path, size_t len, char *err, size_t err_len);
/* Connect to a control socket. A file descriptor, or -errno. */
int sl_ctl_connect(const char *path);
/* Send one request line (newline added) and read one response line (newline removed,
 * NUL-terminated, malloc'ed, at most SL_CTL_RESPONSE_MAX bytes). 0 or -errno; timeout_ms
 * bounds the wait for the response. */
int sl_ctl_call(int fd, const char *request, int timeout_ms, char **response, size_t *len);

/* The subcommands; each returns the exit status (0, or 1 with a message on stderr).
 * socket_arg NULL: find the default socket. */
int sl_ctl_cli_ctl(const char *socket_arg, const char *command, const char *node);
int sl_ctl_cli_stats(const char *socket_arg, bool json, const char *node);
/* count 0: until the pipeline ends or SIGINT. */
int sl_ctl_cli_top(const char *socket_arg, double interval_s, unsigned count);
/* `sluice tap NODE[.OUTPUT]`: print sampled events as JSON lines until limit, the end of
 * the pipeline or SIGINT. */
int sl_ctl_cli_tap(const char *socket_arg, const char *target, int64_t limit, double rate);
/* `sluice scale STAGE N|auto`: pin an autoscaled stage's replicas, or release the pin. */
int sl_ctl_cli_scale(const char *socket_arg, const char *node, const char *count);
/* `sluice swap STAGE PLUGIN.so` (cmd "swap") and `sluice reload [FILE]` (cmd "reload",
 * node NULL): send the file as an absolute path, print what was applied. */
int sl_ctl_cli_live(const char *socket_arg, const char *cmd, const char *node, const char *file);

#endif
