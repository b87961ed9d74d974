/*
 * A memory cap for an in-process stage (`memory: SIZE` with `isolation: none`,
 * docs/resilience.md). The stage gets a jemalloc arena of its own whose extent hooks count
 * the bytes the arena maps and refuse (return NULL) a mapping past the cap, so malloc in
 * the stage's code returns NULL instead of growing the process. Around each call of the
 * stage (per burst, and its init and fini) the calling thread switches to that arena
 * (`thread.arena`); a thread that does so runs without jemalloc's thread cache, so what
 * the stage allocates comes from its arena and what it frees does not feed the runtime's
 * (memcap.c says why and what it costs).
 *
 * jemalloc is looked up at run time (dlsym of mallctl): a sluice linked with it has it;
 * the ASan build (-Djemalloc=disabled) and the unit tests do not, and sl_memcap_create
 * fails there (config refuses the key).
 */
#ifndef SL_RESILIENCE_MEMCAP_H
#define SL_RESILIENCE_MEMCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sl_memcap;

/* True when the process allocator is jemalloc with its mallctl interface. */
bool sl_memcap_available(void);

/*
 * A new arena capped at cap_bytes of mapped memory. Control thread. NULL with a message in
 * msg when jemalloc is missing or refuses. The arena and this object live as long as the
 * process (a jemalloc arena cannot be removed while memory the stage handed out may still
 * be in use): one per stage with `memory:` per load of the pipeline file.
 */
struct sl_memcap *sl_memcap_create(uint64_t cap_bytes, char *msg, size_t len);

/* Make the calling thread allocate from m's arena until sl_memcap_leave. Not nested. The
 * first call on a thread turns its thread cache off for good. */
void sl_memcap_enter(struct sl_memcap *m);

/* Back to the thread's own arena. Returns how many allocations the cap refused on this
 * thread since sl_memcap_enter (0 almost always). */
uint64_t sl_memcap_leave(struct sl_memcap *m);

/* sl_memcap_leave, and the thread's cache back on: for a one-off call (init, fini) on a
 * thread that allocates otherwise (the control thread). */
uint64_t sl_memcap_leave_restore(struct sl_memcap *m);

/* Bytes m's arena maps now, at most so far, and allocations refused in all. */
void sl_memcap_stats(const struct sl_memcap *m, uint64_t *mapped, uint64_t *peak,
		     uint64_t *refused);

/* The jemalloc arena index (for tests and logs). */
unsigned sl_memcap_arena(const struct sl_memcap *m);

#endif
