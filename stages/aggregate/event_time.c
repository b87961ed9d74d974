/*
 * Time strings to epoch nanoseconds for the aggregate stage (event_time.h): nginx's
 * $time_local and RFC 3339. Called from process on worker lcores; no allocation, no locale,
 * no libc time functions (timegm and strptime are neither fast nor thread-agnostic).
 */
#include <string.h>

#include "event_time.h"

#define NS_PER_S 1000000000ll

/* n decimal digits at s into *v; false on anything else. */
static bool et_digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (s[i] - '0');
	}
	return true;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (Howard Hinnant's
 * days_from_civil). */
static int64_t et_days(int y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static bool et_valid(int y, int mo, int d, int h, int mi, int s)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	/* int64 nanoseconds span 1677-09-21 to 2262-04-11: whole years inside. */
	return y >= 1678 && y <= 2261 && mo >= 1 && mo <= 12 && d >= 1 && d <= mdays[mo - 1] &&
	       (mo != 2 || d <= 28 || leap) && h <= 23 && mi <= 59 && s <= 60;
}

static int64_t et_ns(int y, int mo, int d, int h, int mi, int s, int64_t frac_ns, int off_s)
{
	int64_t secs = et_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - off_s;

	return secs * NS_PER_S + frac_ns;
}

/* "+hhmm" (colon false) or "+hh:mm" (colon true) into seconds east of UTC. */
static bool et_offset(const char *s, bool colon, int *off)
{
	int h, m;

	if ((s[0] != '+' && s[0] != '-') || !et_digits(s + 1, 2, &h) || (colon && s[3] != ':') ||
	    !et_digits(s + (colon ? 4 : 3), 2, &m) || h > 23 || m > 59)
		return false;
	*off = (h * 3600 + m * 60) * (s[0] == '-' ? -1 : 1);
	return true;
}

/* dd/Mon/yyyy:hh:mm:ss +zzzz */
static bool et_nginx(const char *s, size_t n, int64_t *ns)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	int d, mo = 0, y, h, mi, sec, off;

	if (n != 26 || s[2] != '/' || s[6] != '/' || s[11] != ':' || s[14] != ':' || s[17] != ':' ||
	    s[20] != ' ')
		return false;
	for (int i = 0; i < 12; i++)
		if (memcmp(months + 3 * i, s + 3, 3) == 0)
			mo = i + 1;
	if (!mo || !et_digits(s, 2, &d) || !et_digits(s + 7, 4, &y) || !et_digits(s + 12, 2, &h) ||
	    !et_digits(s + 15, 2, &mi) || !et_digits(s + 18, 2, &sec) ||
	    !et_offset(s + 21, false, &off) || !et_valid(y, mo, d, h, mi, sec))
		return false;
	*ns = et_ns(y, mo, d, h, mi, sec, 0, off);
	return true;
}

/* yyyy-mm-ddThh:mm:ss[.f{1,9}](Z|+hh:mm) */
static bool et_rfc3339(const char *s, size_t n, int64_t *ns)
{
	int y, mo, d, h, mi, sec, off = 0;
	int64_t frac = 0, scale = NS_PER_S;
	size_t i = 19;

	if (n < 20 || s[4] != '-' || s[7] != '-' ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' || s[16] != ':' ||
	    !et_digits(s, 4, &y) || !et_digits(s + 5, 2, &mo) || !et_digits(s + 8, 2, &d) ||
	    !et_digits(s + 11, 2, &h) || !et_digits(s + 14, 2, &mi) ||
	    !et_digits(s + 17, 2, &sec) || !et_valid(y, mo, d, h, mi, sec))
		return false;
	if (s[i] == '.') {
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
			if (i >= 29)
				return false; /* more than nanoseconds */
			scale /= 10;
			frac += (s[i] - '0') * scale;
		}
		if (scale == NS_PER_S)
			return false;
	}
	if (i + 1 == n && (s[i] == 'Z' || s[i] == 'z'))
		off = 0;
	else if (i + 6 != n || !et_offset(s + i, true, &off))
		return false;
	*ns = et_ns(y, mo, d, h, mi, sec, frac, off);
	return true;
}

bool sl_agg_time_parse(const char *s, size_t n, int64_t *ns)
{
	return et_nginx(s, n, ns) || et_rfc3339(s, n, ns);
}
