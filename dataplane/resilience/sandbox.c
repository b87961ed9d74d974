/*
 * Sandboxed stages: the proxy stage, its zygote and the sandbox children
 * (`isolation: process`, docs/resilience.md; the API is in sandbox.h).
 *
 * Who runs where:
 *   - sl_sandbox_wrap (control thread, at load, before the EAL) checks the keys, builds the
 *     proxy descriptor and, for a run, maps one shared region per replica (memfd) and forks
 *     the zygote;
 *   - the zygote (a process) forks a child per request on its pipe, reaps children and
 *     writes how each one died into its region;
 *   - a child munmaps the other regions, closes every file but stderr, drops privileges,
 *     sets rlimits and a seccomp allow-list, then serves requests from its region: it
 *     runs the real stage's process over mbuf headers of its own that point into the region;
 *   - proxy_process runs on a worker lcore: it owns the region's request side and acts as
 *     the watchdog (the wait for results has a deadline: the cycle budget).
 *
 * Memory ordering: the parent writes a request, then stores req_seq (release) and wakes the
 * futex; the child loads req_seq (acquire), works, writes its results, then stores resp_seq
 * (release) and bumps `wake`. The zygote stores dead_status then dead_gen (release). The
 * parent loads resp_seq / dead_gen with acquire before reading what they publish.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <grp.h>
#include <linux/futex.h>
#include <poll.h>
#include <pwd.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_pause.h>

#include <sluice/stage.h>

#include "../base/log.h"
#include "../config/config.h"
#include "../event/event.h"
#include "memcap.h"
#include "sandbox.h"
#include "sandbox_shm.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SB_HAS_ASAN 1
#endif
#endif
#ifndef SB_HAS_ASAN
#define SB_HAS_ASAN 0
#endif

#define SB_SPIN_NS	 50000ull      /* parent spins this long before it sleeps on the futex */
#define SB_START_NS	 2000000000ull /* a child that is not ready after this failed to start */
#define SB_REAP_NS	 1000000000ull /* wait for the zygote's death report after a kill */
#define SB_FAILED_MAX	 8	       /* failure times kept for the breaker (K at most this) */
#define SB_RES_PER_EVENT SL_PORT_MAX   /* results of one event (one per output it is shared to) */

_Static_assert(SB_DATA_ROOM == SL_EVENT_DATA_ROOM, "a sandbox slot holds the biggest event");

enum sb_policy {
	SB_POLICY_DLQ = 0,
	SB_POLICY_SKIP,
	SB_POLICY_PASS,
};

enum sb_fail {
	SB_OK = 0,
	SB_CRASH,
	SB_TIMEOUT,
	SB_GARBAGE,
};

static const char *const sb_fail_reason[] = {
	[SB_OK] = "ok",
	[SB_CRASH] = "stage_crash",
	[SB_TIMEOUT] = "stage_timeout",
	[SB_GARBAGE] = "stage_garbage",
};

/* The proxy's counters, after the stage's own. */
static const char *const sb_counter_names[] = {
	"sandbox_crashes",
	"sandbox_timeouts",
	"sandbox_garbage",
	"sandbox_restarts",
	"restart_us_last",
	"restart_us_max",
	"budget_exceeded",
	"breaker_opens",
	"breaker_routed",
	"sandbox_failed",
	NULL,
};
enum {
	SBC_CRASHES = 0,
	SBC_TIMEOUTS,
	SBC_GARBAGE,
	SBC_RESTARTS,
	SBC_RESTART_US_LAST,
	SBC_RESTART_US_MAX,
	SBC_BUDGET,
	SBC_BREAKER_OPENS,
	SBC_BREAKER_ROUTED,
	SBC_FAILED,
	SBC_N,
};

/* A node reports the stage's counters and the wrapper's: room for both, always. */
_Static_assert(SL_COUNTER_MAX + SBC_N <= SL_NODE_COUNTER_MAX &&
		       SL_COUNTER_MAX + 2 <= SL_NODE_COUNTER_MAX,
	       "SL_NODE_COUNTER_MAX holds a stage's counters and the sandbox's or budget + memory");

/* Per replica, parent side: written by the replica's lcore only. */
struct sb_replica {
	struct sb_shm *shm;
	uint32_t seq, gen;
	bool up; /* a child of generation gen serves requests */
	uint64_t fail_ns[SB_FAILED_MAX];
	uint32_t n_fail, fail_head;
	bool open; /* breaker open: input routed by policy until probe_at */
	uint64_t probe_at_ns;
};

struct sb_conf {
	const struct sl_stage_desc *inner;
	void *inner_conf;
	struct sl_stage_desc desc; /* the proxy, named and versioned as the stage */
	const char *counters[SL_NODE_COUNTER_MAX + 1];
	const char *outputs[SL_PORT_MAX + 1];
	uint16_t n_inner_counters, n_ports, failed_port;
	uint16_t n_replicas;
	bool in_process; /* isolation: none with a budget or memory: inproc_process */
	/* in process: which keys were given, and the counters they add after the stage's */
	bool budget_set;
	uint16_t ctr_budget, ctr_memory;
	struct sl_memcap *memcap; /* `memory:` in process: the stage's arena (memcap.c) */
	int memcap_warned;
	/* keys */
	uint64_t budget_ns, memory_bytes, cpu_s;
	uint32_t breaker_failures;
	uint64_t breaker_window_ns, breaker_probe_ns;
	enum sb_policy policy;
	/* run time */
	const char *name;
	pid_t parent;
	int zygote_fd; /* write end of the zygote's request pipe; -1 when not spawned */
	pid_t zygote;
	struct sb_shm *shm[SL_SANDBOX_MAX_REPLICAS];
	struct sb_replica rep[SL_SANDBOX_MAX_REPLICAS];
};

/* ---- keys ---- */

static const char *const sb_keys[] = {
	"isolation",	  "budget",	   "memory",	     "cpu", "breaker_failures",
	"breaker_window", "breaker_probe", "breaker_policy", NULL,
};

bool sl_sandbox_is_key(const char *key)
{
	for (int i = 0; sb_keys[i]; i++)
		if (strcmp(sb_keys[i], key) == 0)
			return true;
	return false;
}

const char *sl_sandbox_key_list(void)
{
	return "isolation, budget, memory, cpu, breaker_failures, breaker_window, breaker_probe, "
	       "breaker_policy";
}

static int sb_bytes(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -1;
	if (*end == 'k' || *end == 'K')
		v <<= 10, end++;
	else if (*end == 'M')
		v <<= 20, end++;
	else if (*end == 'G')
		v <<= 30, end++;
	if (*end || v == 0)
		return -1;
	*out = v;
	return 0;
}

static uint64_t sb_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- the child ---- */

static const struct sl_stage_desc *sbc_desc;
static const void *sbc_conf;
static struct sb_shm *sbc_shm;
static struct rte_mbuf sbc_mbuf[SB_SLOTS];
static uint32_t sbc_n_new;
static uint16_t sbc_n_ports;
static const char *sbc_name;

static void sbc_log(const struct sl_ctx *ctx, int level, const char *fmt, ...)
{
	char msg[512];
	int n;
	va_list ap;

	n = snprintf(msg, sizeof(msg), "level=%d comp=%s sandbox=%d msg=\"", level,
		     ctx && ctx->name ? ctx->name : "stage", (int)getpid());
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(msg))
		n += vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(msg) - 3)
		n = (int)sizeof(msg) - 3;
	msg[n++] = '"';
	msg[n++] = '\n';
	if (write(2, msg, (size_t)n) < 0)
		return;
}

