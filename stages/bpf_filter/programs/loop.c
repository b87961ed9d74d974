/* Rejected at load: a loop whose trip count depends on the event (a back edge): the
 * number of Collatz steps from the first field, which no compiler can fold away. */
#include "../bpf_ctx.h"

uint64_t loop(const struct sl_bpf_ctx *c)
{
	uint64_t x = (uint64_t)c->v[0], n = 0;

	while (x > 1) {
		x = (x & 1) ? 3 * x + 1 : x / 2;
		n++;
	}
	return n;
}
