/*
 * Scaling policy: a pure function from one stage's samples and the time to the number of
 * replicas it should run (docs/scaling.md, "Policy"). Knative's autoscaler is the model:
 * the load (cores of work the replicas did, busy cycles / elapsed cycles) is averaged over
 * a long stable window and a short panic window; desired = ceil(load / target). A panic
 * (short-window desire at least panic_threshold times the running count, or the input
 * ring above queue_high) scales up at once and never down until it has been over for a
 * stable window. Scaling down waits down_delay_ns after any change and uses a lower
 * target (hysteresis), so a load near a threshold does not flap. With min 0, a stage with
 * no arrivals and an empty ring for idle_ns goes to zero; any queued or arriving event
 * asks for one replica. The controller (scale.c) calls it once per tick per stage; the
 * unit tests call it with a fake clock. No allocation, no I/O, no global state.
 */
#ifndef SL_SCALE_POLICY_H
#define SL_SCALE_POLICY_H

#include <stdbool.h>
#include <stdint.h>

/* Samples kept per stage: the stable window holds at most this many ticks. */
#define SL_SCALE_HISTORY 1024

struct sl_scale_params {
	uint32_t min, max;	/* replicas (scale: {min, max}) */
	double target;		/* load per replica to scale up beyond (0.7) */
	double down_target;	/* load per replica to scale down below (0.5; <= target) */
	double panic_threshold; /* panic when the panic window wants this x running (2.0) */
	double queue_high;	/* panic when the ring is fuller than this fraction (0.25) */
	uint64_t stable_ns;	/* stable window (100 ms) */
	uint64_t panic_ns;	/* panic window (2 ms) */
	uint64_t down_delay_ns; /* no scale-down sooner than this after a change (100 ms) */
	uint64_t idle_ns;	/* min 0: idle this long before going to zero (100 ms) */
};

/* One tick of one stage. */
struct sl_scale_sample {
	uint64_t now_ns;
	uint32_t replicas; /* running when the sample was taken */
	double busy;	   /* cores of work since the previous sample (busy / elapsed cycles) */
	uint64_t queued;   /* events in the input ring(s) */
	uint64_t capacity; /* of the input ring(s) */
	uint64_t arrived;  /* events that entered the ring(s) since the previous sample */
};

struct sl_scale_hist {
	uint64_t t;
	double busy;
};

struct sl_scale_state {
	struct sl_scale_hist hist[SL_SCALE_HISTORY];
	uint32_t head, n;      /* ring of the last n samples, oldest at head */
	bool panic;	       /* in panic mode */
	uint64_t panic_end_ns; /* panic mode ends at this time unless renewed */
	uint32_t panic_floor;  /* no fewer replicas than this while in panic */
	uint64_t last_change_ns;
	uint64_t last_active_ns; /* last sample with arrivals, a queue or work */
	uint32_t last_desired;
	bool started;
};

/* Defaults above for min..max. */
void sl_scale_params_default(struct sl_scale_params *p, uint32_t min, uint32_t max);
void sl_scale_state_init(struct sl_scale_state *s);

/* Replicas the stage should run after this sample, in [min, max]. */
uint32_t sl_scale_policy(const struct sl_scale_params *p, struct sl_scale_state *s,
			 const struct sl_scale_sample *x);

/*
 * The core budget across stages: grant[i] in [min[i], want[i]] so that the sum stays
 * within cores (mins are granted even past it: a config check keeps their sum within
 * cores). What is left after the mins goes one replica at a time to the stage with the
 * largest unmet share of its want (ties: the lower index). cores 0: no budget.
 */
void sl_scale_budget(uint32_t n, const uint32_t *want, const uint32_t *min, uint32_t cores,
		     uint32_t *grant);

#endif
