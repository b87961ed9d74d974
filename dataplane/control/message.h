/*
 * Control protocol messages (docs/control.md): a strict, bounded JSON reader and the
 * request decoder built on it. A request is one line of JSON, at most SL_CTL_MSG_MAX
 * bytes, e.g. {"v":1,"cmd":"stats"}; the decoder checks the version, every field's type
 * and the command name and says what is wrong in a sentence the client prints as is.
 * The reader is also what the clients (`sluice ctl`, `stats`, `top`) parse responses
 * with. Pure functions, callable from any thread; the reader allocates the value tree
 * with malloc and sl_jr_free releases it.
 */
#ifndef SL_CONTROL_MESSAGE_H
#define SL_CONTROL_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_CTL_VERSION	    1		/* protocol version spoken (field "v") */
#define SL_CTL_MSG_MAX	    4096	/* bytes of one request line, newline excluded */
#define SL_CTL_NAME_MAX	    128		/* bytes of a node name in a request */
#define SL_CTL_PATH_MAX	    1024	/* bytes of a file path in a request */
#define SL_CTL_JSON_DEPTH   32		/* nesting the reader accepts */
#define SL_CTL_RESPONSE_MAX (64u << 20) /* bytes of one response a client reads */

enum sl_jr_type {
	SL_JR_NULL = 0,
	SL_JR_BOOL,
	SL_JR_INT, /* integer literal that fits int64_t */
	SL_JR_NUM, /* any other number, as a double */
	SL_JR_STR,
	SL_JR_ARR,
	SL_JR_OBJ,
};

struct sl_jr_val {
	enum sl_jr_type type;
	bool b;
	int64_t i;
	double d;
	char *s; /* SL_JR_STR: decoded UTF-8, NUL-terminated (may hold NULs: see len) */
	size_t len;
	size_t n;		 /* items of an array or pairs of an object */
	char **keys;		 /* SL_JR_OBJ: n keys, decoded, NUL-terminated */
	struct sl_jr_val *items; /* SL_JR_ARR, SL_JR_OBJ: n values */
};

/* Parse exactly one JSON value (RFC 8259; surrounding whitespace allowed) from buf.
 * 0 and *out set, or -EINVAL with a message in err, or -ENOMEM. Nesting deeper than
 * max_depth is an error. Strings must be valid UTF-8; \u escapes are decoded. */
int sl_jr_parse(const char *buf, size_t len, int max_depth, struct sl_jr_val *out, char *err,
		size_t err_len);
void sl_jr_free(struct sl_jr_val *v);
/* Member of an object by key, NULL when absent or v is not an object. */
const struct sl_jr_val *sl_jr_get(const struct sl_jr_val *v, const char *key);
/* "an integer", "a string", ...: for messages. */
const char *sl_jr_type_name(enum sl_jr_type t);

enum sl_ctl_cmd {
	SL_CTL_CMD_PING = 0,
	SL_CTL_CMD_VERSION,
	SL_CTL_CMD_NODES,
	SL_CTL_CMD_STATS,
	SL_CTL_CMD_STOP,
	SL_CTL_CMD_TAP,
	SL_CTL_CMD_SWAP,
	SL_CTL_CMD_RELOAD,
	SL_CTL_CMD_SCALE,
	SL_CTL_CMD_N,
};

struct sl_ctl_request {
	uint32_t v;
	enum sl_ctl_cmd cmd;
	bool has_id;
	uint64_t id; /* "id": echoed in the response (0 .. 2^53 - 1) */
	bool has_node;
	char node[SL_CTL_NAME_MAX + 1]; /* "node": restrict stats / nodes to one node; tap's node */
	/* tap only */
	bool has_output;
	char output[SL_CTL_NAME_MAX + 1]; /* "output": one output of the node (default: all) */
	int64_t limit;			  /* "limit": events, then done (default 100) */
	double rate;			  /* "rate": samples per second at most (default 100) */
	/* swap (required: the plugin) and reload (optional: the pipeline file) */
	bool has_path;
	char path[SL_CTL_PATH_MAX + 1]; /* "path": absolute, as the client resolved it */
	/* scale: "replicas": N (pin, 0 .. SL_CTL_SCALE_MAX) or "auto" (-1) */
	int32_t replicas;
};

#define SL_CTL_SCALE_MAX 64 /* the most `scale: max` allows (config.h) */

#define SL_CTL_TAP_LIMIT_DEFAULT 100
#define SL_CTL_TAP_LIMIT_MAX	 1000000
#define SL_CTL_TAP_RATE_DEFAULT	 100.0
#define SL_CTL_TAP_RATE_MIN	 0.001 /* one sample per 1,000 s */
#define SL_CTL_TAP_RATE_MAX	 100000.0

/* Decode one request (the line without its newline). 0, or -EINVAL with the reason in
 * err; req->has_id and req->id are set as soon as the id was read, so an error response
 * can still carry it. */
int sl_ctl_request_decode(const char *buf, size_t len, struct sl_ctl_request *req, char *err,
			  size_t err_len);
const char *sl_ctl_cmd_name(enum sl_ctl_cmd cmd);
/* Whether the command changes the running process (logged with the peer's uid). */
bool sl_ctl_cmd_changes_state(enum sl_ctl_cmd cmd);

#endif
