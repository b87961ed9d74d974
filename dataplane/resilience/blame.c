/*
 * The fault handler behind blame.h. sl_blame_setup runs once on the control thread: it
 * copies what the handler will need into a table (each stage's name pointer, kind,
 * version, plugin path and the address range of the plugin's loaded code), opens the
 * blame file and installs the handler for SIGSEGV, SIGBUS, SIGFPE and SIGILL with
 * SA_ONSTACK (each thread that calls sl_blame_thread_init has an alternate stack),
 * SA_RESETHAND (a fault inside the handler kills at once) and SA_NODEFER (so the re-raise
 * is delivered immediately with the default action).
 *
 * The handler uses only async-signal-safe calls (write, fsync, sigaction, raise, getpid)
 * and formats into a static buffer by hand (no stdio, no malloc). The first faulting
 * thread writes the record; any other thread that faults meanwhile waits to be killed
 * with the process. It never returns into the faulting code.
 */
#include "blame.h"

#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "base/log.h"
#include "config/config.h"
#include "plugin/registry.h"

struct sl_blame_slot sl_blame_slots[RTE_MAX_LCORE];

struct blame_stage {
	const char *name; /* the config node's name: the pointer ctx->name holds */
	const char *use, *version, *plugin;
	uintptr_t lo, hi; /* the plugin's loaded code, or 0 */
};

static struct blame_stage *blame_stages;
static uint32_t n_blame_stages;
static int blame_fd = -1;
static char blame_file[4096];
static bool blame_default; /* the path was chosen by us, not the user */
static int blame_busy;
static char blame_buf[16384];
static char blame_reason[160]; /* why, when not a fault: invalid output (sl_blame_garbage) */

static const int blame_signals[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL };

/* ---- async-signal-safe formatting ---- */

struct bbuf {
	char *p;
	size_t len, cap;
};

static void b_put(struct bbuf *b, const char *s, size_t n)
{
	if (n > b->cap - b->len)
		n = b->cap - b->len;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void b_str(struct bbuf *b, const char *s)
{
	b_put(b, s, strlen(s));
}

static void b_u64(struct bbuf *b, uint64_t v)
{
	char t[24];
	int i = sizeof(t);

	do
		t[--i] = (char)('0' + v % 10);
	while ((v /= 10) && i > 0);
	b_put(b, t + i, sizeof(t) - (size_t)i);
}

static void b_hex(struct bbuf *b, uint64_t v)
{
	char t[18];
	int i = sizeof(t);

	do
		t[--i] = "0123456789abcdef"[v & 15];
	while ((v >>= 4) && i > 2);
	t[--i] = 'x';
	t[--i] = '0';
	b_put(b, t + i, sizeof(t) - (size_t)i);
}

/* A JSON string, or null. */
static void b_json(struct bbuf *b, const char *s)
{
	if (!s) {
		b_str(b, "null");
		return;
	}
	b_put(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			b_put(b, "\\", 1);
			b_put(b, (const char *)&c, 1);
		} else if (c < 0x20) {
			b_str(b, "\\u00");
			b_put(b, &"0123456789abcdef"[c >> 4], 1);
			b_put(b, &"0123456789abcdef"[c & 15], 1);
		} else {
			b_put(b, (const char *)&c, 1);
		}
	}
	b_put(b, "\"", 1);
}

static const char *sig_name(int sig)
{
	switch (sig) {
	case SIGSEGV:
		return "SIGSEGV";
	case SIGBUS:
		return "SIGBUS";
	case SIGFPE:
		return "SIGFPE";
	case SIGILL:
		return "SIGILL";
	case SIGABRT:
		return "SIGABRT";
	}
	return "signal";
}

static uintptr_t blame_pc(const void *uc)
{
	const ucontext_t *u = uc;

	if (!u)
		return 0;
#if defined(__x86_64__)
	return (uintptr_t)u->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
	return (uintptr_t)u->uc_mcontext.pc;
#else
	return 0;
#endif
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t r = write(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
		p += r;
		n -= (size_t)r;
	}
}

