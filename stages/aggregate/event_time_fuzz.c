/*
 * Fuzz target for event-time parsing (sl_agg_time_parse), which reads time strings out of
 * events for the aggregate stage's event-time buckets and the expression language's time
 * functions: any bytes are parsed. The verdict and the value must equal a second reading
 * written here, which checks the layout character by character and leaves the calendar to
 * glibc: timegm for the seconds, gmtime_r to refuse dates that do not exist (timegm would
 * roll 31 April into 1 May). Every build replays tests/fuzz/corpus/event_time (clang
 * builds through libFuzzer, gcc builds through tests/lib/fuzz_replay.c); -Dfuzz=true builds
 * it for fuzzing.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "event_time.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The n characters at s are digits: their value, or -1. */
static int num(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + s[i] - '0';
	}
	return v;
}

/* The UTC time of the fields (sec 60 is the leap second, one past :59), or false when
 * the date or time does not exist or the year is outside 1678..2261. */
static bool utc(int y, int mo, int d, int h, int mi, int sec, int64_t *t)
{
	struct tm tm = { .tm_year = y - 1900,
			 .tm_mon = mo - 1,
			 .tm_mday = d,
			 .tm_hour = h,
			 .tm_min = mi,
			 .tm_sec = sec == 60 ? 59 : sec };
	struct tm back;
	time_t x;

	if (y < 1678 || y > 2261 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 60)
		return false;
	x = timegm(&tm);
	if (!gmtime_r(&x, &back) || back.tm_year != y - 1900 || back.tm_mon != mo - 1 ||
	    back.tm_mday != d)
		return false;
	*t = (int64_t)x + (sec == 60);
	return true;
}

/* "+hh" then "mm" or ":mm" at s as seconds east of UTC; false on anything else. */
static bool zone(const char *s, bool colon, int *off)
{
	int h = num(s + 1, 2), m = colon ? (s[3] == ':' ? num(s + 4, 2) : -1) : num(s + 3, 2);

	if ((s[0] != '+' && s[0] != '-') || h < 0 || h > 23 || m < 0 || m > 59)
		return false;
	*off = (s[0] == '-' ? -1 : 1) * (h * 3600 + m * 60);
	return true;
}

static bool ref_nginx(const char *s, size_t n, int64_t *ns)
{
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	int mo = 0, off;
	int64_t t;

	if (n != 26 || s[2] != '/' || s[6] != '/' || s[11] != ':' || s[14] != ':' || s[17] != ':' ||
	    s[20] != ' ')
		return false;
	for (int i = 0; i < 12; i++)
		if (memcmp(s + 3, mon[i], 3) == 0)
			mo = i + 1;
	if (!zone(s + 21, false, &off) || num(s, 2) < 0 || num(s + 7, 4) < 0 ||
	    num(s + 12, 2) < 0 || num(s + 15, 2) < 0 || num(s + 18, 2) < 0 ||
	    !utc(num(s + 7, 4), mo, num(s, 2), num(s + 12, 2), num(s + 15, 2), num(s + 18, 2), &t))
		return false;
	*ns = (t - off) * 1000000000ll;
	return true;
}

static bool ref_rfc3339(const char *s, size_t n, int64_t *ns)
{
	size_t i = 19, digits = 0;
	int64_t t, frac = 0;
	int off = 0;

	if (n < 20 || s[4] != '-' || s[7] != '-' ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' || s[16] != ':')
		return false;
	for (int k = 0; k < 19; k++)
		if (k != 4 && k != 7 && k != 10 && k != 13 && k != 16 && num(s + k, 1) < 0)
			return false;
	if (!utc(num(s, 4), num(s + 5, 2), num(s + 8, 2), num(s + 11, 2), num(s + 14, 2),
		 num(s + 17, 2), &t))
		return false;
	if (s[i] == '.') {
		for (i++; i < n && num(s + i, 1) >= 0; i++, digits++)
			if (digits < 9)
				frac = frac * 10 + s[i] - '0';
		if (digits < 1 || digits > 9)
			return false;
		for (size_t k = digits; k < 9; k++)
			frac *= 10;
	}
	if (n == i + 1 && (s[i] == 'Z' || s[i] == 'z'))
		off = 0;
	else if (n != i + 6 || !zone(s + i, true, &off))
		return false;
	*ns = (t - off) * 1000000000ll + frac;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	int64_t got = 0, want = 0;
	bool ok = sl_agg_time_parse(s, size, &got);
	bool ref = ref_nginx(s, size, &want) || ref_rfc3339(s, size, &want);

	if (ok != ref || (ok && got != want))
		__builtin_trap();
	return 0;
}
