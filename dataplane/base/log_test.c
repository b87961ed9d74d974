/*
 * The data-path log limiter (log.h, struct sl_log_limit), on a fake clock: a flood lets
 * exactly SL_LOG_LIMIT_BURST lines through at once, then SL_LOG_LIMIT_RATE a second; the
 * first line after a gap reports how many were held back; a quiet spell refills the burst
 * but never beyond it. The expected counts are worked out here from the two constants.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/log.h"

#define SEC 1000000000ull

/* Offer n lines at now (all at one instant); count those that go and the sum of the
 * suppressed counts they report. */
static uint32_t offer(struct sl_log_limit *l, uint64_t now, uint32_t n, uint64_t *reported)
{
	uint32_t went = 0, s;

	for (uint32_t i = 0; i < n; i++)
		if (sl_log_limit_take(l, now, &s)) {
			went++;
			*reported += s;
		}
	return went;
}

static void test_flood(void **state)
{
	struct sl_log_limit l = { 0 };
	uint64_t rep = 0, t = 5 * SEC;
	uint32_t went;

	(void)state;
	assert_int_equal(offer(&l, t, 1000, &rep), SL_LOG_LIMIT_BURST);
	assert_int_equal(rep, 0);
	/* One refill period later: exactly one line, reporting the 990 held back. */
	t += SEC / SL_LOG_LIMIT_RATE;
	assert_int_equal(offer(&l, t, 100, &rep), 1);
	assert_int_equal(rep, 1000 - SL_LOG_LIMIT_BURST);
	/* A flood of 10,000 lines spread over 10 s lets through RATE a second. */
	rep = 0;
	went = 0;
	for (int i = 0; i < 10000; i++)
		went += offer(&l, t + (uint64_t)i * (10 * SEC / 10000), 1, &rep);
	assert_in_range(went, 10 * SL_LOG_LIMIT_RATE - 1, 10 * SL_LOG_LIMIT_RATE + 1);
	/* Every line offered is accounted for: went, reported as suppressed by a line that
	 * went, or still held (the 99 left over at t included). */
	assert_int_equal(went + rep + l.suppressed, 10000 + 99);
}

static void test_quiet_refills_to_burst(void **state)
{
	struct sl_log_limit l = { 0 };
	uint64_t rep = 0;

	(void)state;
	assert_int_equal(offer(&l, SEC, SL_LOG_LIMIT_BURST, &rep), SL_LOG_LIMIT_BURST);
	/* An hour of quiet: the burst again, not an hour's worth of tokens. */
	assert_int_equal(offer(&l, SEC + 3600 * SEC, 1000, &rep), SL_LOG_LIMIT_BURST);
	/* Half a refill period later: nothing; a full one: one line. */
	assert_int_equal(offer(&l, SEC + 3600 * SEC + SEC / SL_LOG_LIMIT_RATE / 2, 5, &rep), 0);
	assert_int_equal(offer(&l, SEC + 3600 * SEC + SEC / SL_LOG_LIMIT_RATE, 5, &rep), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flood),
		cmocka_unit_test(test_quiet_refills_to_burst),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
