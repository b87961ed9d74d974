/*
 * Live swap and reload (see reload.h; docs/control.md, "Reload and swap").
 */
#include "reload.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/stage.h>

#include "base/diag.h"
#include "base/log.h"
#include "graph/projection.h"
#include "plugin/registry.h"

#define RELOAD_GRACE_MS 2000 /* the longest a replica may stay in one call during a switch */

/* Where a running implementation (and the arguments it was made from) lives. */
struct owner {
	uint32_t refs;		 /* nodes running it or reading its arguments, + children */
	struct sl_config *cfg;	 /* reload: the file as loaded (confs, arguments) */
	struct sl_registry *reg; /* the plugins it loaded */
	const struct sl_stage_desc *desc; /* swap: the stage and the conf made for it */
	void *conf;
	struct owner *parent; /* swap: owner of the arguments the conf was made from */
};

/* What node i runs now: NULL owner = the start-up config. */
struct node_cur {
	const struct sl_config_node *args; /* its `use:` and arguments */
	const struct sl_stage_desc *desc;
	struct owner *owner;
};

struct sl_reload {
	struct sl_pipeline *p;
	struct sl_config *cfg; /* start-up: node names, graph, projection in force */
	struct sl_reload_opts o;
	char *file;
	struct node_cur *cur;
	uint64_t *mask; /* fields each stage writes as the pipeline was built */
};

static int say(char *msg, size_t len, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int say(char *msg, size_t len, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, len, fmt, ap);
	va_end(ap);
	return rc;
}

static void owner_unref(struct owner *o)
{
	if (!o || --o->refs > 0)
		return;
	if (o->conf && o->desc->fini)
		o->desc->fini(o->conf);
	sl_config_destroy(o->cfg);
	sl_registry_destroy(o->reg);
	owner_unref(o->parent);
	free(o);
}

/* Stage i's implementation before a replacement is no longer called (the grace period
 * passed): let it go. What an owner holds goes with its last reference; the start-up
 * config's is finished now, not at exit (a sandboxed stage's zygote and children lived on
 * until then), unless state ops still use it (the pipeline destroys replica states with
 * the start-up conf). */
static void cur_release(struct sl_reload *rl, uint32_t i, struct owner *owner)
{
	struct sl_config_node *cn = &rl->cfg->nodes[i];

	if (owner) {
		owner_unref(owner);
		return;
	}
	if (!cn->stage || cn->stage->state)
		return;
	if (cn->stage_conf && cn->stage->fini)
		cn->stage->fini(cn->stage_conf);
	cn->stage_conf = NULL;
}

int sl_reload_create(struct sl_pipeline *p, struct sl_config *cfg, const struct sl_reload_opts *o,
		     struct sl_reload **out)
{
	struct sl_reload *rl = calloc(1, sizeof(*rl));

	if (!rl)
		return -ENOMEM;
	rl->p = p;
	rl->cfg = cfg;
	rl->o = *o;
	rl->file = o->file ? strdup(o->file) : NULL;
	rl->cur = calloc(cfg->n_nodes ? cfg->n_nodes : 1, sizeof(*rl->cur));
	rl->mask = calloc(cfg->n_nodes ? cfg->n_nodes : 1, sizeof(*rl->mask));
	if (!rl->cur || !rl->mask || (o->file && !rl->file)) {
		sl_reload_destroy(rl);
		return -ENOMEM;
	}
	rl->o.file = rl->file;
	for (uint32_t i = 0; i < cfg->n_nodes; i++) {
		rl->cur[i].args = &cfg->nodes[i];
		rl->cur[i].desc = cfg->nodes[i].stage;
		rl->mask[i] = sl_projection_mask(cfg, i);
	}
	*out = rl;
	return 0;
}

void sl_reload_destroy(struct sl_reload *rl)
{
	if (!rl)
		return;
	for (uint32_t i = 0; rl->cur && i < rl->cfg->n_nodes; i++)
		owner_unref(rl->cur[i].owner);
	free(rl->cur);
	free(rl->mask);
	free(rl->file);
	free(rl);
}

