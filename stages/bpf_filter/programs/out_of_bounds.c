/* Rejected at load: reads past the end of struct sl_bpf_ctx. */
#include "../bpf_ctx.h"

uint64_t out_of_bounds(const struct sl_bpf_ctx *c)
{
	return ((const int64_t *)c)[SL_BPF_FIELDS_MAX + 8];
}