static void blame_handler(int sig, siginfo_t *si, void *uc)
{
	const struct blame_stage *st = NULL, *code = NULL;
	const struct sl_blame_slot *slot = NULL;
	const struct sl_ctx *ctx = NULL;
	const struct sl_burst *burst = NULL;
	unsigned lcore = rte_lcore_id();
	uintptr_t pc = blame_pc(uc);
	struct bbuf b = { blame_buf, 0, sizeof(blame_buf) };
	struct timespec ts;
	size_t json_start;
	int saved = errno;

	if (__atomic_exchange_n(&blame_busy, 1, __ATOMIC_ACQ_REL)) {
		/* Another thread is writing the record and will kill the process. */
		for (;;)
			pause();
	}
	if (lcore < RTE_MAX_LCORE) {
		slot = &sl_blame_slots[lcore];
		ctx = __atomic_load_n(&slot->ctx, __ATOMIC_RELAXED);
		__atomic_signal_fence(__ATOMIC_ACQUIRE);
		burst = ctx ? __atomic_load_n(&slot->burst, __ATOMIC_RELAXED) : NULL;
	}
	for (uint32_t i = 0; i < n_blame_stages; i++) {
		if (ctx && blame_stages[i].name == ctx->name)
			st = &blame_stages[i];
		if (blame_stages[i].hi && pc >= blame_stages[i].lo && pc < blame_stages[i].hi &&
		    !code)
			code = &blame_stages[i];
	}
	if (!st)
		st = code;

	/* The human line, for stderr. */
	b_str(&b, "sluice: FATAL ");
	b_str(&b, sig_name(sig));
	if (blame_reason[0]) {
		b_str(&b, " (");
		b_str(&b, blame_reason);
		b_str(&b, ")");
	}
	b_str(&b, " (fault address ");
	b_hex(&b, (uintptr_t)si->si_addr);
	b_str(&b, ", code ");
	b_hex(&b, pc);
	b_str(&b, ")");
	if (lcore < RTE_MAX_LCORE) {
		b_str(&b, " on lcore ");
		b_u64(&b, lcore);
	}
	if (st) {
		b_str(&b, " in stage '");
		b_str(&b, st->name);
		b_str(&b, "' (");
		b_str(&b, st->use);
		b_str(&b, " ");
		b_str(&b, st->version);
		if (st->plugin) {
			b_str(&b, ", plugin ");
			b_str(&b, st->plugin);
		}
		b_str(&b, ")");
	} else {
		b_str(&b, " outside any stage");
	}
	if (burst) {
		b_str(&b, "; burst of ");
		b_u64(&b, burst->n);
		b_str(&b, " event(s)");
	}
	if (blame_file[0]) {
		b_str(&b, "; blame record in ");
		b_str(&b, blame_file);
	}
	b_str(&b, "\n");
	write_all(STDERR_FILENO, b.p, b.len);

	/* The record, one JSON line, for the file (and the supervisor). */
	json_start = b.len;
	clock_gettime(CLOCK_REALTIME, &ts);
	b_str(&b, "{\"pid\":");
	b_u64(&b, (uint64_t)getpid());
	b_str(&b, ",\"time_ns\":");
	b_u64(&b, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
	b_str(&b, ",\"signal\":");
	b_u64(&b, (uint64_t)sig);
	b_str(&b, ",\"signame\":");
	b_json(&b, sig_name(sig));
	if (blame_reason[0]) {
		b_str(&b, ",\"reason\":");
		b_json(&b, blame_reason);
	}
	b_str(&b, ",\"si_code\":");
	b_u64(&b, (uint64_t)(unsigned)si->si_code);
	b_str(&b, ",\"fault_addr\":\"");
	b_hex(&b, (uintptr_t)si->si_addr);
	b_str(&b, "\",\"pc\":\"");
	b_hex(&b, pc);
	b_str(&b, "\",\"pc_in_plugin\":");
	b_json(&b, code ? code->plugin : NULL);
	b_str(&b, ",\"lcore\":");
	if (lcore < RTE_MAX_LCORE)
		b_u64(&b, lcore);
	else
		b_str(&b, "null");
	b_str(&b, ",\"stage\":");
	b_json(&b, st ? st->name : NULL);
	b_str(&b, ",\"use\":");
	b_json(&b, st ? st->use : NULL);
	b_str(&b, ",\"version\":");
	b_json(&b, st ? st->version : NULL);
	b_str(&b, ",\"plugin\":");
	b_json(&b, st ? st->plugin : NULL);
	b_str(&b, ",\"replica\":");
	if (ctx)
		b_u64(&b, ctx->replica);
	else
		b_str(&b, "null");
	b_str(&b, ",\"event_ids\":");
	if (burst && ctx) {
		/* The faulting event is one of these; the burst is runtime memory. */
		b_str(&b, "[");
		for (uint16_t i = 0; i < burst->n && i < SL_BURST_MAX; i++) {
			const struct sl_meta *m = sl_event_meta(ctx->meta_offset, burst->ev[i]);

			if (i)
				b_str(&b, ",");
			b_u64(&b, m->event_id);
		}
		b_str(&b, "]");
	} else {
		b_str(&b, "null");
	}
	b_str(&b, "}\n");
	if (blame_fd >= 0) {
		write_all(blame_fd, b.p + json_start, b.len - json_start);
		fsync(blame_fd);
	}
	write_all(STDERR_FILENO, b.p + json_start, b.len - json_start);

	/* SA_RESETHAND already restored the default; make sure, then die of the signal. */
	struct sigaction dfl;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigaction(sig, &dfl, NULL);
	errno = saved;
	raise(sig);
	/* Not reached for these signals with their default action. */
	_exit(128 + sig);
}

void sl_blame_garbage(const struct sl_ctx *ctx, const char *what, unsigned a, unsigned b)
{
	siginfo_t si;

	(void)ctx; /* the slot names the stage; ctx is for the caller's symmetry */
	snprintf(blame_reason, sizeof(blame_reason), what, a, b);
	memset(&si, 0, sizeof(si));
	si.si_signo = SIGABRT;
	si.si_code = SI_USER;
	blame_handler(SIGABRT, &si, NULL);
	_exit(128 + SIGABRT); /* the handler raised SIGABRT with its default action */
}

/* ---- set-up (control thread) ---- */

struct phdr_find {
	uintptr_t fn, lo, hi;
};

static int phdr_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct phdr_find *f = arg;
	uintptr_t lo = UINTPTR_MAX, hi = 0;

	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t a = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type != PT_LOAD)
			continue;
		if (a < lo)
			lo = a;
		if (a + ph->p_memsz > hi)
			hi = a + ph->p_memsz;
	}
	if (f->fn >= lo && f->fn < hi) {
		f->lo = lo;
		f->hi = hi;
		return 1;
	}
	return 0;
}

