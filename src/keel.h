/* src/keel.h: types shared by every keel module: results, Kafka error codes, byte slices. */
#ifndef KEEL_H
#define KEEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* Kafka wire error codes keep their protocol values (>= -1); keel-internal
 * results live in a separate range below -1000 so they can never be confused
 * with a code sent to a client. */
typedef enum {
	KEEL_OK = 0,
	KERR_UNKNOWN_SERVER_ERROR = -1,
	KERR_NONE = 0,
	KERR_OFFSET_OUT_OF_RANGE = 1,
	KERR_CORRUPT_MESSAGE = 2,
	KERR_UNKNOWN_TOPIC_OR_PARTITION = 3,
	KERR_INVALID_FETCH_SIZE = 4,
	KERR_LEADER_NOT_AVAILABLE = 5,
	KERR_NOT_LEADER_OR_FOLLOWER = 6,
	KERR_REQUEST_TIMED_OUT = 7,
	KERR_BROKER_NOT_AVAILABLE = 8,
	KERR_MESSAGE_TOO_LARGE = 10,
	KERR_STALE_CONTROLLER_EPOCH = 11,
	KERR_OFFSET_METADATA_TOO_LARGE = 12,
	KERR_COORDINATOR_LOAD_IN_PROGRESS = 14,
	KERR_COORDINATOR_NOT_AVAILABLE = 15,
	KERR_NOT_COORDINATOR = 16,
	KERR_INVALID_TOPIC_EXCEPTION = 17,
	KERR_RECORD_LIST_TOO_LARGE = 18,
	KERR_NOT_ENOUGH_REPLICAS = 19,
	KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20,
	KERR_INVALID_REQUIRED_ACKS = 21,
	KERR_ILLEGAL_GENERATION = 22,
	KERR_INCONSISTENT_GROUP_PROTOCOL = 23,
	KERR_INVALID_GROUP_ID = 24,
	KERR_UNKNOWN_MEMBER_ID = 25,
	KERR_INVALID_SESSION_TIMEOUT = 26,
	KERR_REBALANCE_IN_PROGRESS = 27,
	KERR_INVALID_COMMIT_OFFSET_SIZE = 28,
	KERR_INVALID_TIMESTAMP = 32,
	KERR_UNSUPPORTED_VERSION = 35,
	KERR_TOPIC_ALREADY_EXISTS = 36,
	KERR_INVALID_PARTITIONS = 37,
	KERR_INVALID_REPLICATION_FACTOR = 38,
	KERR_INVALID_REPLICA_ASSIGNMENT = 39,
	KERR_INVALID_CONFIG = 40,
	KERR_NOT_CONTROLLER = 41,
	KERR_INVALID_REQUEST = 42,
	KERR_KAFKA_STORAGE_ERROR = 56,
	KERR_NON_EMPTY_GROUP = 68,
	KERR_GROUP_ID_NOT_FOUND = 69,
	KERR_TOPIC_DELETION_DISABLED = 73,
	KERR_FENCED_LEADER_EPOCH = 74,
	KERR_UNSUPPORTED_COMPRESSION_TYPE = 76,
	KERR_STALE_BROKER_EPOCH = 77,
	KERR_UNKNOWN_LEADER_EPOCH = 75,
	KERR_MEMBER_ID_REQUIRED = 79,
	KERR_PREFERRED_LEADER_NOT_AVAILABLE = 80,
	KERR_GROUP_MAX_SIZE_REACHED = 81,
	KERR_FENCED_INSTANCE_ID = 82,
	KERR_ELIGIBLE_LEADERS_NOT_AVAILABLE = 83,
	KERR_ELECTION_NOT_NEEDED = 84,
	KERR_NO_REASSIGNMENT_IN_PROGRESS = 85,
	KERR_GROUP_SUBSCRIBED_TO_TOPIC = 86,
	KERR_INVALID_RECORD = 87,
	KERR_INVALID_UPDATE_VERSION = 95,

	/* keel-internal results: never on the wire. */
	KEEL_ERR = -1001,       /* generic failure, errno or the log says why */
	KEEL_AGAIN = -1002,     /* would block / not ready yet */
	KEEL_NOMEM = -1003,
	KEEL_NOTFOUND = -1004,
	KEEL_EXISTS = -1005,
	KEEL_CORRUPT = -1006,   /* on-disk data failed a check */
} keel_err_t;

/* A borrowed view of bytes owned by someone else (a request buffer, a mapping).
 * Never freed through the slice; copy anything that must outlive the owner. */
typedef struct {
	const uint8_t *ptr;
	size_t len;
} keel_slice_t;

/* Milliseconds since the epoch (wall clock) and a monotonic clock in ms. */
int64_t keel_now_ms(void);
int64_t keel_mono_ms(void);

/* Replicas a partition may have (CreateTopics and reassignments refuse more). */
#define KEEL_MAX_REPLICAS 16

/* qsort and bsearch that accept an empty array given as NULL (the libc ones may not be
 * handed NULL even for zero elements). */
static inline void keel_qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

static inline void *keel_bsearch(const void *key, const void *base, size_t n, size_t size,
				 int (*cmp)(const void *, const void *))
{
	return n ? bsearch(key, base, n, size, cmp) : NULL;
}

#define KEEL_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
