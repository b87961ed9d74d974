/*
 * `sluice run --supervise`: the parent stays out of the dataplane (no EAL, no pipeline)
 * and runs the real `sluice run` as a child. A child that dies of a signal is restarted
 * after a backoff (delay_ms, doubling per crash in a row, at most 5 s), with its blame
 * record (blame.h) logged; after max_crashes crashes within window_s seconds the
 * supervisor gives up with a message naming the count, the window and the last blame.
 * A child that exits (any status) ends the supervisor with that status. SIGINT, SIGTERM
 * and SIGHUP are passed on to the child, which then drains as usual and is not restarted.
 * docs/resilience.md.
 */
#ifndef SL_RESILIENCE_SUPERVISE_H
#define SL_RESILIENCE_SUPERVISE_H

struct sl_supervise_opts {
	unsigned max_crashes;	/* give up at this many crashes within window_s (default 5) */
	double window_s;	/* default 60 */
	unsigned delay_ms;	/* first restart delay (default 100) */
	const char *blame_file; /* the child's --blame-file */
};

/* Run argv (argv[0] is ignored: /proc/self/exe runs) as the supervised child until it
 * exits, the supervisor is told to stop, or it gives up. argv must already carry
 * --blame-file opts->blame_file and no --supervise. Returns the exit status to use. */
int sl_supervise(char **argv, const struct sl_supervise_opts *opts);

#endif