/* ---- checks ---- */

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool names_eq(const char *const *a, const char *const *b)
{
	for (; a && b && *a && *b; a++, b++)
		if (strcmp(*a, *b) != 0)
			return false;
	return (!a || !*a) && (!b || !*b);
}

static bool windowed(const struct sl_stage_desc *d)
{
	return d->state || (d->flags & SL_STAGE_F_WINDOWED);
}

/* Can `nd` run in place of `od` with the same outputs and counters (and, with params, the
 * same arguments)? */
static int desc_compat(const struct sl_stage_desc *od, const struct sl_stage_desc *nd, bool params,
		       char *why, size_t len)
{
	const struct sl_param_desc *a = od->params, *b = nd->params;

	for (; params && a && b && a->name && b->name; a++, b++)
		if (strcmp(a->name, b->name) != 0 || a->type != b->type ||
		    a->required != b->required)
			return say(why, len, -EINVAL,
				   "parameter '%s' of version %s differs from '%s' of %s "
				   "(parameters must match)",
				   b->name, nd->version, a->name, od->version);
	if (params && ((a && a->name) || (b && b->name)))
		return say(why, len, -EINVAL, "parameters differ in number (%s vs %s)", od->version,
			   nd->version);
	if (!names_eq(od->outputs, nd->outputs) || !str_eq(od->outputs_from, nd->outputs_from))
		return say(why, len, -EINVAL, "outputs differ");
	if (!names_eq(od->counters, nd->counters))
		return say(why, len, -EINVAL, "counters differ");
	if (!names_eq(od->writes, nd->writes))
		return say(why, len, -EINVAL, "written fields (writes) differ");
	if (windowed(od) || windowed(nd))
		return say(why, len, -ENOTSUP, "the stage keeps window state");
	return 0;
}

static bool arg_eq(const struct sl_arg *a, const struct sl_arg *b)
{
	if (strcmp(a->key, b->key) != 0 || a->type != b->type || !str_eq(a->str, b->str) ||
	    a->i != b->i || a->b != b->b || a->n_list != b->n_list)
		return false;
	for (uint32_t k = 0; k < a->n_list; k++)
		if (!str_eq(a->list[k], b->list[k]))
			return false;
	return true;
}

static bool args_eq(const struct sl_args *a, const struct sl_args *b)
{
	if (a->n != b->n)
		return false;
	for (uint32_t k = 0; k < a->n; k++)
		if (!arg_eq(&a->v[k], &b->v[k]))
			return false;
	return true;
}

/* How a stage runs, as opposed to what it computes: its isolation keys (sandbox, memory
 * cap, budget), autoscaling and per-key order are set up at start and stay. */
static bool placement_same(const struct sl_config_node *a, const struct sl_config_node *b)
{
	if (a->n_iso != b->n_iso || a->scale_set != b->scale_set ||
	    (a->scale_set && (a->scale_min != b->scale_min || a->scale_max != b->scale_max)) ||
	    !str_eq(a->ordered_by, b->ordered_by))
		return false;
	for (uint32_t k = 0; k < a->n_iso; k++)
		if (!str_eq(a->iso[k].key, b->iso[k].key) || !str_eq(a->iso[k].val, b->iso[k].val))
			return false;
	return true;
}

