/*
 * Sluice's commands in DPDK telemetry (docs/control.md), so `dpdk-telemetry.py` shows the
 * stages next to the ethdev stats: /sluice/info, /sluice/nodes, /sluice/stats,NODE and
 * /sluice/edges (every edge with the depth and capacity of the ring it feeds, as
 * FROM/TO/queued and FROM/TO/ring_capacity: telemetry dicts nest arrays, not dicts; a
 * suffix keeps apart edges whose names differ only where telemetry keys cannot).
 * Registered once per process by sl_control_start; the callbacks run on DPDK's telemetry
 * thread and read the live counters of the control's pipeline under tel_lock, which
 * sl_control_stop takes to detach it (registrations cannot be undone, so afterwards the
 * commands answer with an error). The telemetry socket exists only when the EAL runs with
 * --telemetry (eal.c passes --no-telemetry unless the user gives either option).
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include <rte_telemetry.h>

#include "base/log.h"
#include "control_internal.h"

static pthread_mutex_t tel_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sl_control *tel_ctl; /* guarded by tel_lock */
static bool tel_registered;

static int tel_info(struct sl_control *c, const char *params, struct rte_tel_data *d)
{
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "sluice", c->version);
	rte_tel_data_add_dict_string(
		d, "state", __atomic_load_n(&c->ended, __ATOMIC_ACQUIRE) ? "ended" : "running");
	rte_tel_data_add_dict_int(d, "pid", (int)getpid());
	rte_tel_data_add_dict_string(d, "socket", c->path);
	rte_tel_data_add_dict_u64(d, "nodes", sl_pipeline_n_nodes(c->p));
	return 0;
}

static int tel_nodes(struct sl_control *c, const char *params, struct rte_tel_data *d)
{
	rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
	for (uint32_t i = 0; i < sl_pipeline_n_nodes(c->p); i++) {
		struct sl_node_stats s;

		sl_pipeline_node_stats(c->p, i, &s);
		rte_tel_data_add_array_string(d, s.name);
	}
	return 0;
}

/* A node's counters; nothing (an error reply) for an unknown node. */
static int tel_stats(struct sl_control *c, const char *params, struct rte_tel_data *d)
{
	for (uint32_t i = 0; i < sl_pipeline_n_nodes(c->p); i++) {
		struct sl_node_stats s;
		char key[64];

		sl_pipeline_node_stats(c->p, i, &s);
		if (!params || strcmp(params, s.name) != 0)
			continue;
		rte_tel_data_start_dict(d);
		rte_tel_data_add_dict_string(d, "role", s.role);
		rte_tel_data_add_dict_string(d, "kind", s.kind);
		rte_tel_data_add_dict_u64(d, "replicas", s.replicas);
		rte_tel_data_add_dict_u64(d, "in", s.in);
		rte_tel_data_add_dict_u64(d, "out", s.out);
		rte_tel_data_add_dict_u64(d, "generated", s.generated);
		rte_tel_data_add_dict_u64(d, "in_flight", s.in_flight);
		rte_tel_data_add_dict_u64(d, "pending", s.pending);
		rte_tel_data_add_dict_u64(d, "queued", s.queued);
		rte_tel_data_add_dict_u64(d, "ring_capacity", s.ring_capacity);
		rte_tel_data_add_dict_u64(d, "busy_cycles", s.busy_cycles);
		rte_tel_data_add_dict_u64(d, "calls", s.calls);
		for (int r = 0; r < SL_DROP_REASON_MAX; r++) {
			snprintf(key, sizeof(key), "dropped_%s", sl_drop_reason_name(r));
			rte_tel_data_add_dict_u64(d, key, s.drop[r]);
		}
		return 0;
	}
	return -EINVAL;
}

/* Edges /sluice/edges can list: each is two dict entries. */
#define TEL_EDGES (RTE_TEL_MAX_DICT_ENTRIES / 2)
/* An edge's key without "/ring_capacity", suffix included. */
#define TEL_EDGE_LEN (RTE_TEL_MAX_STRING_LEN - sizeof("/ring_capacity") + 1)

static bool tel_edge_taken(char (*edge)[TEL_EDGE_LEN], uint32_t n, const char *key)
{
	for (uint32_t i = 0; i < n; i++)
		if (strcmp(edge[i], key) == 0)
			return true;
	return false;
}

