/*
 * bpf_filter (`isolation: bpf` of issue 8): a filter whose decision is an eBPF program the
 * operator compiled with `clang -O2 -ffreestanding -target bpf -c prog.c`. init (control
 * thread, when the pipeline loads) checks the file (a regular file, not a symlink), loads
 * it with DPDK's rte_bpf, whose verifier rejects loops, reads outside the context and
 * other unsafe code before anything runs, and JIT-compiles it (x86-64, arm64). process
 * (worker lcores, any replicas) fills one struct sl_bpf_ctx per event from the record's
 * integer `fields:` and runs the program; non-zero keeps the event (it is passed on
 * unchanged), zero drops it as filtered. No allocation or system call per event.
 * librte_bpf is opened by the first init, not linked: linked, it and the libpcap it pulls
 * in cost every run ~1.2 ms of start-up (docs/architecture.md "Start-up").
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <rte_bpf.h>
#include <rte_errno.h>

#include <sluice/stage.h>

#include "bpf_ctx.h"

struct bpf_filter_conf {
	struct rte_bpf *bpf;
	uint64_t (*jit)(void *ctx); /* NULL: interpret with rte_bpf_exec */
	uint32_t n_fields;
	struct sl_rec_key keys[SL_BPF_FIELDS_MAX];
	char *names[SL_BPF_FIELDS_MAX + 1];
};

enum { BPF_CTR_KEPT = 0, BPF_CTR_DROPPED };

#define BPF_LIB "librte_bpf.so.23"

static struct {
	__typeof__(&rte_bpf_elf_load) elf_load;
	__typeof__(&rte_bpf_get_jit) get_jit;
	__typeof__(&rte_bpf_exec) exec;
	__typeof__(&rte_bpf_destroy) destroy;
} bpf_lib;

/* Open librte_bpf once: init runs on the control thread only. 0, or -1 with err set. */
static int bpf_lib_open(struct sl_error *err)
{
	static void *handle;
	void *h;

	if (handle)
		return 0;
	h = dlopen(BPF_LIB, RTLD_NOW | RTLD_LOCAL);
	if (h) {
		bpf_lib.elf_load = (__typeof__(bpf_lib.elf_load))dlsym(h, "rte_bpf_elf_load");
		bpf_lib.get_jit = (__typeof__(bpf_lib.get_jit))dlsym(h, "rte_bpf_get_jit");
		bpf_lib.exec = (__typeof__(bpf_lib.exec))dlsym(h, "rte_bpf_exec");
		bpf_lib.destroy = (__typeof__(bpf_lib.destroy))dlsym(h, "rte_bpf_destroy");
	}
	if (!h || !bpf_lib.elf_load || !bpf_lib.get_jit || !bpf_lib.exec || !bpf_lib.destroy) {
		const char *why = dlerror();

		snprintf(err->msg, sizeof(err->msg), "cannot load %s: %s", BPF_LIB,
			 why ? why : "a symbol is missing");
		if (h)
			dlclose(h);
		return -1;
	}
	handle = h;
	return 0;
}
static const char *const bpf_filter_counters[] = { "kept", "dropped", NULL };

static const struct sl_param_desc bpf_filter_params[] = {
	{ "program", SL_PARAM_STR, true, NULL,
	  "eBPF ELF object (clang -O2 -ffreestanding -target bpf -c prog.c)" },
	{ "section", SL_PARAM_STR, false, ".text", "ELF section holding the program" },
	{ "fields", SL_PARAM_LIST, false, NULL,
	  "record fields (integers) the program reads as v[0..7] (stages/bpf_filter/bpf_ctx.h)" },
	{ "jit", SL_PARAM_BOOL, false, "true", "run JIT-compiled code (false: the interpreter)" },
	{ NULL },
};

static void bpf_filter_fini(void *conf)
{
	struct bpf_filter_conf *c = conf;

	if (!c)
		return;
	if (c->bpf)
		bpf_lib.destroy(c->bpf);
	for (uint32_t i = 0; i < c->n_fields; i++)
		free(c->names[i]);
	free(c);
}

static int bpf_filter_init(const struct sl_host *host, const struct sl_args *args, void **conf,
			   struct sl_error *err)
{
	const struct sl_arg *prog = sl_args_get(args, "program");
	const struct sl_arg *sec = sl_args_get(args, "section");
	const struct sl_arg *fields = sl_args_get(args, "fields");
	const struct sl_arg *jit = sl_args_get(args, "jit");
	struct rte_bpf_prm prm;
	struct rte_bpf_jit j;
	struct bpf_filter_conf *c;
	struct stat st;