static void sbc_mbuf_init(struct rte_mbuf *m, uint32_t slot)
{
	memset(m, 0, sizeof(*m));
	m->buf_addr = sbc_shm->data[slot];
	m->buf_len = SB_SLOT_ROOM;
	m->data_off = RTE_PKTMBUF_HEADROOM;
	m->nb_segs = 1;
	rte_mbuf_refcnt_set(m, 1);
}

static struct rte_mbuf *sbc_event_alloc(struct sl_ctx *ctx)
{
	struct rte_mbuf *m;

	if (sbc_n_new >= SB_NEW_SLOTS)
		return NULL;
	m = &sbc_mbuf[SB_IN_SLOTS + sbc_n_new++];
	sbc_mbuf_init(m, (uint32_t)(m - sbc_mbuf));
	memset(sl_ctx_meta(ctx, m), 0, sizeof(struct sl_meta));
	return m;
}

static struct rte_mbuf *sbc_event_unshare(struct sl_ctx *ctx, struct rte_mbuf *ev)
{
	(void)ctx;
	return ev; /* every event of the child is its own copy */
}

static const struct sl_host sbc_host = {
	.abi_major = SL_ABI_MAJOR,
	.abi_minor = SL_ABI_MINOR,
	.size = sizeof(struct sl_host),
	.log = sbc_log,
	.event_alloc = sbc_event_alloc,
	.event_unshare = sbc_event_unshare,
};

static bool sbc_garbage(struct sb_shm *s, const char *what, unsigned a, unsigned b)
{
	s->garbage = 1;
	snprintf(s->garbage_msg, sizeof(s->garbage_msg), what, a, b);
	return false;
}

/* Turn one emitted or dropped mbuf into a result; false on garbage. */
static bool sbc_result(struct sb_shm *s, struct rte_mbuf *m, uint16_t port, uint8_t reason,
		       int meta_offset)
{
	uintptr_t off = (uintptr_t)m - (uintptr_t)sbc_mbuf;
	uint32_t slot;

	if ((uintptr_t)m < (uintptr_t)sbc_mbuf || off >= sizeof(sbc_mbuf) ||
	    off % sizeof(struct rte_mbuf))
		return sbc_garbage(s, "an event that is not one of the call's (port %u, #%u)", port,
				   s->n_res);
	slot = (uint32_t)(off / sizeof(struct rte_mbuf));
	if (s->n_res >= SB_SLOTS)
		return sbc_garbage(s, "more results than events (%u, slot %u)", s->n_res, slot);
	if (m->buf_addr != s->data[slot] || m->nb_segs != 1 ||
	    (uint32_t)m->data_off + m->data_len > SB_SLOT_ROOM)
		return sbc_garbage(s, "event of slot %u changed its buffer (off %u)", slot,
				   m->data_off);
	s->ev[slot].meta = *sl_event_meta(meta_offset, m);
	s->ev[slot].data_off = m->data_off;
	s->ev[slot].data_len = m->data_len;
	s->res[s->n_res++] = (struct sb_res){ (uint16_t)slot, port, reason };
	return true;
}

static void sbc_serve(struct sb_shm *s)
{
	static struct sl_emit o;
	struct rte_mbuf *in[SB_IN_SLOTS];
	uint64_t counters[SL_COUNTER_MAX];
	struct sl_burst burst = { in, 0 };
	struct sl_ctx ctx;
	uint32_t n = s->n_in;

	if (n > SB_IN_SLOTS)
		n = 0;
	for (uint32_t i = 0; i < n; i++) {
		sbc_mbuf_init(&sbc_mbuf[i], i);
		sbc_mbuf[i].data_off = s->ev[i].data_off;
		sbc_mbuf[i].data_len = s->ev[i].data_len;
		sbc_mbuf[i].pkt_len = s->ev[i].data_len;
		*sl_event_meta(s->meta_offset, &sbc_mbuf[i]) = s->ev[i].meta;
		in[i] = &sbc_mbuf[i];
	}
	burst.n = (uint16_t)n;
	sbc_n_new = 0;
	memset(counters, 0, sizeof(counters));
	memset(&ctx, 0, sizeof(ctx));
	ctx.host = &sbc_host;
	ctx.meta_offset = s->meta_offset;
	ctx.replica = s->replica;
	ctx.lcore = s->lcore;
	ctx.now_tsc = s->now_tsc;
	ctx.tsc_hz = s->tsc_hz;
	ctx.counters = counters;
	ctx.name = sbc_name;
	ctx.fields_mask = ~0ull;
	memset(&o, 0, sizeof(o));
	o.n_ports = sbc_n_ports;
	s->garbage = 0;
	s->n_res = 0;
	sbc_desc->process(sbc_conf, &ctx, &burst, &o);
	for (uint16_t p = 0; p < sbc_n_ports && !s->garbage; p++) {
		if (o.n[p] > SL_EMIT_CAP) {
			sbc_garbage(s, "count %u on output %u is out of range", o.n[p], p);
			break;
		}
		for (uint16_t i = 0; i < o.n[p]; i++)
			if (!sbc_result(s, o.port[p][i], p, 0, s->meta_offset))
				break;
	}
	if (!s->garbage && o.n_drop > SL_PORT_MAX * SL_EMIT_CAP + SL_BURST_MAX)
		sbc_garbage(s, "drop count %u is out of range (%u)", o.n_drop, 0);
	for (uint16_t i = 0; i < o.n_drop && !s->garbage; i++)
		if (!sbc_result(s, o.drop[i], SB_PORT_DROP, o.drop_reason[i], s->meta_offset))
			break;
	/* An event emitted or dropped more often than the stage holds references to it (it
	 * raises the count to share it, as route's `mode: all` does) is a stage's bug. */
	if (!s->garbage) {
		uint16_t nres[SB_SLOTS] = { 0 };

		for (uint32_t i = 0; i < s->n_res; i++) {
			uint32_t slot = s->res[i].slot;

			if (++nres[slot] > rte_mbuf_refcnt_read(&sbc_mbuf[slot])) {
				sbc_garbage(s,
					    "event %u emitted twice (%u results, fewer references)",
					    slot, nres[slot]);
				break;
			}
		}
	}
	memcpy(s->counters, counters, sizeof(counters));
}

static long sbc_futex(uint32_t *w, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, w, op, val, ts, NULL, 0);
}

static void sb_wake_parent(struct sb_shm *s)
{
	__atomic_add_fetch(&s->wake, 1, __ATOMIC_RELEASE);
	sbc_futex(&s->wake, FUTEX_WAKE, INT32_MAX, NULL);
}