int sl_blame_default_path(char *buf, size_t len, long pid)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char dir[4000];
	int n;

	if (xdg && xdg[0] == '/')
		n = snprintf(dir, sizeof(dir), "%s/sluice", xdg);
	else if (geteuid() == 0)
		n = snprintf(dir, sizeof(dir), "/run/sluice");
	else
		n = snprintf(dir, sizeof(dir), "/tmp/sluice-%u", (unsigned)geteuid());
	if (n < 0 || (size_t)n >= sizeof(dir))
		return -ENAMETOOLONG;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	n = snprintf(buf, len, "%s/blame-%ld.json", dir, pid);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

void sl_blame_fini(void)
{
	struct stat st;

	if (blame_fd < 0)
		return;
	/* An empty blame file says nothing: do not leave one per clean run behind. */
	if (fstat(blame_fd, &st) == 0 && st.st_size == 0 && blame_default)
		unlink(blame_file);
	close(blame_fd);
	blame_fd = -1;
}

const char *sl_blame_path(void)
{
	return blame_file;
}

int sl_blame_thread_init(void *arg)
{
	stack_t ss, old;
	size_t size = 64 * 1024;

	if (sigaltstack(NULL, &old) == 0 && !(old.ss_flags & SS_DISABLE))
		return 0; /* this thread has one already */
	/* Never freed: the thread may fault until the process ends. */
	ss.ss_sp = malloc(size);
	if (!ss.ss_sp)
		return -ENOMEM;
	ss.ss_size = size;
	ss.ss_flags = 0;
	if (sigaltstack(&ss, NULL) < 0) {
		int rc = -errno;

		free(ss.ss_sp);
		return rc;
	}
	return 0;
}

static const char *blame_origin(const struct sl_registry *reg, const char *name)
{
	const char *origin;
	const struct sl_stage_desc *d;

	for (uint32_t k = 0; reg && (d = sl_registry_at(reg, k, &origin)); k++)
		if (strcmp(d->name, name) == 0)
			return strcmp(origin, "builtin") == 0 ? NULL : origin;
	return NULL;
}

int sl_blame_setup(const struct sl_config *cfg, const struct sl_registry *reg, const char *path)
{
	struct sigaction sa;
	int rc;

	free(blame_stages);
	n_blame_stages = 0;
	blame_stages = calloc(cfg->n_nodes ? cfg->n_nodes : 1, sizeof(*blame_stages));
	if (!blame_stages)
		return -ENOMEM;
	for (uint32_t i = 0; i < cfg->n_nodes; i++) {
		const struct sl_config_node *n = &cfg->nodes[i];
		struct blame_stage *b;

		if (n->role != SL_NODE_STAGE)
			continue;
		b = &blame_stages[n_blame_stages++];
		b->name = n->name;
		b->use = n->kind;
		b->version = n->stage->version;
		b->plugin = blame_origin(reg, n->stage->name);
		if (b->plugin) {
			struct phdr_find f = { (uintptr_t)n->stage->process, 0, 0 };

			dl_iterate_phdr(phdr_cb, &f);
			b->lo = f.lo;
			b->hi = f.hi;
		}
	}
	blame_default = !path;
	if (path) {
		if (snprintf(blame_file, sizeof(blame_file), "%s", path) >= (int)sizeof(blame_file))
			return -ENAMETOOLONG;
	} else {
		rc = sl_blame_default_path(blame_file, sizeof(blame_file), (long)getpid());
		if (rc < 0) {
			SL_ERR("blame", "no runtime directory for the blame file: %s",
			       strerror(-rc));
			blame_file[0] = '\0';
			return rc;
		}
	}
	if (blame_fd >= 0)
		close(blame_fd);
	blame_fd = open(blame_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (blame_fd < 0) {
		rc = -errno;
		SL_ERR("blame", "cannot open blame file %s: %s", blame_file, strerror(-rc));
		blame_file[0] = '\0';
		return rc;
	}
	rc = sl_blame_thread_init(NULL);
	if (rc < 0)
		SL_WARN("blame", "no alternate signal stack: %s", strerror(-rc));
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = blame_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(blame_signals) / sizeof(blame_signals[0]); i++)
		if (sigaction(blame_signals[i], &sa, NULL) < 0)
			return -errno;
	SL_INFO("blame", "fault blame records go to %s", blame_file);
	return 0;
}