/* Everything but a stage's implementation and arguments must be as running. */
static int graph_same(const struct sl_reload *rl, const struct sl_config *nc, char *msg, size_t len)
{
	const struct sl_config *oc = rl->cfg;

	if (nc->n_nodes != oc->n_nodes)
		return say(msg, len, -ENOTSUP,
			   "%s has %u nodes, the running pipeline %u: reload cannot add or "
			   "remove nodes; restart to apply",
			   nc->file, nc->n_nodes, oc->n_nodes);
	for (uint32_t i = 0; i < oc->n_nodes; i++) {
		const struct sl_config_node *a = &oc->nodes[i], *b = &nc->nodes[i];
		const char *what = b->role == SL_NODE_SOURCE ? "source"
				   : b->role == SL_NODE_SINK ? "sink"
							     : "stage";

		if (strcmp(a->name, b->name) != 0 || a->role != b->role)
			return say(msg, len, -ENOTSUP,
				   "%s:%u: node '%s' is not the running pipeline's node %u "
				   "('%s'): reload cannot add, remove, rename or reorder nodes; "
				   "restart to apply",
				   nc->file, b->line, b->name, i + 1, a->name);
		if (a->n_inputs != b->n_inputs)
			goto inputs;
		for (uint32_t k = 0; k < a->n_inputs; k++)
			if (a->inputs[k].node != b->inputs[k].node ||
			    a->inputs[k].port != b->inputs[k].port)
				goto inputs;
		if (a->replicas != b->replicas || a->ring_size != b->ring_size ||
		    a->when_full != b->when_full)
			return say(msg, len, -ENOTSUP,
				   "%s:%u: %s '%s': replicas, ring_size or when_full changed; "
				   "restart to apply",
				   nc->file, b->line, what, b->name);
		if (a->role != SL_NODE_STAGE &&
		    (strcmp(a->kind, b->kind) != 0 || !args_eq(&a->args, &b->args)))
			return say(msg, len, -ENOTSUP,
				   "%s:%u: %s '%s' changed: reload applies changes to stages "
				   "only; restart to apply",
				   nc->file, b->line, what, b->name);
		if (a->role == SL_NODE_STAGE && !placement_same(a, b))
			return say(msg, len, -ENOTSUP,
				   "%s:%u: stage '%s': isolation, scale or ordered_by changed; "
				   "restart to apply",
				   nc->file, b->line, b->name);
		if (a->role == SL_NODE_STAGE) {
			if (a->n_outputs != b->n_outputs)
				goto outputs;
			for (uint32_t k = 0; k < a->n_outputs; k++)
				if (strcmp(a->output_names[k], b->output_names[k]) != 0)
					goto outputs;
		}
		continue;
	inputs:
		return say(msg, len, -ENOTSUP, "%s:%u: %s '%s': inputs changed; restart to apply",
			   nc->file, b->line, what, b->name);
	outputs:
		return say(msg, len, -ENOTSUP,
			   "%s:%u: stage '%s': outputs changed; restart to apply", nc->file,
			   b->line, b->name);
	}
	if (!str_eq(nc->ledger, oc->ledger) || !str_eq(nc->user, oc->user) ||
	    !str_eq(nc->group, oc->group) || !str_eq(nc->control.socket, oc->control.socket) ||
	    nc->control.metrics != oc->control.metrics ||
	    nc->control.metrics_port != oc->control.metrics_port)
		return say(msg, len, -ENOTSUP,
			   "%s: ledger, user, group or control changed; restart to apply",
			   nc->file);
	return 0;
}

/* ---- swap ---- */