static int sbc_seccomp(void)
{
	static const int allow[] = {
		SCMP_SYS(futex),
		SCMP_SYS(exit),
		SCMP_SYS(exit_group),
		SCMP_SYS(rt_sigreturn),
		SCMP_SYS(clock_gettime),
		SCMP_SYS(gettimeofday),
		SCMP_SYS(getpid),
		SCMP_SYS(gettid),
		SCMP_SYS(brk),
		SCMP_SYS(mmap),
		SCMP_SYS(munmap),
		SCMP_SYS(mremap),
		SCMP_SYS(madvise),
		SCMP_SYS(mprotect),
		SCMP_SYS(rt_sigprocmask),
		SCMP_SYS(sched_yield),
		SCMP_SYS(nanosleep),
		SCMP_SYS(clock_nanosleep),
		SCMP_SYS(getrandom),
		SCMP_SYS(restart_syscall),
		SCMP_SYS(sigaltstack),
		SCMP_SYS(prlimit64),
		SCMP_SYS(getrlimit),
	};
	scmp_filter_ctx f = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int rc = 0;

	if (!f)
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(allow) / sizeof(allow[0]) && rc == 0; i++)
		rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, allow[i], 0);
	/* abort() (an assert, a plugin that gives up on ENOMEM) signals the child itself:
	 * tgkill to its own process only, so it dies of SIGABRT rather than of SIGSYS. */
	if (rc == 0)
		rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
				      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));
	/* Logs only: write to stderr, nothing else. */
	if (rc == 0)
		rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(write), 1,
				      SCMP_A0(SCMP_CMP_EQ, 2));
	if (rc == 0)
		rc = seccomp_load(f);
	seccomp_release(f);
	return rc;
}

static void sbc_limit(int res, uint64_t v)
{
	struct rlimit rl = { (rlim_t)v, (rlim_t)v };

	if (setrlimit(res, &rl) < 0)
		sbc_log(NULL, 3, "setrlimit %d: %s", res, strerror(errno));
}

static void sbc_main(struct sb_conf *c, uint32_t idx, uint32_t gen)
{
	struct sb_shm *s = c->shm[idx];
	static const int sigs[] = { SIGSEGV, SIGBUS,  SIGFPE, SIGILL, SIGABRT, SIGSYS,
				    SIGXCPU, SIGTERM, SIGINT, SIGHUP, SIGPIPE };
	pid_t zygote = getppid();
	uint32_t seen;

	prctl(PR_SET_NAME, "sluice-sandbox");
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_DFL);
	/* Only this replica's region stays mapped; only stderr stays open. */
	for (uint32_t i = 0; i < c->n_replicas; i++)
		if (i != idx)
			munmap(c->shm[i], sizeof(struct sb_shm));
	closefrom(3);
	sbc_shm = s;
	sbc_desc = c->inner;
	sbc_conf = c->inner_conf;
	sbc_n_ports = c->n_ports;
	sbc_name = c->name;
	if (geteuid() == 0) {
		/* Never run plugin code as root: nobody, no supplementary groups. */
		gid_t g = 65534;

		if (setgroups(1, &g) < 0 || setresgid(g, g, g) < 0 ||
		    setresuid(65534, 65534, 65534) < 0)
			_exit(120);
	}
	/* After the credential change, which clears it: die with the zygote (and so with
	 * sluice), or be orphaned blocked on the futex forever. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != zygote)
		_exit(0);
	sbc_limit(RLIMIT_CORE, 0);
	sbc_limit(RLIMIT_NOFILE, 3);
	sbc_limit(RLIMIT_NPROC, 0);
	sbc_limit(RLIMIT_FSIZE, 0);
#if !defined(__SANITIZE_ADDRESS__) && !SB_HAS_ASAN
	/* (Not under ASan: its allocator maps far more than any sane limit.) */
	if (c->memory_bytes)
		sbc_limit(RLIMIT_DATA, c->memory_bytes);
#endif
	if (c->cpu_s) {
		/* The hard limit a second later: at the soft one the kernel sends SIGXCPU (so
		 * the child is reported killed by SIGXCPU); at the hard one, SIGKILL. */
		struct rlimit cpu = { (rlim_t)c->cpu_s, (rlim_t)c->cpu_s + 1 };

		if (setrlimit(RLIMIT_CPU, &cpu) < 0)
			sbc_log(NULL, 3, "setrlimit %d: %s", RLIMIT_CPU, strerror(errno));
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || sbc_seccomp() != 0)
		_exit(121);
	seen = __atomic_load_n(&s->req_seq, __ATOMIC_ACQUIRE);
	__atomic_store_n(&s->ready_gen, gen, __ATOMIC_RELEASE);
	sb_wake_parent(s);
	for (;;) {
		uint32_t r = __atomic_load_n(&s->req_seq, __ATOMIC_ACQUIRE);

		for (int spin = 0; r == seen && spin < 2000; spin++) {
			rte_pause();
			r = __atomic_load_n(&s->req_seq, __ATOMIC_ACQUIRE);
		}
		if (r == seen) {
			sbc_futex(&s->req_seq, FUTEX_WAIT, seen, NULL);
			continue;
		}
		seen = r;
		sbc_serve(s);
		__atomic_store_n(&s->resp_seq, r, __ATOMIC_RELEASE);
		sb_wake_parent(s);
	}
}

/* ---- the zygote ---- */

/* A request on the zygote's pipe: start replica idx's child as generation gen, or kill
 * that generation's child. Only the zygote knows the children's pids: a pid in the shared
 * region, which the child can write, would let it choose what sluice kills. */
struct sb_zreq {
	uint32_t idx, gen;
	uint32_t kill;
};

static void sb_zygote_main(struct sb_conf *c, int rfd)
{
	pid_t pids[SL_SANDBOX_MAX_REPLICAS] = { 0 };
	uint32_t gens[SL_SANDBOX_MAX_REPLICAS] = { 0 };
	struct pollfd pf[2];
	sigset_t mask;
	int sfd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != c->parent)
		_exit(0); /* sluice died before the line above */
	prctl(PR_SET_NAME, "sluice-zygote");
	/* Hold no file of sluice's (a pipe kept open here would hang its reader). */
	for (int fd = 0; fd < 2; fd++) {
		int nul = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (nul >= 0 && nul != fd) {
			dup2(nul, fd);
			close(nul);
		}
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0)
		_exit(1);
	for (int fd = 3; fd < 1024; fd++)
		if (fd != rfd && fd != sfd)
			close(fd);
	signal(SIGINT, SIG_IGN); /* the terminal's ^C is for sluice, which ends us */
	pf[0] = (struct pollfd){ .fd = rfd, .events = POLLIN };
	pf[1] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	for (;;) {
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pf[1].revents) {
			struct signalfd_siginfo si;
			int st;
			pid_t p;

			if (read(sfd, &si, sizeof(si)) < 0 && errno != EAGAIN)
				break;
			while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
				for (uint32_t i = 0; i < c->n_replicas; i++) {
					if (pids[i] != p)
						continue;
					pids[i] = 0;
					c->shm[i]->dead_status = st;
					__atomic_store_n(&c->shm[i]->dead_gen, gens[i],
							 __ATOMIC_RELEASE);
					sb_wake_parent(c->shm[i]);
				}
			}
		}
		if (pf[0].revents) {
			struct sb_zreq rq;
			ssize_t n = read(rfd, &rq, sizeof(rq));
			pid_t p;

			if (n == 0 || (n < 0 && errno != EINTR))
				break;
			if (n != sizeof(rq) || rq.idx >= c->n_replicas)
				continue;
			if (rq.kill) {
				if (pids[rq.idx] > 0 && gens[rq.idx] == rq.gen)
					kill(pids[rq.idx], SIGKILL);
				continue;
			}
			if (pids[rq.idx] > 0)
				kill(pids[rq.idx], SIGKILL);
			p = fork();
			if (p == 0) {
				sigprocmask(SIG_UNBLOCK, &mask, NULL);
				sbc_main(c, rq.idx, rq.gen);
				_exit(0);
			}
			if (p > 0) {
				pids[rq.idx] = p;
				gens[rq.idx] = rq.gen;
			} else {
				c->shm[rq.idx]->dead_status = 0x7f00;
				__atomic_store_n(&c->shm[rq.idx]->dead_gen, rq.gen,
						 __ATOMIC_RELEASE);
				sb_wake_parent(c->shm[rq.idx]);
			}
		}
	}
	/* sluice closed the pipe (or died): the children go with us. */
	for (uint32_t i = 0; i < c->n_replicas; i++) {
		if (pids[i] > 0) {
			int st;

			kill(pids[i], SIGKILL);
			waitpid(pids[i], &st, 0); /* reap: pid 1 of a container may not */
		}
	}
	_exit(0);
}

