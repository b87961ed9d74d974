/*
 * Sandboxed stages (`isolation: process`, docs/resilience.md). The pipeline file turns a
 * stage that asks for process isolation into a built-in proxy stage: sl_sandbox_wrap
 * replaces the node's descriptor and configuration (config.c calls it right after the
 * stage's init). The proxy's process, on the worker, copies the burst's bytes and metadata
 * into a shared memory region, wakes the sandbox child that runs the real stage, waits for
 * its results with a deadline and builds the output events in the runtime's own mempool;
 * the child never sees a DPDK mempool or hugepage. A crash, a hang past the budget or
 * results that do not add up cost the child a restart, the events the stage failed on go
 * out of the `failed` output (the DLQ) with a reason, and a circuit breaker routes the
 * stage's input by policy after too many failures. The runtime itself is untouched.
 *
 * Children are forked by a zygote process that sluice forks at load time, before the EAL
 * starts (so it holds no hugepage, port or thread of the data plane), from the loaded
 * plugin with its configuration already made by init.
 */
#ifndef SL_RESILIENCE_SANDBOX_H
#define SL_RESILIENCE_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sl_config_node;

/* Most replicas of a sandboxed stage (each has its own child and shared region). */
#define SL_SANDBOX_MAX_REPLICAS 4

/* True when key is one of the isolation keys a stage takes besides its kind's
 * parameters (isolation, budget, memory, cpu, breaker_*). */
bool sl_sandbox_is_key(const char *key);

/* The isolation keys, comma-separated, for "valid keys" messages. */
const char *sl_sandbox_key_list(void);

/* True when [p, end) is exactly one msgpack map (nested values of any kind, each length
 * inside the buffer); how the proxy checks a record a sandbox child returns. Reads
 * nothing outside [p, end). Fuzzed by sandbox_msgpack_fuzz.c. */
bool sl_sandbox_msgpack_valid(const uint8_t *p, const uint8_t *end);

/* Bytes of memory sl_sandbox_check needs per stage (zeroed; owned by the caller and kept
 * as long as the node). */
size_t sl_sandbox_conf_size(void);

/*
 * Check node's isolation keys (node->iso) against its kind. For `isolation: process`,
 * also add the `failed` output (unless the kind has one) to node->output_names and keep
 * mem in node->sandbox for sl_sandbox_wrap. Before inputs are resolved. Returns 0, or
 * -EINVAL with a message in msg and *bad the index in node->iso of the key at fault (-1:
 * the stage as a whole). Control thread.
 */
int sl_sandbox_check(struct sl_config_node *node, void *mem, char *msg, size_t len, int *bad);

/*
 * After the stage's init: replace node->stage by the proxy and *conf (the init's result,
 * owned by the proxy from then on; NULL when it was not kept) by the proxy's. spawn: start
 * the zygote now (sluice run: it must be before the EAL). No-op for a node that
 * sl_sandbox_check did not make a sandbox. Returns 0 or -EINVAL as sl_sandbox_check.
 */
int sl_sandbox_wrap(struct sl_config_node *node, void **conf, bool spawn, char *msg, size_t len,
		    int *bad);

/*
 * Around a stage's init at load time (config.c): an in-process stage with `memory:` runs
 * its init on its own jemalloc arena, as its process and fini (memcap.h). No-op for any
 * other node. Control thread.
 */
void sl_sandbox_init_enter(const struct sl_config_node *node);
void sl_sandbox_init_leave(const struct sl_config_node *node);

#endif
