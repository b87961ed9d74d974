/*
 * The pipeline file, parsed and checked. sl_config_load turns YAML (libyaml, with line
 * and column of every node) into a struct sl_config: sources, stages and sinks with typed
 * parameters resolved against each kind's declaration, inputs resolved to node and output
 * port indexes, plugins loaded into the registry, and every stage's init run once (so
 * expression errors surface at load time). All problems go to a struct sl_diag with
 * file:line:column, in file order; a config with any diagnostic must not be run. Control
 * path only.
 *
 * Every declared parameter of a node is present in node->args: as written, else its
 * default (line 0), else, for an optional parameter with neither, str == NULL, i == 0,
 * b == false and an empty list. LIST items are NULL-terminated. The file reference is
 * docs/config.md.
 */
#ifndef SL_GRAPH_CONFIG_H
#define SL_GRAPH_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sluice/stage.h>

#include "../base/diag.h"

struct sl_registry;
struct sl_source_ops;
struct sl_sink_ops;

/* Limits that keep any input cheap to reject (checked before the document is built). */
#define SL_CONFIG_MAX_DEPTH	 64	/**< nesting of YAML collections */
#define SL_CONFIG_MAX_YAML_NODES 100000 /**< scalars, sequences and mappings in the file */
#define SL_CONFIG_MAX_NODES	 1024	/**< sources + stages + sinks */
#define SL_CONFIG_NAME_MAX	 128 /**< bytes of a node name (what a control request carries) */
#define SL_CONFIG_MAX_INPUTS	 256 /**< entries of one node's `inputs:` */
#define SL_CONFIG_MAX_CONSUMERS	 16  /**< nodes reading one output (SL_EDGE_DEST_MAX) */
#define SL_CONFIG_MAX_FILE	 (16u << 20) /**< bytes of a pipeline file */
#define SL_CONFIG_SCALE_MAX	 64	     /**< `scale: max` of a stage */
/** Counters a stage node reports: the stage's own (at most SL_COUNTER_MAX, the ABI's limit)
 *  plus those its isolation wrapper adds (sandbox.c: ten for `isolation: process`, one each
 *  for an in-process `budget` and `memory`). */
#define SL_NODE_COUNTER_MAX (SL_COUNTER_MAX + 16)

enum sl_node_role {
	SL_NODE_SOURCE = 0,
	SL_NODE_STAGE,
	SL_NODE_SINK,
};

/** What a producer does when a consumer's input ring is full. */
enum sl_edge_policy {
	SL_EDGE_BLOCK = 0,   /**< wait: backpressure reaches the source */
	SL_EDGE_DROP_NEWEST, /**< drop what does not fit, counted as ring_full */
};

/** One entry of `inputs: [...]`: "node" or "node.output". */
struct sl_config_input {
	char *text;    /**< as written */
	uint32_t node; /**< index into sl_config.nodes */
	uint16_t port; /**< output port of that node (0 = default) */
	uint32_t line, column;
};

struct sl_config_node {
	enum sl_node_role role;
	char *name;
	char *kind; /**< `type:` of sources and sinks, `use:` of stages */
	uint32_t line, column;
	struct sl_config_input *inputs;
	uint32_t n_inputs;
	uint32_t replicas;  /**< stages, splittable sources, sinks with lanes (sink.h):
				  `replicas: N` (default 1, or opts.default_replicas) */
	bool replicas_set;  /**< `replicas:` was written in the file */
	uint32_t ring_size; /**< `ring_size:` of this node's input ring (default 1024, pow2) */
	enum sl_edge_policy when_full; /**< `when_full: block | drop_newest` on its inputs */
	struct sl_args args;	       /**< declared parameters, typed, defaults filled in */
	/* Exactly one of these is set, by role. */
	const struct sl_stage_desc *stage;
	const struct sl_source_ops *source;
	const struct sl_sink_ops *sink;
	void *stage_conf; /**< result of stage init, kept when opts.keep_stage_conf */
	/** Stages: `isolation:` and its keys as written (resilience/sandbox.h checks them) */
	struct sl_config_iso {
		const char *key, *val;
		uint32_t line, column;
	} iso[8];
	uint32_t n_iso;
	void *sandbox;	    /**< resilience/sandbox.c's state of an `isolation: process` stage */
	uint16_t n_outputs; /**< sources 1, sinks 0, stages per descriptor */
	char **output_names;