static int sb_spawn(struct sb_conf *c)
{
	int p[2];
	pid_t z;

	for (uint32_t i = 0; i < c->n_replicas; i++) {
		int fd = memfd_create("sluice-sandbox", MFD_CLOEXEC);
		void *m;

		if (fd < 0)
			return -errno;
		if (ftruncate(fd, sizeof(struct sb_shm)) < 0) {
			close(fd);
			return -errno;
		}
		m = mmap(NULL, sizeof(struct sb_shm), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		close(fd);
		if (m == MAP_FAILED)
			return -errno;
		c->shm[i] = m;
		c->rep[i].shm = m;
	}
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	c->parent = getpid();
	z = fork();
	if (z < 0) {
		close(p[0]);
		close(p[1]);
		return -errno;
	}
	if (z == 0) {
		close(p[1]);
		sb_zygote_main(c, p[0]);
	}
	close(p[0]);
	c->zygote = z;
	c->zygote_fd = p[1];
	return 0;
}

/* ---- the proxy (parent, worker lcore) ---- */

static void sb_wait_word(uint32_t *w, uint32_t val, uint64_t deadline_ns)
{
	uint64_t now = sb_now_ns();
	struct timespec ts;
	uint64_t left;

	if (now >= deadline_ns)
		return;
	left = deadline_ns - now;
	ts.tv_sec = (time_t)(left / 1000000000ull);
	ts.tv_nsec = (long)(left % 1000000000ull);
	sbc_futex(w, FUTEX_WAIT, val, &ts);
}

/* Start (or restart) replica idx's child and wait until it serves; the time is counted. */
static bool sb_start(struct sb_conf *c, struct sl_ctx *ctx, struct sb_replica *r)
{
	struct sb_shm *s = r->shm;
	uint64_t t0 = sb_now_ns(), deadline = t0 + SB_START_NS, us;
	struct sb_zreq rq = { ctx->replica, ++r->gen, 0 };

	r->up = false;
	if (c->zygote_fd < 0 || write(c->zygote_fd, &rq, sizeof(rq)) != sizeof(rq))
		return false;
	for (;;) {
		uint32_t w = __atomic_load_n(&s->wake, __ATOMIC_ACQUIRE);

		if (__atomic_load_n(&s->ready_gen, __ATOMIC_ACQUIRE) == rq.gen)
			break;
		if (__atomic_load_n(&s->dead_gen, __ATOMIC_ACQUIRE) == rq.gen ||
		    sb_now_ns() >= deadline) {
			SL_ERR(c->name, "sandbox child of replica %u did not start (status 0x%x)",
			       ctx->replica, (unsigned)s->dead_status);
			return false;
		}
		sb_wait_word(&s->wake, w, deadline);
	}
	/* The child starts from the request counter it finds; the parent's is the same. */
	r->seq = __atomic_load_n(&s->req_seq, __ATOMIC_RELAXED);
	r->up = true;
	us = (sb_now_ns() - t0) / 1000;
	if (r->gen > 1) {
		ctx->counters[c->n_inner_counters + SBC_RESTARTS]++;
		ctx->counters[c->n_inner_counters + SBC_RESTART_US_LAST] = us;
		if (us > ctx->counters[c->n_inner_counters + SBC_RESTART_US_MAX])
			ctx->counters[c->n_inner_counters + SBC_RESTART_US_MAX] = us;
		SL_NOTICE(c->name, "sandbox child of replica %u restarted in %.3f ms", ctx->replica,
			  (double)us / 1000.0);
	}
	return true;
}

/* Have the zygote kill a hung child (struct sb_zreq), and wait for it to see it die. */
static void sb_kill(struct sb_conf *c, struct sb_replica *r, uint16_t replica)
{
	struct sb_shm *s = r->shm;
	uint64_t deadline = sb_now_ns() + SB_REAP_NS;
	struct sb_zreq rq = { replica, r->gen, 1 };

	if (c->zygote_fd < 0 || write(c->zygote_fd, &rq, sizeof(rq)) != sizeof(rq))
		deadline = 0; /* no zygote: nothing to wait for */
	while (__atomic_load_n(&s->dead_gen, __ATOMIC_ACQUIRE) != r->gen &&
	       sb_now_ns() < deadline) {
		uint32_t w = __atomic_load_n(&s->wake, __ATOMIC_ACQUIRE);

		if (__atomic_load_n(&s->dead_gen, __ATOMIC_ACQUIRE) == r->gen)
			break;
		sb_wait_word(&s->wake, w, deadline);
	}
	r->up = false;
}

/* Wait for the result of request seq; the budget is the deadline. */
static enum sb_fail sb_wait(struct sb_conf *c, struct sb_replica *r, uint16_t replica, uint64_t t0)
{
	struct sb_shm *s = r->shm;
	uint64_t deadline = t0 + c->budget_ns, spin_end = t0 + SB_SPIN_NS;

	for (;;) {
		uint32_t w = __atomic_load_n(&s->wake, __ATOMIC_ACQUIRE);
		uint64_t now;

		if (__atomic_load_n(&s->resp_seq, __ATOMIC_ACQUIRE) == r->seq)
			return SB_OK;
		if (__atomic_load_n(&s->dead_gen, __ATOMIC_ACQUIRE) == r->gen) {
			r->up = false;
			return SB_CRASH;
		}
		now = sb_now_ns();
		if (now >= deadline) {
			sb_kill(c, r, replica);
			return SB_TIMEOUT;
		}
		if (now < spin_end) {
			for (int i = 0; i < 64; i++)
				rte_pause();
			continue;
		}
		sb_wait_word(&s->wake, w, deadline);
	}
}

/* Strictly checks that [p, end) is one msgpack map and nothing else. */
bool sl_sandbox_msgpack_valid(const uint8_t *p, const uint8_t *end)
{
	uint64_t pending = 1;
	bool first = true;

	while (pending) {
		uint64_t skip = 0, items = 0;
		uint8_t c;

		if (p >= end)
			return false;
		c = *p++;
		pending--;
		if (first && !((c & 0xf0) == 0x80 || c == 0xde || c == 0xdf))
			return false;
		first = false;
		if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3)
			continue;
		if ((c & 0xf0) == 0x80)
			items = 2ull * (c & 0x0f);
		else if ((c & 0xf0) == 0x90)
			items = c & 0x0f;
		else if ((c & 0xe0) == 0xa0)
			skip = c & 0x1f;
		else {
			static const uint8_t fixed[] = {
				[0xca - 0xc4] = 4, [0xcb - 0xc4] = 8, [0xcc - 0xc4] = 1,
				[0xcd - 0xc4] = 2, [0xce - 0xc4] = 4, [0xcf - 0xc4] = 8,
				[0xd0 - 0xc4] = 1, [0xd1 - 0xc4] = 2, [0xd2 - 0xc4] = 4,
				[0xd3 - 0xc4] = 8, [0xd4 - 0xc4] = 2, [0xd5 - 0xc4] = 3,
				[0xd6 - 0xc4] = 5, [0xd7 - 0xc4] = 9, [0xd8 - 0xc4] = 17,
			};
			uint32_t lenb = 0, len = 0, extra = 0;

			if (c == 0xc1)
				return false;
			if (c >= 0xca && c <= 0xd8) {
				skip = fixed[c - 0xc4];
			} else {
				switch (c) {
				case 0xc4:
				case 0xd9:
					lenb = 1;
					break;
				case 0xc5:
				case 0xda:
				case 0xdc:
				case 0xde:
					lenb = 2;
					break;
				case 0xc6:
				case 0xdb:
				case 0xdd:
				case 0xdf:
					lenb = 4;
					break;
				case 0xc7:
					lenb = 1;
					extra = 1;
					break;
				case 0xc8:
					lenb = 2;
					extra = 1;
					break;
				case 0xc9:
					lenb = 4;
					extra = 1;
					break;
				default:
					return false;
				}
				if ((uint64_t)(end - p) < lenb)
					return false;
				for (uint32_t i = 0; i < lenb; i++)
					len = len << 8 | p[i];
				p += lenb;
				if (c == 0xdc || c == 0xdd)
					items = len;
				else if (c == 0xde || c == 0xdf)
					items = 2ull * len;
				else
					skip = (uint64_t)len + extra;
			}
		}
		if ((uint64_t)(end - p) < skip)
			return false;
		p += skip;
		/* Every item takes at least a byte: more pending than bytes left is a lie. */
		pending += items;
		if (pending > (uint64_t)(end - p))
			return false;
	}
	return p == end;
}