int sl_reload_swap(struct sl_reload *rl, const char *node, const char *path, char *msg, size_t len)
{
	const struct sl_stage_desc *nd = NULL, *d;
	struct sl_registry *reg = NULL;
	struct sl_error e = { 0 };
	struct node_cur *cur;
	struct owner *o;
	const char *origin;
	char why[512];
	void *conf = NULL;
	int i, rc;

	i = sl_config_find(rl->cfg, node);
	if (i < 0)
		return say(msg, len, -ENOENT, "no node named '%s'", node);
	cur = &rl->cur[i];
	if (rl->cfg->nodes[i].role != SL_NODE_STAGE)
		return say(msg, len, -EINVAL, "'%s' is not a stage; only stages can be swapped",
			   node);
	if (rl->cfg->nodes[i].n_iso)
		return say(
			msg, len, -ENOTSUP,
			"'%s' runs with isolation keys (isolation, memory, budget, ...), which a "
			"swap does not carry over: load the plugin from the pipeline file and "
			"reload instead",
			node);
	rc = sl_registry_create(&reg);
	if (rc < 0)
		return say(msg, len, rc, "cannot create a registry: %s", strerror(-rc));
	rc = sl_plugin_load(reg, path, why, sizeof(why));
	if (rc < 0) {
		say(msg, len, rc, "%s", why);
		goto fail;
	}
	for (uint32_t k = 0; (d = sl_registry_at(reg, k, &origin)); k++)
		if (strcmp(d->name, cur->args->kind) == 0 && strcmp(origin, "builtin") != 0)
			nd = d;
	if (!nd) {
		rc = say(msg, len, -ENOENT, "plugin %s does not export stage '%s' (what '%s' uses)",
			 path, cur->args->kind, node);
		goto fail;
	}
	rc = desc_compat(cur->desc, nd, true, why, sizeof(why));
	if (rc < 0) {
		say(msg, len, rc, "cannot swap '%s' (%s %s) for %s %s: %s", node, cur->desc->name,
		    cur->desc->version, path, nd->version, why);
		goto fail;
	}
	rc = nd->init(rl->o.host, &cur->args->args, &conf, &e);
	if (rc < 0) {
		say(msg, len, rc < 0 ? rc : -EINVAL, "%s: stage '%s' %s: init failed: %s%s%s", path,
		    node, nd->version, e.key ? e.key : "", e.key ? ": " : "", e.msg);
		goto fail;
	}
	o = calloc(1, sizeof(*o));
	rc = o ? sl_pipeline_stage_replace(rl->p, (uint32_t)i, nd, conf, RELOAD_GRACE_MS) : -ENOMEM;
	if (rc < 0 && rc != -ETIMEDOUT) {
		free(o);
		if (nd->fini)
			nd->fini(conf);
		say(msg, len, rc, "cannot swap '%s': %s", node, strerror(-rc));
		goto fail;
	}
	*o = (struct owner){
		.refs = 1, .reg = reg, .desc = nd, .conf = conf, .parent = cur->owner
	};
	if (cur->owner)
		cur->owner->refs++;
	snprintf(why, sizeof(why), "%s %s", cur->desc->name, cur->desc->version);
	if (rc == 0)
		cur_release(rl, (uint32_t)i, cur->owner);
	/* else: a replica may still run the old code; it stays loaded (logged). */
	cur->desc = nd;
	cur->owner = o;
	SL_NOTICE(node, "swapped: %s -> %s %s from %s", why, nd->name, nd->version, path);
	return say(msg, len, 0, "%s: %s -> %s %s (%s)", node, why, nd->name, nd->version, path);
fail:
	sl_registry_destroy(reg);
	return rc;
}

/* ---- reload ---- */

static int load_file(const struct sl_reload *rl, const char *file, struct sl_registry *reg,
		     struct sl_config **out, char *msg, size_t len)
{
	struct sl_config_opts opts = {
		.registry = reg,
		.load_plugins = true,
		.keep_stage_conf = true,
		.host = rl->o.host,
		.default_replicas = rl->o.default_replicas,
	};
	struct sl_diag d = { 0 };
	char *buf = NULL;
	size_t n = 0;
	FILE *f;
	int rc;

	rc = sl_config_load_file(file, &opts, out, &d);
	if (rc < 0) {
		f = open_memstream(&buf, &n);
		if (f) {
			sl_diag_print(&d, f);
			fclose(f);
		}
		while (n > 0 && buf[n - 1] == '\n')
			buf[--n] = '\0';
		if (n > 0)
			say(msg, len, rc, "%s", buf);
		else
			say(msg, len, rc, "%s: cannot load: %s", file, strerror(-rc));
		free(buf);
	}
	sl_diag_fini(&d);
	return rc;
}