	/* `scale: {min, max}` given (docs/scaling.md): autoscaled, and replicas = max */
	bool scale_set;
	uint32_t scale_min, scale_max, scale_line, scale_col;
	/* `ordered_by: FIELD` (docs/scaling.md): per-key order across replicas; NULL none */
	char *ordered_by;
};

/** The top-level `control:` block (docs/control.md); every key optional. */
struct sl_config_control {
	char *socket;		 /**< `socket: PATH`; NULL: the default path */
	bool metrics;		 /**< `metrics: "[ADDR:]PORT"` was given */
	uint32_t metrics_ip;	 /**< IPv4, network order; 127.0.0.1 unless written */
	uint16_t metrics_port;	 /**< 0: any free port */
	uint32_t stall_after_ms; /**< `stall_after:` for /health (default 5 s) */
	uint32_t linger_ms;	 /**< `linger:` serve control and metrics this long after the end */
	uint32_t heartbeat_ms;	 /**< `heartbeat:` a stage call this long is a stall (1 s) */
	uint32_t line;		 /**< of the `control:` key, 0 when absent */
};

#define SL_CONFIG_STALL_AFTER_MS 5000u
#define SL_CONFIG_HEARTBEAT_MS	 1000u

struct sl_config {
	char *file;
	struct sl_config_node *nodes; /**< sources, then stages, then sinks, in file order */
	uint32_t n_nodes;
	char **plugins; /**< `plugins: [PATH, ...]` as written */
	uint32_t n_plugins;
	struct sl_config_control control;
	char *user, *group; /**< `user:` / `group:` to run as after start-up, or NULL */
	char *ledger;	    /**< `ledger: PATH`: the usage ledger to append, or NULL */
	uint32_t cores;	    /**< `cores: N`: most replicas of autoscaled stages at once; 0 none */
	uint32_t cores_line;
	bool no_fuse; /**< `fuse: false`: no edge is fused (graph/fuse.h) */
	uint32_t user_line, user_column, group_line, group_column;
	void *priv; /**< loader-owned memory (strings, arrays) */
};

struct sl_config_opts {
	struct sl_registry *registry; /**< built-ins plus plugins loaded by this file */
	bool load_plugins;	      /**< false: `plugins:` only checked for form (fuzzing) */
	bool keep_stage_conf;	      /**< keep each stage's conf for running, else fini it */
	uint32_t default_replicas;    /**< replicas of stages, splittable sources and sinks with
				       *  lanes that do not say (`sluice run --replicas N`); 0
				       *  means 1 */
	const struct sl_host *host;   /**< passed to stage init */
	/** More stage kinds, NULL-terminated, looked up after the registry's (tests and
	 *  embedders that bring their own descriptors); may be NULL. */
	const struct sl_stage_desc *const *stages;
};

/** Load and check a pipeline from a file. Returns 0, or -EINVAL with diagnostics in d. */
int sl_config_load_file(const char *path, const struct sl_config_opts *opts, struct sl_config **out,
			struct sl_diag *d);
/** Same from memory; name is used in messages. */
int sl_config_load_buffer(const char *name, const char *buf, size_t len,
			  const struct sl_config_opts *opts, struct sl_config **out,
			  struct sl_diag *d);
/** Free a config (runs stage fini for kept confs). */
void sl_config_destroy(struct sl_config *c);

/** Find a node by name; -1 when absent. */
int sl_config_find(const struct sl_config *c, const char *name);

#endif