/* Check a response against its request; NULL when valid, else what is wrong. seen[slot]
 * gets the slot's number of results, emits[slot] how many of them are emits: an event the
 * stage shared (route's `mode: all`) is emitted once per reference it holds, at most
 * SB_RES_PER_EVENT times. */
static const char *sb_check(const struct sb_conf *c, struct sb_shm *s, uint32_t n_in,
			    uint8_t seen[SB_SLOTS], uint8_t emits[SB_SLOTS], char *buf, size_t len)
{
	uint32_t n_res = __atomic_load_n(&s->n_res, __ATOMIC_RELAXED);

	if (s->garbage) {
		s->garbage_msg[sizeof(s->garbage_msg) - 1] = '\0';
		snprintf(buf, len, "%s", s->garbage_msg);
		return buf;
	}
	if (n_res > SB_SLOTS) {
		snprintf(buf, len, "result count %u is out of range", n_res);
		return buf;
	}
	memset(seen, 0, SB_SLOTS);
	memset(emits, 0, SB_SLOTS);
	for (uint32_t i = 0; i < n_res; i++) {
		struct sb_res res = s->res[i];
		const struct sb_ev *e;

		if (res.slot >= SB_SLOTS || (res.slot < SB_IN_SLOTS && res.slot >= n_in)) {
			snprintf(buf, len, "result %u names slot %u, not an event of the call", i,
				 res.slot);
			return buf;
		}
		if (seen[res.slot]++ == SB_RES_PER_EVENT) {
			snprintf(buf, len, "event %u has more than %u results", res.slot,
				 SB_RES_PER_EVENT);
			return buf;
		}
		emits[res.slot] += res.port != SB_PORT_DROP;
		if (res.port == SB_PORT_DROP ? res.reason >= SL_DROP_REASON_MAX
					     : res.port >= c->n_ports) {
			snprintf(buf, len, "result %u: output %u / reason %u out of range", i,
				 res.port, res.reason);
			return buf;
		}
		e = &s->ev[res.slot];
		if ((uint32_t)e->data_off + e->data_len > SB_SLOT_ROOM) {
			snprintf(buf, len, "event %u: data %u+%u outside its buffer", res.slot,
				 e->data_off, e->data_len);
			return buf;
		}
		if (res.port != SB_PORT_DROP && e->meta.kind == SL_EVENT_RECORD &&
		    (e->meta.rec_off > e->data_len ||
		     !sl_sandbox_msgpack_valid(s->data[res.slot] + e->data_off + e->meta.rec_off,
					       s->data[res.slot] + e->data_off + e->data_len))) {
			snprintf(buf, len, "event %u: record is not a valid msgpack map", res.slot);
			return buf;
		}
	}
	for (uint32_t i = 0; i < n_in; i++) {
		if (!seen[i]) {
			snprintf(buf, len, "event %u neither emitted nor dropped", i);
			return buf;
		}
	}
	return NULL;
}

/* Copy a result slot into m (an mbuf of the runtime). False when it does not fit. */
static bool sb_copy_out(const struct sb_shm *s, uint32_t slot, struct rte_mbuf *m, int meta_offset,
			bool keep_ack)
{
	const struct sb_ev *e = &s->ev[slot];
	struct sl_meta *meta = sl_event_meta(meta_offset, m);
	uint8_t ack = meta->flags & SL_META_F_ACK_MASK;
	uint16_t off = e->data_off;

	if ((uint32_t)off + e->data_len > m->buf_len) {
		off = RTE_PKTMBUF_HEADROOM < m->buf_len ? RTE_PKTMBUF_HEADROOM : 0;
		if ((uint32_t)off + e->data_len > m->buf_len) {
			if (RTE_MBUF_HAS_EXTBUF(m) || !sl_event_enlarge(m))
				return false;
			off = m->data_off;
			if ((uint32_t)off + e->data_len > m->buf_len)
				return false;
		}
	}
	m->data_off = off;
	m->data_len = e->data_len;
	m->pkt_len = e->data_len;
	memcpy((uint8_t *)m->buf_addr + off, s->data[slot] + e->data_off, e->data_len);
	*meta = e->meta;
	meta->flags = (uint8_t)((e->meta.flags & ~SL_META_F_ACK_MASK) | (keep_ack ? ack : 0));
	return true;
}

/* An event the stage failed on: its raw bytes, then {error, stage, detail}, on `failed`. */
static void sb_fail_event(const struct sb_conf *c, struct sl_ctx *ctx, struct rte_mbuf *ev,
			  const char *reason, const char *detail, struct sl_emit *o)
{
	struct sl_rec_writer w;

	ev = sl_fail_record_begin(ctx, ev, reason, c->name, &w);
	if (!ev)
		return;
	sl_rec_put_str(&w, "detail", detail, strlen(detail));
	sl_fail_record_end(ctx, ev, &w);
	ctx->counters[c->n_inner_counters + SBC_FAILED]++;
	sl_emit(o, c->failed_port, ev);
}

/* The breaker's view of one more failure; true when it opens now. */
static bool sb_breaker_fail(const struct sb_conf *c, struct sl_ctx *ctx, struct sb_replica *r,
			    uint64_t now)
{
	uint32_t k = c->breaker_failures, old;

	r->fail_ns[r->fail_head] = now;
	r->fail_head = (r->fail_head + 1) % SB_FAILED_MAX;
	if (r->n_fail < SB_FAILED_MAX)
		r->n_fail++;
	if (r->open) {
		/* A failed probe: stay open for another probe period. */
		r->probe_at_ns = now + c->breaker_probe_ns;
		return false;
	}
	if (r->n_fail < k)
		return false;
	old = (r->fail_head + SB_FAILED_MAX - k) % SB_FAILED_MAX;
	if (now - r->fail_ns[old] > c->breaker_window_ns)
		return false;
	r->open = true;
	r->probe_at_ns = now + c->breaker_probe_ns;
	ctx->counters[c->n_inner_counters + SBC_BREAKER_OPENS]++;
	SL_WARN(c->name,
		"circuit breaker open: %u failures within %.3f s; input goes %s until a probe in "
		"%.3f s succeeds",
		k, (double)c->breaker_window_ns / 1e9,
		c->policy == SB_POLICY_DLQ    ? "to the failed output"
		: c->policy == SB_POLICY_SKIP ? "nowhere (skipped)"
					      : "through unchanged",
		(double)c->breaker_probe_ns / 1e9);
	return true;
}

