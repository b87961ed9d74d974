/*
 * A jemalloc arena per in-process stage with `memory:` (memcap.h, docs/resilience.md).
 *
 * The arena is created with extent hooks of our own (jemalloc's `arenas.create` with an
 * extent_hooks_t, see the jemalloc(3) manual, "EXTENT HOOKS"): they are jemalloc's default
 * hooks (read from `arena.0.extent_hooks`) except alloc, dalloc and destroy, which keep a
 * count of the bytes the arena has mapped. An alloc that would take the count past the cap
 * returns NULL without mapping anything, which jemalloc turns into a NULL from malloc.
 * jemalloc retains address space it has mapped (opt.retain), so the count is the arena's
 * high-water mark of address space, and memory the stage frees is reused by the stage
 * within the cap rather than handed back.
 *
 * jemalloc asks the hook twice for one large allocation that does not fit: first for a
 * geometric growth step with *commit false (extent_grow_retained), then for the exact size
 * with *commit true (ecache_alloc_grow's fallback, extent_alloc_wrapper). Only a refusal
 * with *commit true makes malloc fail, so only those are counted as refused allocations.
 * The first block of the arena's metadata (mapped by `arenas.create` itself, before the
 * hooks are armed) is not counted.
 *
 * Switching: `thread.arena`, read and written in one mallctlbymib call on the way in,
 * written on the way out. The thread cache is the catch: it keeps freed small objects of
 * whatever arena and hands them out again, so the stage could be served memory of the
 * runtime's arena (not counted) and the runtime memory of the stage's. Flushing it on the
 * way in and out works but costs about 1 us a flush (jemalloc merges each bin's stats under
 * its lock), and re-associating a thread that has a cache with another arena costs as much
 * again. So a thread that runs a capped stage turns its thread cache off
 * (`thread.tcache.enabled`) the first time and keeps it off: the switch is then about
 * 170 ns per call, and the cap is exact. The price: every malloc and free on that thread
 * goes to its arena's bins (a lock each) instead of the cache; the runtime allocates
 * nothing per event, so only a stage that mallocs per event on that lcore pays it. init and
 * fini (control thread) turn the cache back on after the call (sl_memcap_leave_restore).
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memcap.h"

#if defined(__has_include)
#if __has_include(<jemalloc/jemalloc.h>)
#include <jemalloc/jemalloc.h>
#define MEMCAP_HAVE_HEADER 1
#endif
#endif

#ifdef MEMCAP_HAVE_HEADER

typedef int (*memcap_mallctl_fn)(const char *, void *, size_t *, void *, size_t);
typedef int (*memcap_nametomib_fn)(const char *, size_t *, size_t *);
typedef int (*memcap_bymib_fn)(const size_t *, size_t, void *, size_t *, void *, size_t);

struct sl_memcap {
	extent_hooks_t hooks; /* first: jemalloc hands this pointer back to the hooks */
	extent_hooks_t *dflt; /* jemalloc's own hooks, which do the mapping */
	uint64_t cap;
	unsigned arena;
	bool armed; /* set after arenas.create: the arena's bootstrap metadata is not counted */
	uint64_t mapped, peak, refused; /* atomics */
};

static memcap_mallctl_fn memcap_mallctl;
static memcap_bymib_fn memcap_bymib;
static size_t memcap_mib_arena[2], memcap_mib_tcache[3];
static size_t memcap_n_arena = 2, memcap_n_tcache = 3;
static int memcap_state; /* 0 not looked up, 1 available, -1 not */

/* The calling thread: its own arena while it runs a capped stage, and refusals meanwhile. */
static __thread unsigned memcap_home;
static __thread uint64_t memcap_refused_here;
static __thread bool memcap_tcache_off; /* this thread turned its cache off */