	*conf = NULL;
	err->key = "program";
	/* Only a file the operator names: no symlink games, no devices or FIFOs. */
	if (lstat(prog->str, &st) < 0) {
		snprintf(err->msg, sizeof(err->msg), "%s: %s", prog->str, strerror(errno));
		return -errno;
	}
	if (S_ISLNK(st.st_mode) || !S_ISREG(st.st_mode)) {
		snprintf(err->msg, sizeof(err->msg), "%s: %s", prog->str,
			 S_ISLNK(st.st_mode) ? "is a symlink; give the file itself"
					     : "not a regular file");
		return -EINVAL;
	}
	if (fields && fields->n_list > SL_BPF_FIELDS_MAX) {
		err->key = "fields";
		snprintf(err->msg, sizeof(err->msg), "at most %d fields, not %u", SL_BPF_FIELDS_MAX,
			 fields->n_list);
		return -EINVAL;
	}
	if (bpf_lib_open(err) < 0)
		return -ENOENT;
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return -ENOMEM;
	}
	for (uint32_t i = 0; fields && i < fields->n_list; i++) {
		c->names[i] = strdup(fields->list[i]);
		if (!c->names[i]) {
			bpf_filter_fini(c);
			snprintf(err->msg, sizeof(err->msg), "out of memory");
			return -ENOMEM;
		}
		c->n_fields++;
		sl_rec_key_init(&c->keys[i], c->names[i], strlen(c->names[i]));
	}
	memset(&prm, 0, sizeof(prm));
	prm.prog_arg.type = RTE_BPF_ARG_PTR;
	prm.prog_arg.size = sizeof(struct sl_bpf_ctx);
	rte_errno = 0;
	c->bpf = bpf_lib.elf_load(&prm, prog->str, sec && sec->str ? sec->str : ".text");
	if (!c->bpf) {
		int e = rte_errno ? rte_errno : EINVAL;

		snprintf(err->msg, sizeof(err->msg), "%s (section %s) rejected at load: %s%s",
			 prog->str, sec && sec->str ? sec->str : ".text", strerror(e),
			 e == EINVAL ? " (the verifier's reason, such as a loop or an access "
				       "outside the context, is in the log line above)"
				     : "");
		bpf_filter_fini(c);
		return -e;
	}
	if ((!jit || jit->b) && bpf_lib.get_jit(c->bpf, &j) == 0 && j.func)
		c->jit = j.func;
	*conf = c;
	err->key = NULL;
	return 0;
}

static const char *const *bpf_filter_reads(const void *conf)
{
	const struct bpf_filter_conf *c = conf;

	return (const char *const *)c->names;
}

static void bpf_filter_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
			       struct sl_emit *out)
{
	const struct bpf_filter_conf *c = conf;
	uint64_t *cnt = ctx->counters;

	for (uint16_t i = 0; i < in->n; i++) {
		struct rte_mbuf *ev = in->ev[i];
		struct sl_rec rec = sl_event_record(ctx, ev);
		struct sl_bpf_ctx b;
		uint64_t keep;

		memset(&b, 0, sizeof(b));
		b.raw_len = sl_ctx_meta(ctx, ev)->raw_len;
		for (uint32_t f = 0; f < c->n_fields; f++) {
			struct sl_val v;

			if (!sl_rec_get(rec, &c->keys[f], &v))
				continue;
			if (v.type == SL_VAL_INT) {
				b.v[f] = v.i;
				b.present |= 1ull << f;
			} else if (v.type == SL_VAL_UINT) {
				b.v[f] = (int64_t)v.u;
				b.present |= 1ull << f;
			}
		}
		keep = c->jit ? c->jit(&b) : bpf_lib.exec(c->bpf, &b);
		if (keep) {
			cnt[BPF_CTR_KEPT]++;
			sl_emit(out, 0, ev);
		} else {
			cnt[BPF_CTR_DROPPED]++;
			sl_drop(out, ev, SL_DROP_FILTERED);
		}
	}
}

const struct sl_stage_desc sl_stage_bpf_filter = {
	SL_STAGE_DESC_INIT,
	.name = "bpf_filter",
	.version = "1.0.0",
	.summary = "keep events an eBPF program (verified, JIT) says yes to",
	.params = bpf_filter_params,
	.counters = bpf_filter_counters,
	.flags = SL_STAGE_F_FORWARDS,
	.init = bpf_filter_init,
	.process = bpf_filter_process,
	.fini = bpf_filter_fini,
	.reads = bpf_filter_reads,
};