/* The breaker is open: route ev by policy. */
static void sb_route(const struct sb_conf *c, struct sl_ctx *ctx, struct rte_mbuf *ev,
		     struct sl_emit *o)
{
	ctx->counters[c->n_inner_counters + SBC_BREAKER_ROUTED]++;
	if (c->policy == SB_POLICY_PASS)
		sl_emit(o, 0, ev);
	else if (c->policy == SB_POLICY_SKIP)
		sl_drop(o, ev, SL_DROP_INVALID);
	else
		sb_fail_event(c, ctx, ev, "circuit_open", "circuit breaker open", o);
}

/* One request to the child: ev[0..n). Results go to o, unless it fails. */
static enum sb_fail sb_call(struct sb_conf *c, struct sl_ctx *ctx, struct sb_replica *r,
			    struct rte_mbuf **ev, uint16_t n, struct sl_emit *o, char *why,
			    size_t why_len)
{
	struct sb_shm *s = r->shm;
	uint8_t seen[SB_SLOTS], emits[SB_SLOTS];
	struct rte_mbuf *made[SB_SLOTS];
	bool done[SB_SLOTS] = { false };
	enum sb_fail f;
	uint64_t t0;

	if (!r->up && !sb_start(c, ctx, r)) {
		snprintf(why, why_len, "sandbox child did not start");
		return SB_CRASH;
	}
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = ev[i];

		s->ev[i].meta = *sl_ctx_meta(ctx, m);
		s->ev[i].data_off = RTE_PKTMBUF_HEADROOM;
		s->ev[i].data_len = m->data_len;
		if (s->ev[i].data_len > SL_EVENT_DATA_ROOM)
			s->ev[i].data_len = SL_EVENT_DATA_ROOM; /* not made by a source */
		memcpy(s->data[i] + RTE_PKTMBUF_HEADROOM, rte_pktmbuf_mtod(m, void *),
		       s->ev[i].data_len);
	}
	s->n_in = n;
	s->meta_offset = ctx->meta_offset;
	s->lcore = ctx->lcore;
	s->replica = ctx->replica;
	s->now_tsc = ctx->now_tsc;
	s->tsc_hz = ctx->tsc_hz;
	t0 = sb_now_ns();
	__atomic_store_n(&s->req_seq, ++r->seq, __ATOMIC_RELEASE);
	sbc_futex(&s->req_seq, FUTEX_WAKE, 1, NULL);
	f = sb_wait(c, r, ctx->replica, t0);
	if (f == SB_CRASH) {
		int st = s->dead_status;

		if (WIFSIGNALED(st))
			snprintf(why, why_len, "killed by SIG%s%s",
				 sigabbrev_np(WTERMSIG(st)) ? sigabbrev_np(WTERMSIG(st)) : "?",
				 WTERMSIG(st) == SIGSYS ? " (seccomp: a system call not allowed)"
							: "");
		else
			snprintf(why, why_len, "exited with status %d", WEXITSTATUS(st));
		ctx->counters[c->n_inner_counters + SBC_CRASHES]++;
		return f;
	}
	if (f == SB_TIMEOUT) {
		snprintf(why, why_len, "no result within the budget of %.3f ms",
			 (double)c->budget_ns / 1e6);
		ctx->counters[c->n_inner_counters + SBC_TIMEOUTS]++;
		ctx->counters[c->n_inner_counters + SBC_BUDGET]++;
		return f;
	}
	if (sb_check(c, s, n, seen, emits, why, why_len)) {
		ctx->counters[c->n_inner_counters + SBC_GARBAGE]++;
		return SB_GARBAGE;
	}
	for (uint16_t i = 0; i < c->n_inner_counters; i++)
		ctx->counters[i] += s->counters[i];
	/* An event's first result makes its mbuf (the input's, unshared, or a new one) with
	 * its bytes and one reference per result (per emit, for a new event: a new event
	 * dropped was never the runtime's); each result then takes one. NULL: none left. */
	for (uint32_t i = 0; i < s->n_res; i++) {
		struct sb_res res = s->res[i];
		struct rte_mbuf *m;
		uint16_t refs = res.slot < SB_IN_SLOTS ? seen[res.slot] : emits[res.slot];

		if (!done[res.slot]) {
			done[res.slot] = true;
			m = NULL; /* a new event that is only dropped: never the runtime's */
			if (res.slot < SB_IN_SLOTS) {
				m = ev[res.slot];
				if (emits[res.slot]) {
					m = ctx->host->event_unshare(ctx, m);
					if (m &&
					    !sb_copy_out(s, res.slot, m, ctx->meta_offset, true)) {
						sl_drop(o, m, SL_DROP_OVERFLOW);
						m = NULL;
					}
				}
			} else if (emits[res.slot]) {
				m = ctx->host->event_alloc(ctx);
				if (m && !sb_copy_out(s, res.slot, m, ctx->meta_offset, false)) {
					sl_drop(o, m, SL_DROP_OVERFLOW);
					m = NULL;
				}
			}
			if (m && refs > 1)
				rte_mbuf_refcnt_update(m, (int16_t)(refs - 1));
			made[res.slot] = m;
		} else {
			m = made[res.slot]; /* set by this slot's first result */
		}
		if (!m)
			continue;
		if (res.port != SB_PORT_DROP)
			sl_emit(o, res.port, m);
		else if (res.slot < SB_IN_SLOTS)
			sl_drop(o, m, (enum sl_drop_reason)res.reason);
	}
	return SB_OK;
}

static void proxy_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
			  struct sl_emit *o)
{
	struct sb_conf *c = (struct sb_conf *)(uintptr_t)conf;
	struct sb_replica *r;
	uint64_t now;
	uint16_t i = 0;
	char why[128];

	if (ctx->replica >= c->n_replicas || c->zygote_fd < 0) {
		/* More replicas than sandboxes (sl_sandbox_wrap caps `replicas`; the scaler
		 * may not go past it either): route by policy rather than share a child. */
		for (uint16_t k = 0; k < in->n; k++)
			sb_route(c, ctx, in->ev[k], o);
		return;
	}
	r = &c->rep[ctx->replica];
	now = sb_now_ns();
	if (r->open && now >= r->probe_at_ns) {
		/* Half-open: the first event alone is the probe. */
		enum sb_fail f = sb_call(c, ctx, r, in->ev, 1, o, why, sizeof(why));

		if (f == SB_OK) {
			r->open = false;
			r->n_fail = 0;
			SL_NOTICE(c->name, "circuit breaker closed: the probe succeeded");
		} else {
			sb_breaker_fail(c, ctx, r, sb_now_ns());
			sb_fail_event(c, ctx, in->ev[0], sb_fail_reason[f], why, o);
		}
		i = 1;
	}
	if (r->open) {
		for (; i < in->n; i++)
			sb_route(c, ctx, in->ev[i], o);
		return;
	}
	if (i < in->n) {
		uint16_t n = (uint16_t)(in->n - i);
		enum sb_fail f = sb_call(c, ctx, r, in->ev + i, n, o, why, sizeof(why));

		if (f == SB_OK)
			return;
		if (n == 1) {
			sb_breaker_fail(c, ctx, r, sb_now_ns());
			sb_fail_event(c, ctx, in->ev[i], sb_fail_reason[f], why, o);
			return;
		}
		/* Which event was it? Each one alone, in a fresh child where needed. The
		 * burst's failed call emitted nothing, so every event is still ours. */
		for (; i < in->n; i++) {
			if (r->open) {
				sb_route(c, ctx, in->ev[i], o);
				continue;
			}
			f = sb_call(c, ctx, r, in->ev + i, 1, o, why, sizeof(why));
			if (f == SB_OK)
				continue;
			SL_WARN(c->name, "event %" PRIu64 " failed the stage: %s (%s)",
				sl_ctx_meta(ctx, in->ev[i])->event_id, sb_fail_reason[f], why);
			sb_breaker_fail(c, ctx, r, sb_now_ns());
			sb_fail_event(c, ctx, in->ev[i], sb_fail_reason[f], why, o);
		}
	}
}

