/*
 * What server.c and metrics.c share: the control object and the health sample. Only the
 * control room includes this.
 */
#ifndef SL_CONTROL_INTERNAL_H
#define SL_CONTROL_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>

#include "message.h"

#include "control.h"

struct MHD_Daemon;
struct sl_tap;

#define CTL_MAX_TAPS 8 /* taps at once (one per node) */

/* One control client. */
struct ctl_conn {
	int fd; /* -1: free slot */
	uid_t uid;
	pid_t pid;
	char in[SL_CTL_MSG_MAX + 2];
	size_t in_len;
	char *out; /* response being written */
	size_t out_len, out_off;
	bool closing; /* close once out is written */
	bool eof;
	uint64_t last_ns; /* last request or write progress */
	/* `tap` in progress: events are streamed until tap_left reaches 0 */
	struct sl_tap *tap;
	int tap_slot; /* index in sl_control.taps */
	uint32_t tap_node;
	uint64_t tap_left, tap_sent;
	struct sl_ctl_request tap_req;
};

/* Progress of the pipeline as /health judges it (docs/control.md). */
struct ctl_health {
	uint64_t progress;	 /* sum of in, out, generated and dropped over all nodes */
	uint64_t waiting;	 /* sum of queued, pending and in_flight */
	uint64_t last_change_ns; /* when progress last moved (or the first sample) */
	uint64_t sampled_ns;
	bool valid;
	bool stuck;	     /* heartbeat: a stage is inside one call longer than heartbeat */
	char stuck_why[200]; /* which, and for how long */
};

struct sl_control {
	struct sl_pipeline *p;
	const struct sl_config *cfg;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char version[32];
	uid_t owner;
	int listen_fd;
	int wake[2];
	bool own_file;
	bool thread_started;
	pthread_t thread;
	bool ended; /* atomic: the pipeline finished, counters are final */
	int n_conns;
	uint64_t n_refused, last_refusal_log_ns;
	uint64_t stall_after_ns;
	pthread_mutex_t health_lock; /* guards health: written by the control thread,
				      * read by the metrics thread */
	struct ctl_health health;
	struct MHD_Daemon *mhd;
	uint32_t metrics_ip;
	uint16_t metrics_port; /* bound port */
	struct ctl_conn conns[SL_CTL_MAX_CONN];
	/* Taps are made on first use and kept until sl_control_stop (see edge/tap.h). */
	struct sl_tap *taps[CTL_MAX_TAPS];
	bool tap_busy[CTL_MAX_TAPS];
	uint32_t tap_node[CTL_MAX_TAPS];
	struct sl_reload *reload; /* swap and reload (reload.h) */
	/* heartbeat (metrics.c): per stage replica slot, the call sequence last seen and
	 * since when; control thread only */
	uint64_t heartbeat_ns;
	int tick_ms;	   /* the control thread's sampling period: <= heartbeat / 2 */
	uint32_t *hb_base; /* node -> first slot */
	uint64_t *hb_seq, *hb_since;
	uint32_t hb_n;
};

uint64_t sl_control_now_ns(void);
/* Heartbeat slots for every stage replica (sl_control_start). 0 or -ENOMEM. */
int sl_control_heartbeat_init(struct sl_control *c);
/* Take one progress sample (control thread). */
void sl_control_health_sample(struct sl_control *c, uint64_t now_ns);
/* 0 healthy, or 1 stalled, with a one-line reason. */
int sl_control_health(struct sl_control *c, char *why, size_t len);
int sl_control_metrics_start(struct sl_control *c, uint32_t ip, uint16_t port);
void sl_control_metrics_stop(struct sl_control *c);
/* Point the telemetry commands at this control (registering them once), or away. */
void sl_control_telemetry_attach(struct sl_control *c);
void sl_control_telemetry_detach(struct sl_control *c);
/* "IP:PORT" of the metrics server; -ENOENT when there is none. */
int sl_control_metrics_addr(const struct sl_control *c, char *buf, size_t len);

#endif
