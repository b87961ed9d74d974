/*
 * The table of source kinds (looked up by the config loader and the runtime on the control
 * thread) and helpers every file-backed source or sink shares: the line room of an event
 * and io_uring set-up with its pread/pwrite fallback policy. Owns no per-source state.
 */
#include "source.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <liburing.h>
#include <rte_mbuf.h>

#include "base/check.h"
#include "base/log.h"
#include "event/event.h"
#include "sink/dlq.h"

static const struct sl_source_ops *const source_kinds[] = {
	&sl_source_file, &sl_source_gen, &sl_source_dlq, &sl_source_dpdk, &sl_source_pktgen,
};

const struct sl_source_ops *sl_source_find(const char *type)
{
	for (size_t i = 0; i < SL_ARRAY_SIZE(source_kinds); i++)
		if (strcmp(source_kinds[i]->type, type) == 0)
			return source_kinds[i];
	return NULL;
}

const struct sl_source_ops *sl_source_at(uint32_t i)
{
	return i < SL_ARRAY_SIZE(source_kinds) ? source_kinds[i] : NULL;
}

uint32_t sl_source_line_room(struct rte_mempool *pool)
{
	/* Enlarged if need be (event.h); a source copies into a small event first. */
	uint32_t room = sl_event_line_max(pool);

	/* meta->raw_len is 16 bits wide. */
	return room > UINT16_MAX ? UINT16_MAX : room;
}

bool sl_io_uring_init(struct io_uring *ring, unsigned entries, const char *comp)
{
	/* Control thread only (sources and sinks are created there), so a plain flag is
	 * enough to keep the fallback warning to one per process. */
	static bool warned;
	const char *no = getenv("SLUICE_NO_URING");
	int rc;

	if (no && strcmp(no, "1") == 0) {
		if (!warned)
			SL_INFO(comp, "SLUICE_NO_URING=1: using pread/pwrite instead of io_uring");
		warned = true;
		return false;
	}
	rc = io_uring_queue_init(entries, ring, 0);
	if (rc == 0) {
		/* Filesystems without nowait reads (tmpfs among them) hand every request to
		 * kernel worker threads. One worker per ring keeps requests in file order and
		 * keeps the copying from taking more cores away from the lcores; filesystems
		 * with nowait support (ext4, xfs) complete inline and never use it. */
		unsigned max_workers[2] = { 1, 0 };

		io_uring_register_iowq_max_workers(ring, max_workers);
		return true;
	}
	if (!warned && (rc == -EMFILE || rc == -ENFILE))
		SL_WARN(comp,
			"io_uring unavailable (%s): using pread/pwrite; raise the open-file "
			"limit (ulimit -n)",
			strerror(-rc));
	else if (!warned)
		SL_WARN(comp,
			"io_uring unavailable (%s): using pread/pwrite; check sysctl "
			"kernel.io_uring_disabled and seccomp policy",
			strerror(-rc));
	warned = true;
	return false;
}