static void proxy_fini(void *conf)
{
	struct sb_conf *c = conf;

	if (!c)
		return;
	if (c->zygote_fd >= 0) {
		int st;

		/* EOF tells the zygote to kill its children and exit; give it 200 ms. */
		close(c->zygote_fd);
		pid_t done = 0;

		for (int i = 0; i < 200 && (done = waitpid(c->zygote, &st, WNOHANG)) == 0; i++)
			usleep(1000);
		if (done == 0 && kill(c->zygote, SIGKILL) == 0)
			waitpid(c->zygote, &st, 0);
	}
	for (uint32_t i = 0; i < c->n_replicas; i++)
		if (c->shm[i])
			munmap(c->shm[i], sizeof(struct sb_shm));
	if (c->inner_conf && c->inner->fini)
		c->inner->fini(c->inner_conf);
	/* c itself is the config's memory (sl_sandbox_conf_size). */
	memset(c->shm, 0, sizeof(c->shm));
	c->inner_conf = NULL;
	c->zygote_fd = -1;
}

/* Leaving a capped stage's arena: what the cap refused on this thread is counted. ctx
 * NULL: a one-off call (init, fini) on the control thread, whose cache is turned back on. */
static void inproc_leave(const struct sb_conf *c, struct sl_ctx *ctx)
{
	uint64_t refused = ctx ? sl_memcap_leave(c->memcap) : sl_memcap_leave_restore(c->memcap);

	if (likely(!refused))
		return;
	if (ctx)
		ctx->counters[c->ctr_memory] += refused;
	if (!__atomic_exchange_n(&((struct sb_conf *)(uintptr_t)c)->memcap_warned, 1,
				 __ATOMIC_RELAXED))
		SL_WARN(c->name,
			"memory cap of %" PRIu64 " bytes reached: the stage's allocations are "
			"refused (counted as memory_refused)",
			c->memory_bytes);
}

/* An in-process stage with a budget and/or memory. budget: the call, timed (two TSC reads
 * and a multiply per burst); a call over budget is counted. memory: the call runs on the
 * stage's jemalloc arena (two mallctl calls per burst, about 170 ns; memcap.c). */
static void inproc_process(const void *conf, struct sl_ctx *ctx, struct sl_burst *in,
			   struct sl_emit *o)
{
	const struct sb_conf *c = conf;
	uint64_t t0 = 0, dt;

	if (c->memcap)
		sl_memcap_enter(c->memcap);
	if (c->budget_set)
		t0 = rte_rdtsc();
	c->inner->process(c->inner_conf, ctx, in, o);
	if (c->budget_set) {
		dt = rte_rdtsc() - t0;
		if (dt * 1000000000ull / (ctx->tsc_hz ? ctx->tsc_hz : 1) > c->budget_ns)
			ctx->counters[c->ctr_budget]++;
	}
	if (c->memcap)
		inproc_leave(c, ctx);
}

static void inproc_fini(void *conf)
{
	struct sb_conf *c = conf;

	if (!c)
		return;
	if (c->inner_conf && c->inner->fini) {
		if (c->memcap)
			sl_memcap_enter(c->memcap);
		c->inner->fini(c->inner_conf);
		if (c->memcap)
			inproc_leave(c, NULL);
	}
	c->inner_conf = NULL;
}

static const char *const *inproc_reads(const void *conf)
{
	const struct sb_conf *c = conf;

	return c->inner->reads ? c->inner->reads(c->inner_conf) : NULL;
}

void sl_sandbox_init_enter(const struct sl_config_node *node)
{
	const struct sb_conf *c = node->sandbox;

	if (c && c->memcap && node->stage == c->inner)
		sl_memcap_enter(c->memcap);
}

void sl_sandbox_init_leave(const struct sl_config_node *node)
{
	const struct sb_conf *c = node->sandbox;

	if (c && c->memcap && node->stage == c->inner)
		inproc_leave(c, NULL);
}

/* ---- wrapping ---- */

static int sb_err(char *msg, size_t len, int *bad, int idx, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static int sb_err(char *msg, size_t len, int *bad, int idx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, len, fmt, ap);
	va_end(ap);
	*bad = idx;
	return -EINVAL;
}

size_t sl_sandbox_conf_size(void)
{
	return sizeof(struct sb_conf);
}

/* One key's value into c; 0 or -EINVAL with msg. */
static int sb_key(struct sb_conf *c, const struct sl_config_node *node, uint32_t i, bool *process,
		  char *msg, size_t len, int *bad)
{
	const char *k = node->iso[i].key, *v = node->iso[i].val;
	uint64_t x;

	if (strcmp(k, "isolation") == 0) {
		if (strcmp(v, "process") == 0)
			*process = true;
		else if (strcmp(v, "bpf") == 0 && strcmp(node->stage->name, "bpf_filter") != 0)
			return sb_err(
				msg, len, bad, (int)i,
				"isolation: bpf is the bpf_filter stage's own; use: bpf_filter "
				"with a program");
		else if (strcmp(v, "none") != 0 && strcmp(v, "bpf") != 0)
			return sb_err(msg, len, bad, (int)i,
				      "isolation: expected none, process or bpf, got '%s'", v);
	} else if (strcmp(k, "budget") == 0 || strcmp(k, "breaker_window") == 0 ||
		   strcmp(k, "breaker_probe") == 0) {
		if (sl_window_parse(v, &x) < 0 || x == 0)
			return sb_err(msg, len, bad, (int)i,
				      "%s: expected a duration such as 50ms or 2s, got '%s'", k, v);
		if (strcmp(k, "budget") == 0)
			c->budget_ns = x;
		else if (strcmp(k, "breaker_window") == 0)
			c->breaker_window_ns = x;
		else
			c->breaker_probe_ns = x;
	} else if (strcmp(k, "memory") == 0) {
		/* The least depends on the isolation (sb_memory_min). */
		if (sb_bytes(v, &c->memory_bytes) < 0)
			return sb_err(msg, len, bad, (int)i,
				      "memory: expected a size such as 256M, got '%s'", v);
	} else if (strcmp(k, "cpu") == 0) {
		if (sl_window_parse(v, &x) < 0 || x < 1000000000ull)
			return sb_err(msg, len, bad, (int)i,
				      "cpu: expected CPU time of at least 1s, got '%s'", v);
		c->cpu_s = x / 1000000000ull;
	} else if (strcmp(k, "breaker_failures") == 0) {
		if (sb_bytes(v, &x) < 0 || x > SB_FAILED_MAX)
			return sb_err(msg, len, bad, (int)i,
				      "breaker_failures: expected 1 to %u, got '%s'", SB_FAILED_MAX,
				      v);
		c->breaker_failures = (uint32_t)x;
	} else if (strcmp(k, "breaker_policy") == 0) {
		if (strcmp(v, "dlq") == 0)
			c->policy = SB_POLICY_DLQ;
		else if (strcmp(v, "skip") == 0)
			c->policy = SB_POLICY_SKIP;
		else if (strcmp(v, "pass_through") == 0)
			c->policy = SB_POLICY_PASS;
		else
			return sb_err(
				msg, len, bad, (int)i,
				"breaker_policy: expected dlq, skip or pass_through, got '%s'", v);
	}
	return 0;
}