bool sl_memcap_available(void)
{
	memcap_nametomib_fn nametomib;
	const char *version = NULL;
	size_t sz = sizeof(version);

	if (memcap_state)
		return memcap_state > 0;
	memcap_state = -1;
	memcap_mallctl = (memcap_mallctl_fn)dlsym(RTLD_DEFAULT, "mallctl");
	nametomib = (memcap_nametomib_fn)dlsym(RTLD_DEFAULT, "mallctlnametomib");
	memcap_bymib = (memcap_bymib_fn)dlsym(RTLD_DEFAULT, "mallctlbymib");
	if (!memcap_mallctl || !nametomib || !memcap_bymib)
		return false;
	/* The allocator must really be jemalloc 5 (extent hooks), not just export the name. */
	if (memcap_mallctl("version", &version, &sz, NULL, 0) != 0 || !version ||
	    version[0] < '5' || version[1] != '.')
		return false;
	if (nametomib("thread.arena", memcap_mib_arena, &memcap_n_arena) != 0 ||
	    nametomib("thread.tcache.enabled", memcap_mib_tcache, &memcap_n_tcache) != 0)
		return false;
	memcap_state = 1;
	return true;
}

static void memcap_peak(struct sl_memcap *m, uint64_t now)
{
	uint64_t p = __atomic_load_n(&m->peak, __ATOMIC_RELAXED);

	while (now > p && !__atomic_compare_exchange_n(&m->peak, &p, now, false, __ATOMIC_RELAXED,
						       __ATOMIC_RELAXED))
		;
}

static void *memcap_alloc(extent_hooks_t *h, void *new_addr, size_t size, size_t alignment,
			  bool *zero, bool *commit, unsigned arena_ind)
{
	struct sl_memcap *m = (struct sl_memcap *)h;
	bool armed = __atomic_load_n(&m->armed, __ATOMIC_ACQUIRE);
	uint64_t now = 0;
	void *p;

	if (armed) {
		now = __atomic_add_fetch(&m->mapped, size, __ATOMIC_RELAXED);
		if (now > m->cap) {
			__atomic_sub_fetch(&m->mapped, size, __ATOMIC_RELAXED);
			/* *commit false: a growth step; jemalloc asks again for the exact
			 * size (with *commit true), and only that refusal fails a malloc. */
			if (*commit) {
				__atomic_add_fetch(&m->refused, 1, __ATOMIC_RELAXED);
				memcap_refused_here++;
			}
			return NULL;
		}
	}
	p = m->dflt->alloc(m->dflt, new_addr, size, alignment, zero, commit, arena_ind);
	if (armed) {
		if (!p)
			__atomic_sub_fetch(&m->mapped, size, __ATOMIC_RELAXED);
		else
			memcap_peak(m, now);
	}
	return p;
}

/* false: unmapped (jemalloc's default keeps the mapping and returns true: opt.retain). */
static bool memcap_dalloc(extent_hooks_t *h, void *addr, size_t size, bool committed,
			  unsigned arena_ind)
{
	struct sl_memcap *m = (struct sl_memcap *)h;
	bool kept = m->dflt->dalloc(m->dflt, addr, size, committed, arena_ind);

	if (!kept && __atomic_load_n(&m->armed, __ATOMIC_ACQUIRE))
		__atomic_sub_fetch(&m->mapped, size, __ATOMIC_RELAXED);
	return kept;
}

static void memcap_destroy(extent_hooks_t *h, void *addr, size_t size, bool committed,
			   unsigned arena_ind)
{
	struct sl_memcap *m = (struct sl_memcap *)h;

	m->dflt->destroy(m->dflt, addr, size, committed, arena_ind);
	if (__atomic_load_n(&m->armed, __ATOMIC_ACQUIRE))
		__atomic_sub_fetch(&m->mapped, size, __ATOMIC_RELAXED);
}

struct sl_memcap *sl_memcap_create(uint64_t cap_bytes, char *msg, size_t len)
{
	struct sl_memcap *m;
	extent_hooks_t *hooks;
	size_t sz = sizeof(m->dflt);
	unsigned ind;
	int rc;

