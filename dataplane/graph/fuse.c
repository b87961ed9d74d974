/*
 * Chain fusion: the rule for which edges are fused (see fuse.h), run once per edge and
 * producer replica when the pipeline is built.
 */
#include "fuse.h"

bool sl_fuse_allowed(const struct sl_fuse_edge *e, const char **why)
{
	const char *no = NULL;

	/* Each condition keeps one property of the ring hop that a direct call would lose. */
	if (e->disabled)
		no = "fuse: false";
	else if (e->consumer_role == SL_NODE_SOURCE)
		no = "consumer is a source";
	else if (e->consumer_replicas != 1 || e->consumer_rings != 1)
		no = "consumer has replicas"; /* lanes and work stealing need the rings */
	else if (e->consumer_scaled || e->producer_scaled)
		no = "autoscaled"; /* replicas move between task lists */
	else if (e->consumer_inputs != 1)
		no = "consumer has several inputs";
	else if (e->consumer_isolated)
		no = "consumer is isolated";
	else if (e->consumer_lcore != e->producer_lcore)
		no = "other lcore"; /* the consumer's task must stay its only caller's thread */
	if (why)
		*why = no;
	return no == NULL;
}