/*
 * The key of edge n, FROM[/OUTPUT]/TO, in edge[n]. Telemetry keys allow only letters,
 * digits, '_' and '/', so '-' in a name becomes '_' ('.' before an output: '/') and the
 * names are cut to fit; when that makes the key of an earlier edge (a-b and a_b), this one
 * gets the first free suffix _2, _3, ... so every key is unique and stays so between calls.
 */
static void tel_edge_key(char (*edge)[TEL_EDGE_LEN], uint32_t n, const char *from, const char *to)
{
	char *key = edge[n];
	size_t len;

	/* Room for a suffix up to _TEL_EDGES. */
	snprintf(key, TEL_EDGE_LEN - 5, "%s/%s", from, to);
	for (char *p = key; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '/'))
			*p = *p == '.' ? '/' : '_';
	len = strlen(key);
	for (uint32_t k = 2; tel_edge_taken(edge, n, key); k++)
		snprintf(key + len, TEL_EDGE_LEN - len, "_%u", k);
}

/* Every edge "from[.output] -> to" as FROM[/OUTPUT]/TO/queued and .../ring_capacity: the
 * depth and size of the consumer's input ring(s), which all its inputs share. */
static int tel_edges(struct sl_control *c, const char *params, struct rte_tel_data *d)
{
	char edge[TEL_EDGES][TEL_EDGE_LEN], key[RTE_TEL_MAX_STRING_LEN];
	uint32_t n = 0;

	rte_tel_data_start_dict(d);
	for (uint32_t i = 0; i < sl_pipeline_n_nodes(c->p) && i < c->cfg->n_nodes; i++) {
		const struct sl_config_node *cn = &c->cfg->nodes[i];
		struct sl_node_stats s;

		if (cn->n_inputs == 0)
			continue;
		sl_pipeline_node_stats(c->p, i, &s);
		for (uint32_t k = 0; k < cn->n_inputs && n < TEL_EDGES; k++, n++) {
			tel_edge_key(edge, n, cn->inputs[k].text, cn->name);
			snprintf(key, sizeof(key), "%s/queued", edge[n]);
			rte_tel_data_add_dict_u64(d, key, s.queued);
			snprintf(key, sizeof(key), "%s/ring_capacity", edge[n]);
			rte_tel_data_add_dict_u64(d, key, s.ring_capacity);
		}
	}
	return 0;
}

/* Run one command against the attached control; -ENODEV when none is (after the run).
 * A negative return makes DPDK answer null. */
static int tel_run(int (*fn)(struct sl_control *, const char *, struct rte_tel_data *),
		   const char *params, struct rte_tel_data *d)
{
	int rc;

	pthread_mutex_lock(&tel_lock);
	rc = tel_ctl ? fn(tel_ctl, params, d) : -ENODEV;
	pthread_mutex_unlock(&tel_lock);
	return rc;
}

static int tel_cb_info(const char *cmd, const char *params, struct rte_tel_data *d)
{
	return tel_run(tel_info, params, d);
}

static int tel_cb_nodes(const char *cmd, const char *params, struct rte_tel_data *d)
{
	return tel_run(tel_nodes, params, d);
}

static int tel_cb_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	return tel_run(tel_stats, params, d);
}

static int tel_cb_edges(const char *cmd, const char *params, struct rte_tel_data *d)
{
	return tel_run(tel_edges, params, d);
}

void sl_control_telemetry_attach(struct sl_control *c)
{
	pthread_mutex_lock(&tel_lock);
	tel_ctl = c;
	if (!tel_registered) {
		tel_registered = true;
		if (rte_telemetry_register_cmd("/sluice/info", tel_cb_info,
					       "Sluice version, state, pid, control socket. "
					       "No parameters") < 0 ||
		    rte_telemetry_register_cmd("/sluice/nodes", tel_cb_nodes,
					       "Names of the pipeline's nodes. No parameters") <
			    0 ||
		    rte_telemetry_register_cmd("/sluice/stats", tel_cb_stats,
					       "Counters of one node. Parameter: node name") < 0 ||
		    rte_telemetry_register_cmd("/sluice/edges", tel_cb_edges,
					       "Edges with their ring depth and capacity. No "
					       "parameters") < 0)
			SL_WARN("control", "cannot register the telemetry commands");
	}
	pthread_mutex_unlock(&tel_lock);
}

void sl_control_telemetry_detach(struct sl_control *c)
{
	pthread_mutex_lock(&tel_lock);
	if (tel_ctl == c)
		tel_ctl = NULL;
	pthread_mutex_unlock(&tel_lock);
}