int sl_reload_apply(struct sl_reload *rl, const char *path, char *msg, size_t len)
{
	const char *file = path ? path : rl->file;
	struct sl_registry *reg = NULL;
	struct sl_config *nc = NULL;
	struct owner *o;
	uint32_t n_changed = 0, n_done = 0;
	bool *changed = NULL;
	char why[512];
	int rc;

	if (!file)
		return say(msg, len, -EINVAL,
			   "the running pipeline is the built-in default: give a file to reload");
	rc = sl_registry_create(&reg);
	if (rc < 0)
		return say(msg, len, rc, "cannot create a registry: %s", strerror(-rc));
	rc = load_file(rl, file, reg, &nc, msg, len);
	if (rc < 0)
		goto fail;
	rc = graph_same(rl, nc, msg, len);
	if (rc < 0)
		goto fail;
	changed = calloc(nc->n_nodes, sizeof(*changed));
	if (!changed) {
		rc = say(msg, len, -ENOMEM, "out of memory");
		goto fail;
	}
	for (uint32_t i = 0; i < nc->n_nodes; i++) {
		const struct sl_config_node *b = &nc->nodes[i];
		const struct node_cur *cur = &rl->cur[i];
		uint64_t wider = sl_projection_mask(nc, i) & ~rl->mask[i];

		/* Another descriptor for the same kind: the file loads another plugin for it. */
		if (b->role == SL_NODE_STAGE &&
		    (strcmp(cur->args->kind, b->kind) != 0 || b->stage != cur->desc ||
		     !args_eq(&cur->args->args, &b->args))) {
			/* Its own arguments were checked by the loader against its kind. */
			rc = desc_compat(cur->desc, b->stage, false, why, sizeof(why));
			if (rc < 0) {
				rc = say(msg, len, rc,
					 "%s:%u: stage '%s' (%s): %s; restart to apply", nc->file,
					 b->line, b->name, b->kind, why);
				goto fail;
			}
			changed[i] = true;
			n_changed++;
		}
		if (wider) {
			const char *const *w = nc->nodes[i].stage->writes;
			uint32_t bit = (uint32_t)__builtin_ctzll(wider);

			rc = say(
				msg, len, -ENOTSUP,
				"%s: stage '%s' would have to write field '%s', which it skips "
				"in the running pipeline because nothing read it; restart to apply",
				nc->file, nc->nodes[i].name, w ? w[bit] : "?");
			goto fail;
		}
	}
	if (n_changed == 0) {
		say(msg, len, 0, "%s: no stage changed", file);
		goto fail; /* nothing to keep: release the loaded copy */
	}
	o = calloc(1, sizeof(*o));
	if (!o) {
		rc = say(msg, len, -ENOMEM, "out of memory");
		goto fail;
	}
	*o = (struct owner){ .refs = 1, .cfg = nc, .reg = reg };
	for (uint32_t i = 0; i < nc->n_nodes; i++) {
		struct node_cur *cur = &rl->cur[i];

		if (!changed[i])
			continue;
		rc = sl_pipeline_stage_replace(rl->p, i, nc->nodes[i].stage,
					       nc->nodes[i].stage_conf, RELOAD_GRACE_MS);
		if (rc < 0 && rc != -ETIMEDOUT)
			break;
		o->refs++;
		if (rc == 0)
			cur_release(rl, i, cur->owner);
		*cur = (struct node_cur){ .args = &nc->nodes[i],
					  .desc = nc->nodes[i].stage,
					  .owner = o };
		SL_NOTICE(nc->nodes[i].name, "reloaded: %s %s from %s", nc->nodes[i].kind,
			  nc->nodes[i].stage->version, file);
		n_done++;
		rc = 0;
	}
	free(changed);
	owner_unref(o);
	if (rc < 0)
		return say(msg, len, rc, "%s: applied %u of %u changed stages, then: %s", file,
			   n_done, n_changed, strerror(-rc));
	return say(msg, len, 0, "%s: %u stage(s) changed", file, n_done);
fail:
	free(changed);
	sl_config_destroy(nc);
	sl_registry_destroy(reg);
	return rc;
}
