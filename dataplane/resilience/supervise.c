/*
 * The supervisor behind `sluice run --supervise` (see supervise.h). Single-threaded; runs
 * in the parent process only, which never starts the EAL. The child gets its own process
 * group (a terminal's Ctrl-C reaches the supervisor, which passes it on exactly once) and
 * PR_SET_PDEATHSIG, so it does not outlive a supervisor killed with SIGKILL.
 */
#include "supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"

#define SUPERVISE_DELAY_MAX_MS 5000u
#define SUPERVISE_MAX_CRASHES  1024u

static volatile sig_atomic_t sup_stop;
static volatile pid_t sup_child;

static void sup_on_signal(int sig)
{
	static struct timespec last;
	struct timespec now;

	/* The same request twice in 100 ms (timeout(1) signals its child and then its
	 * process group) is passed on once: a second one would force the child to stop. */
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (sup_stop == sig &&
	    (now.tv_sec - last.tv_sec) * 1000000000L + (now.tv_nsec - last.tv_nsec) < 100000000L)
		return;
	last = now;
	sup_stop = sig;
	if (sup_child > 0)
		kill(sup_child, sig);
}

static double sup_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The child's blame record (one JSON line), or "" when it wrote none. */
static void sup_read_blame(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, len - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

/* The text of "key":"value" (or a bare value) in a blame record, "?" when absent. Our
 * own writer's output: strings hold no escaped quotes (stage names, kinds, versions). */
static void sup_field(const char *rec, const char *key, char *out, size_t len)
{
	char pat[32];
	const char *p;
	size_t n = 0;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(rec, pat);
	snprintf(out, len, "?");
	if (!p)
		return;
	p += strlen(pat);
	if (*p == '"')
		p++;
	while (p[n] && p[n] != '"' && p[n] != ',' && p[n] != '}' && n + 1 < len)
		n++;
	memcpy(out, p, n);
	out[n] = '\0';
}

/* "SIGSEGV at 0x10 in stage 'risky' (crash_on 1.0.0, plugin ./x.so)" from a record. */
static void sup_summary(const char *rec, char *out, size_t len)
{
	char sig[16], addr[24], stage[64], use[64], ver[32], plugin[256];

	if (!rec[0]) {
		snprintf(out, len,
			 "no blame record (the fault was outside any stage, or the "
			 "blame file could not be written)");
		return;
	}
	sup_field(rec, "signame", sig, sizeof(sig));
	sup_field(rec, "fault_addr", addr, sizeof(addr));
	sup_field(rec, "stage", stage, sizeof(stage));
	sup_field(rec, "use", use, sizeof(use));
	sup_field(rec, "version", ver, sizeof(ver));
	sup_field(rec, "plugin", plugin, sizeof(plugin));
	if (strcmp(stage, "null") == 0)
		snprintf(out, len, "%s at %s outside any stage", sig, addr);
	else
		snprintf(out, len, "%s at %s in stage '%s' (%s %s%s%s)", sig, addr, stage, use, ver,
			 strcmp(plugin, "null") ? ", plugin " : "",
			 strcmp(plugin, "null") ? plugin : "");
}

/* Sleep ms unless told to stop. */
static void sup_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (!sup_stop && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int sl_supervise(char **argv, const struct sl_supervise_opts *o)
{
	static const int fwd[] = { SIGINT, SIGTERM, SIGHUP };
	unsigned max = o->max_crashes ? o->max_crashes : 5;
	double window = o->window_s > 0 ? o->window_s : 60;
	unsigned delay = o->delay_ms ? o->delay_ms : 100;
	double *crashes;
	unsigned n_crashes = 0, in_a_row = 0, restarts = 0;
	struct sigaction sa;
	char blame[4096], summary[512];

	if (max > SUPERVISE_MAX_CRASHES)
		max = SUPERVISE_MAX_CRASHES;
	crashes = calloc(max, sizeof(*crashes));
	if (!crashes)
		return 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sup_on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(fwd) / sizeof(fwd[0]); i++)
		sigaction(fwd[i], &sa, NULL);
	for (;;) {
		pid_t parent = getpid(), pid;
		double started;
		int st, sig;

		/* A stale record must not be taken for this child's. */
		unlink(o->blame_file);
		pid = fork();
		if (pid < 0) {
			SL_ERR("supervise", "cannot fork: %s", strerror(errno));
			free(crashes);
			return 1;
		}
		if (pid == 0) {
			struct sigaction dfl;

			memset(&dfl, 0, sizeof(dfl));
			dfl.sa_handler = SIG_DFL;
			for (size_t i = 0; i < sizeof(fwd) / sizeof(fwd[0]); i++)
				sigaction(fwd[i], &dfl, NULL);
			setpgid(0, 0);
			prctl(PR_SET_PDEATHSIG, SIGTERM);
			if (getppid() != parent)
				_exit(1);
			execv("/proc/self/exe", argv);
			fprintf(stderr, "sluice: supervise: cannot run /proc/self/exe: %s\n",
				strerror(errno));
			_exit(127);
		}
		sup_child = pid;
		started = sup_now_s();
		if (restarts == 0)
			SL_INFO("supervise", "started child %d", (int)pid);
		while (waitpid(pid, &st, 0) < 0)
			if (errno != EINTR) {
				SL_ERR("supervise", "waitpid: %s", strerror(errno));
				free(crashes);
				return 1;
			}
		sup_child = 0;
		if (WIFEXITED(st)) {
			if (restarts)
				SL_INFO("supervise",
					"child %d exited with status %d after %u restart(s)",
					(int)pid, WEXITSTATUS(st), restarts);
			free(crashes);
			return WEXITSTATUS(st);
		}
		sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
		if (sup_stop) {
			SL_NOTICE("supervise", "child %d ended by %s after a stop; not restarting",
				  (int)pid, strsignal(sig));
			free(crashes);
			return 128 + sig;
		}
		sup_read_blame(o->blame_file, blame, sizeof(blame));
		/* Crashes older than the window no longer count. */
		{
			double now = sup_now_s();
			unsigned k = 0;

			for (unsigned i = 0; i < n_crashes; i++)
				if (now - crashes[i] <= window)
					crashes[k++] = crashes[i];
			n_crashes = k;
			if (n_crashes == max) {
				memmove(crashes, crashes + 1, (max - 1) * sizeof(*crashes));
				n_crashes--;
			}
			crashes[n_crashes++] = now;
			in_a_row = now - started < window ? in_a_row + 1 : 1;
		}
		SL_ERR("supervise",
		       "child %d died of %s after %.3f s (crash %u of %u allowed within %g s)",
		       (int)pid, strsignal(sig), sup_now_s() - started, n_crashes, max, window);
		sup_summary(blame, summary, sizeof(summary));
		SL_ERR("supervise", "blame: %s (record in %s)", summary, o->blame_file);
		if (n_crashes >= max) {
			SL_ERR("supervise",
			       "giving up: %u crashes within %g s; the last: %s. Fix or remove the "
			       "stage, or move the events that trigger it away, then start again",
			       n_crashes, window, summary);
			free(crashes);
			return 1;
		}
		{
			unsigned ms = delay;

			for (unsigned i = 1; i < in_a_row && ms < SUPERVISE_DELAY_MAX_MS; i++)
				ms *= 2;
			if (ms > SUPERVISE_DELAY_MAX_MS)
				ms = SUPERVISE_DELAY_MAX_MS;
			SL_NOTICE("supervise", "restarting in %u ms", ms);
			sup_sleep_ms(ms);
		}
		if (sup_stop) {
			free(crashes);
			return 128 + sup_stop;
		}
		restarts++;
	}
}
