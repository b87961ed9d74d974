/* Keep events whose first field (status) is 500 or more: the same answer as the native
 * `filter` stage with where: "status >= 500" (tests/integration/bpf_filter.sh). */
#include "../bpf_ctx.h"

uint64_t status_ge_500(const struct sl_bpf_ctx *c)
{
	return (c->present & 1) && c->v[0] >= 500;
}