int sl_sandbox_check(struct sl_config_node *node, void *mem, char *msg, size_t len, int *bad)
{
	const struct sl_stage_desc *d = node->stage;
	struct sb_conf *c = mem;
	bool process = false;
	uint32_t n_out, n_ctr;
	int budget, memory;

	*bad = -1;
	c->zygote_fd = -1;
	c->budget_ns = 100000000ull;
	c->memory_bytes = 512ull << 20;
	c->breaker_failures = 5;
	c->breaker_window_ns = 10000000000ull;
	c->breaker_probe_ns = 1000000000ull;
	c->policy = SB_POLICY_DLQ;
	budget = memory = -1;
	for (uint32_t i = 0; i < node->n_iso; i++) {
		if (sb_key(c, node, i, &process, msg, len, bad) < 0)
			return -EINVAL;
		if (strcmp(node->iso[i].key, "budget") == 0)
			budget = (int)i;
		else if (strcmp(node->iso[i].key, "memory") == 0)
			memory = (int)i;
	}
	if (process && memory >= 0 && c->memory_bytes < (16ull << 20))
		return sb_err(msg, len, bad, memory,
			      "memory: expected a size of at least 16M (such as 256M), got '%s'",
			      node->iso[memory].val);
	if (!process) {
		for (uint32_t i = 0; i < node->n_iso; i++)
			if (strcmp(node->iso[i].key, "isolation") != 0 &&
			    strcmp(node->iso[i].key, "budget") != 0 &&
			    strcmp(node->iso[i].key, "memory") != 0)
				return sb_err(msg, len, bad, (int)i,
					      "%s: only for stages with isolation: process",
					      node->iso[i].key);
		if (budget < 0 && memory < 0)
			return 0;
		/* In process: the budget is counted by a thin wrapper, not enforced; memory
		 * is a jemalloc arena of the stage's own (memcap.c), enforced. */
		if (d->state || (d->flags & SL_STAGE_F_WINDOWED))
			return sb_err(msg, len, bad, budget >= 0 ? budget : memory,
				      "%s: not for a stage with window state in process yet",
				      budget >= 0 ? "budget" : "memory");
		for (n_ctr = 0; d->counters && d->counters[n_ctr]; n_ctr++)
			c->counters[n_ctr] = d->counters[n_ctr];
		c->n_inner_counters = (uint16_t)n_ctr;
		if (budget >= 0) {
			c->budget_set = true;
			c->ctr_budget = (uint16_t)n_ctr;
			c->counters[n_ctr++] = "budget_exceeded";
		}
		if (memory >= 0) {
			char why[160];

			if (c->memory_bytes < (4ull << 20))
				return sb_err(msg, len, bad, memory,
					      "memory: expected at least 4M for an in-process "
					      "stage, got '%s'",
					      node->iso[memory].val);
			c->memcap = sl_memcap_create(c->memory_bytes, why, sizeof(why));
			if (!c->memcap)
				return sb_err(
					msg, len, bad, memory,
					"memory: a cap on an in-process stage needs a jemalloc "
					"arena, and %s; use isolation: process (an rlimit) or a "
					"build with jemalloc",
					why);
			c->ctr_memory = (uint16_t)n_ctr;
			c->counters[n_ctr++] = "memory_refused";
		}
		c->in_process = true;
		c->inner = d;
		c->name = node->name;
		node->sandbox = c;
		return 0;
	}
	if (d->state || (d->flags & SL_STAGE_F_WINDOWED))
		return sb_err(msg, len, bad, -1,
			      "isolation: process is for stateless stages; '%s' keeps window "
			      "state, which a sandbox restart would lose",
			      d->name);
	/* Outputs: the stage's, then `failed` unless it has one. */
	c->failed_port = UINT16_MAX;
	for (n_out = 0; n_out < node->n_outputs; n_out++) {
		c->outputs[n_out] = node->output_names[n_out];
		if (strcmp(node->output_names[n_out], "failed") == 0)
			c->failed_port = (uint16_t)n_out;
	}
	if (c->failed_port == UINT16_MAX) {
		if (n_out >= SL_PORT_MAX)
			return sb_err(
				msg, len, bad, -1,
				"isolation: process needs a `failed` output and the stage has "
				"%u already",
				SL_PORT_MAX);
		c->failed_port = (uint16_t)n_out;
		c->outputs[n_out++] = "failed";
	}
	for (n_ctr = 0; d->counters && d->counters[n_ctr]; n_ctr++)
		c->counters[n_ctr] = d->counters[n_ctr];
	c->n_inner_counters = (uint16_t)n_ctr;
	for (uint32_t k = 0; k < SBC_N; k++)
		c->counters[n_ctr + k] = sb_counter_names[k];
	c->n_ports = (uint16_t)n_out;
	c->inner = d;
	c->name = node->name;
	/* The node's outputs gain `failed` before inputs are resolved. */
	node->output_names = (char **)c->outputs;
	node->n_outputs = (uint16_t)n_out;
	node->sandbox = c;
	return 0;
}

int sl_sandbox_wrap(struct sl_config_node *node, void **conf, bool spawn, char *msg, size_t len,
		    int *bad)
{
	struct sb_conf *c = node->sandbox;
	int rc;

	*bad = -1;
	if (!c || node->stage != c->inner)
		return 0;
	if (c->in_process) {
		c->inner_conf = *conf;
		c->desc = *c->inner;
		c->desc.counters = c->counters;
		c->desc.init = NULL;
		c->desc.process = inproc_process;
		c->desc.fini = inproc_fini;
		c->desc.reads = c->inner->reads ? inproc_reads : NULL;
		node->stage = &c->desc;
		*conf = c;
		return 0;
	}
	if (node->replicas > SL_SANDBOX_MAX_REPLICAS)
		return sb_err(msg, len, bad, -1,
			      "isolation: process allows at most %u replicas (one sandbox child "
			      "each), not %u",
			      SL_SANDBOX_MAX_REPLICAS, node->replicas);
	c->n_replicas = (uint16_t)node->replicas;
	c->inner_conf = *conf;
	c->desc = *c->inner;
	c->desc.outputs = c->outputs;
	c->desc.outputs_from = NULL;
	c->desc.counters = c->counters;
	c->desc.init = NULL;
	c->desc.process = proxy_process;
	c->desc.fini = proxy_fini;
	c->desc.reads = NULL; /* the child sees whole events */
	c->desc.writes = NULL;
	if (spawn) {
		rc = sb_spawn(c);
		if (rc < 0) {
			proxy_fini(c);
			return sb_err(msg, len, bad, -1, "cannot start the sandbox: %s",
				      strerror(-rc));
		}
	}
	node->stage = &c->desc;
	*conf = c;
	return 0;
}