	if (!sl_memcap_available()) {
		snprintf(msg, len,
			 "this sluice does not run on jemalloc (built with "
			 "-Djemalloc=disabled, as the ASan build is)");
		return NULL;
	}
	/* Never freed: jemalloc keeps calling the hooks as long as the arena exists. */
	m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(msg, len, "out of memory");
		return NULL;
	}
	m->cap = cap_bytes;
	rc = memcap_mallctl("arena.0.extent_hooks", &m->dflt, &sz, NULL, 0);
	if (rc != 0 || !m->dflt || !m->dflt->alloc) {
		snprintf(msg, len, "jemalloc: cannot read the default extent hooks: %s",
			 strerror(rc ? rc : ENOENT));
		free(m);
		return NULL;
	}
	m->hooks = *m->dflt;
	m->hooks.alloc = memcap_alloc;
	m->hooks.dalloc = memcap_dalloc;
	m->hooks.destroy = memcap_destroy;
	hooks = &m->hooks;
	sz = sizeof(ind);
	rc = memcap_mallctl("arenas.create", &ind, &sz, &hooks, sizeof(hooks));
	if (rc != 0) {
		snprintf(msg, len, "jemalloc: arenas.create: %s", strerror(rc));
		free(m);
		return NULL;
	}
	m->arena = ind;
	__atomic_store_n(&m->armed, true, __ATOMIC_RELEASE);
	return m;
}

void sl_memcap_enter(struct sl_memcap *m)
{
	unsigned old = 0;
	size_t sz = sizeof(old);

	if (__builtin_expect(!memcap_tcache_off, 0)) {
		bool off = false;

		/* Once per thread: flushes the cache and frees it. */
		memcap_bymib(memcap_mib_tcache, memcap_n_tcache, NULL, NULL, &off, sizeof(off));
		memcap_tcache_off = true;
	}
	if (memcap_bymib(memcap_mib_arena, memcap_n_arena, &old, &sz, &m->arena,
			 sizeof(m->arena)) == 0)
		memcap_home = old;
	else
		memcap_home = m->arena; /* nothing switched: leave switches nothing back */
	memcap_refused_here = 0;
}

uint64_t sl_memcap_leave(struct sl_memcap *m)
{
	uint64_t n = memcap_refused_here;

	if (memcap_home != m->arena)
		memcap_bymib(memcap_mib_arena, memcap_n_arena, NULL, NULL, &memcap_home,
			     sizeof(memcap_home));
	memcap_refused_here = 0;
	return n;
}

uint64_t sl_memcap_leave_restore(struct sl_memcap *m)
{
	uint64_t n = sl_memcap_leave(m);
	bool on = true;

	if (memcap_tcache_off) {
		memcap_bymib(memcap_mib_tcache, memcap_n_tcache, NULL, NULL, &on, sizeof(on));
		memcap_tcache_off = false;
	}
	return n;
}

void sl_memcap_stats(const struct sl_memcap *m, uint64_t *mapped, uint64_t *peak, uint64_t *refused)
{
	*mapped = __atomic_load_n(&m->mapped, __ATOMIC_RELAXED);
	*peak = __atomic_load_n(&m->peak, __ATOMIC_RELAXED);
	*refused = __atomic_load_n(&m->refused, __ATOMIC_RELAXED);
}

unsigned sl_memcap_arena(const struct sl_memcap *m)
{
	return m->arena;
}

#else /* no jemalloc header: never available */

struct sl_memcap {
	int unused;
};

bool sl_memcap_available(void)
{
	return false;
}

struct sl_memcap *sl_memcap_create(uint64_t cap_bytes, char *msg, size_t len)
{
	(void)cap_bytes;
	snprintf(msg, len, "this sluice was built without jemalloc's header");
	return NULL;
}

void sl_memcap_enter(struct sl_memcap *m)
{
	(void)m;
}

uint64_t sl_memcap_leave(struct sl_memcap *m)
{
	(void)m;
	return 0;
}

uint64_t sl_memcap_leave_restore(struct sl_memcap *m)
{
	(void)m;
	return 0;
}

void sl_memcap_stats(const struct sl_memcap *m, uint64_t *mapped, uint64_t *peak, uint64_t *refused)
{
	(void)m;
	*mapped = *peak = *refused = 0;
}

unsigned sl_memcap_arena(const struct sl_memcap *m)
{
	(void)m;
	return 0;
}

#endif
