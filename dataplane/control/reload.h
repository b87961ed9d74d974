/*
 * Live changes to a running pipeline (docs/control.md, "Reload and swap"): `sluice swap
 * STAGE PLUGIN.so` replaces one plugin stage's implementation, `sluice reload [FILE]`
 * applies a changed pipeline file. Both are checked in full first and change nothing when a
 * check fails (the reason is returned); then each changed stage switches at its replicas'
 * next burst (sl_pipeline_stage_replace) and the previous implementation is finalised and
 * unloaded once no replica can still be inside it.
 *
 * Ownership: a stage's running implementation (descriptor and conf) comes from the
 * start-up config, from a reloaded config, or from a swap. Reloaded configs and swapped
 * plugins are kept (with the registry holding their plugins) while any node runs code or
 * reads arguments from them, and released when the last one moves on, so alternating
 * reloads do not grow. Control thread only.
 */
#ifndef SL_CONTROL_RELOAD_H
#define SL_CONTROL_RELOAD_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "graph/pipeline.h"

struct sl_reload;
struct sl_host;

struct sl_reload_opts {
	const char *file;	   /* the running pipeline file; NULL: the built-in default */
	uint32_t default_replicas; /* `sluice run --replicas N`, as at start */
	const struct sl_host *host;
};

/* The pipeline and its start-up config must outlive the result. A stage replaced by a swap
 * or reload has its start-up conf finished then and set to NULL in cfg (a sandboxed
 * stage's zygote and children go with it), unless its state ops still use it at exit.
 * 0 or -ENOMEM. */
int sl_reload_create(struct sl_pipeline *p, struct sl_config *cfg, const struct sl_reload_opts *o,
		     struct sl_reload **out);
/* After the workers have stopped: finalise and unload everything swapped or reloaded in. */
void sl_reload_destroy(struct sl_reload *rl);

/* Replace stage `node` with the stage of the same name from the plugin at `path`. 0 with a
 * summary in msg, or -errno with the reason in msg (nothing changed). */
int sl_reload_swap(struct sl_reload *rl, const char *node, const char *path, char *msg, size_t len);
/* Apply the pipeline file at `path` (NULL: the running file again). 0 with a summary in
 * msg, or -errno with the reason (the loader's diagnostics, or why the change needs a
 * restart) in msg (nothing changed). */
int sl_reload_apply(struct sl_reload *rl, const char *path, char *msg, size_t len);

#endif
