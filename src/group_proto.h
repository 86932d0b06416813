/* src/group_proto.h: the consumer-group APIs on the wire: request decoders and response
 * encoders at the versions keel advertises, into and from plain structs.
 *
 * Decoders take the body reader (after the request header) and the request version; they set
 * r->flex from the version, read the whole body and return 0, or -1 on malformed input or a
 * version outside the range (the caller closes the connection), having freed what they
 * allocated. Strings and bytes are slices into the request buffer; a slice whose ptr is NULL
 * is null. Arrays are malloc'd; each request with arrays has a free function.
 *
 * Encoders append the response body (after the response header) to w, set w->flex from the
 * version, and return 0, or -1 for a version outside the range or when w ran out of memory.
 * throttle_time_ms is always written as 0: keel has no quotas. A non-nullable field given a
 * NULL slice is written empty. Pure functions: any thread. */
#ifndef KEEL_GROUP_PROTO_H
#define KEEL_GROUP_PROTO_H

#include "group_records.h"

/* The highest version keel takes of each API (the lowest is 0), and the first flexible one
 * where that is in range. */
#define KEEL_FIND_COORDINATOR_MAX 3
#define KEEL_FIND_COORDINATOR_FLEX 3
#define KEEL_JOIN_GROUP_MAX 5
#define KEEL_SYNC_GROUP_MAX 3
#define KEEL_HEARTBEAT_MAX 3
#define KEEL_LEAVE_GROUP_MAX 3
#define KEEL_OFFSET_COMMIT_MAX 7
#define KEEL_OFFSET_FETCH_MAX 7
#define KEEL_OFFSET_FETCH_FLEX 6
#define KEEL_DESCRIBE_GROUPS_MAX 4
#define KEEL_LIST_GROUPS_MAX 4
#define KEEL_LIST_GROUPS_FLEX 3
#define KEEL_DELETE_GROUPS_MAX 1
#define KEEL_OFFSET_DELETE_MAX 0

#define KEEL_AUTH_OPS_NONE INT32_MIN /* DescribeGroups: authorized operations not asked for */

/* A list of strings: DescribeGroups and DeleteGroups group ids, ListGroups states. */
typedef struct {
	int32_t n;
	keel_slice_t *v; /* malloc'd */
} keel_str_list_t;

void keel_str_list_free(keel_str_list_t *l);

/* ---- FindCoordinator ---- */

typedef struct {
	keel_slice_t key;
	int8_t key_type; /* 0 group, 1 transaction; 0 before v1 */
} keel_find_coord_req_t;

typedef struct {
	int16_t error;
	keel_slice_t error_message; /* v1+, nullable */
	int32_t node_id;
	keel_slice_t host;
	int32_t port;
} keel_find_coord_resp_t;

int keel_find_coord_req_decode(kr_t *r, int16_t version, keel_find_coord_req_t *q);
int keel_find_coord_resp_encode(kw_t *w, int16_t version, const keel_find_coord_resp_t *p);

/* ---- JoinGroup ---- */

typedef struct {
	keel_slice_t name;
	keel_slice_t metadata;
} keel_join_protocol_t;

typedef struct {
	keel_slice_t group_id;
	int32_t session_timeout;
	int32_t rebalance_timeout;  /* v0 has none: the session timeout, as Kafka reads it */
	keel_slice_t member_id;
	keel_slice_t instance_id;   /* v5+, nullable */
	keel_slice_t protocol_type;
	int32_t nprotocols;
	keel_join_protocol_t *protocols;
} keel_join_req_t;

typedef struct {
	keel_slice_t member_id;
	keel_slice_t instance_id;   /* v5+, nullable */
	keel_slice_t metadata;
} keel_join_member_t;

typedef struct {
	int16_t error;
	int32_t generation;
	keel_slice_t protocol_name;
	keel_slice_t leader;
	keel_slice_t member_id;
	int32_t nmembers;           /* the leader's view; 0 for the others */
	const keel_join_member_t *members;
} keel_join_resp_t;

int keel_join_req_decode(kr_t *r, int16_t version, keel_join_req_t *q);
void keel_join_req_free(keel_join_req_t *q);
int keel_join_resp_encode(kw_t *w, int16_t version, const keel_join_resp_t *p);

/* ---- Heartbeat, and the head of SyncGroup: who is speaking for which generation ---- */

typedef struct {
	keel_slice_t group_id;
	int32_t generation;
	keel_slice_t member_id;
	keel_slice_t instance_id;   /* v3+, nullable */
} keel_member_ref_t;

int keel_heartbeat_req_decode(kr_t *r, int16_t version, keel_member_ref_t *q);
int keel_heartbeat_resp_encode(kw_t *w, int16_t version, int16_t error);

/* ---- SyncGroup ---- */

typedef struct {
	keel_slice_t member_id;
	keel_slice_t assignment;
} keel_sync_assignment_t;

typedef struct {
	keel_member_ref_t m;
	int32_t nassignments;       /* the leader's; 0 from the others */
	keel_sync_assignment_t *assignments;
} keel_sync_req_t;

int keel_sync_req_decode(kr_t *r, int16_t version, keel_sync_req_t *q);
void keel_sync_req_free(keel_sync_req_t *q);
int keel_sync_resp_encode(kw_t *w, int16_t version, int16_t error, keel_slice_t assignment);

/* ---- LeaveGroup ---- */

typedef struct {
	keel_slice_t member_id;
	keel_slice_t instance_id;   /* nullable */
	int16_t error;              /* responses only */
} keel_leave_member_t;

/* v0-2 name one member and v3+ a list; the decoder gives a list either way. */
typedef struct {
	keel_slice_t group_id;
	int32_t nmembers;
	keel_leave_member_t *members;
} keel_leave_req_t;

typedef struct {
	int16_t error;
	int32_t nmembers;           /* v3+ */
	const keel_leave_member_t *members;
} keel_leave_resp_t;

int keel_leave_req_decode(kr_t *r, int16_t version, keel_leave_req_t *q);
void keel_leave_req_free(keel_leave_req_t *q);
int keel_leave_resp_encode(kw_t *w, int16_t version, const keel_leave_resp_t *p);

/* ---- OffsetCommit ---- */

typedef struct {
	int32_t partition;
	int64_t offset;
	int32_t leader_epoch;       /* v6+; -1 otherwise */
	int64_t commit_ts;          /* v1 only; -1 otherwise */
	keel_slice_t metadata;      /* nullable */
} keel_commit_part_t;

typedef struct {
	keel_slice_t name;
	int32_t npartitions;
	keel_commit_part_t *partitions;
} keel_commit_topic_t;

typedef struct {
	keel_slice_t group_id;
	int32_t generation;         /* v1+; -1 otherwise */
	keel_slice_t member_id;     /* v1+; empty otherwise */
	keel_slice_t instance_id;   /* v7+, nullable */
	int64_t retention_ms;       /* v2-4; -1 otherwise (broker default) */
	int32_t ntopics;
	keel_commit_topic_t *topics;
} keel_commit_req_t;

/* A partition's error in a response: OffsetCommit and OffsetDelete. */
typedef struct {
	int32_t partition;
	int16_t error;
} keel_part_error_t;

typedef struct {
	keel_slice_t name;
	int32_t npartitions;
	const keel_part_error_t *partitions;
} keel_topic_errors_t;

int keel_commit_req_decode(kr_t *r, int16_t version, keel_commit_req_t *q);
void keel_commit_req_free(keel_commit_req_t *q);
int keel_commit_resp_encode(kw_t *w, int16_t version, int32_t ntopics,
			    const keel_topic_errors_t *topics);

/* ---- OffsetFetch ---- */

typedef struct {
	keel_slice_t group_id;
	int32_t ntopics;            /* -1: all the group's topics (a null array, v2+) */
	keel_topic_parts_t *topics;
	bool require_stable;        /* v7+ */
} keel_offset_fetch_req_t;

typedef struct {
	int32_t partition;
	int64_t offset;             /* -1 if nothing is committed */
	int32_t leader_epoch;       /* v5+ */
	keel_slice_t metadata;      /* nullable */
	int16_t error;
} keel_fetched_part_t;

typedef struct {
	keel_slice_t name;
	int32_t npartitions;
	const keel_fetched_part_t *partitions;
} keel_fetched_topic_t;

/* error is the group-level error. v0-1 have no field for it, so there it is written into
 * every partition instead (offset -1, metadata ""), which is how Kafka answers them. */
typedef struct {
	int16_t error;
	int32_t ntopics;
	const keel_fetched_topic_t *topics;
} keel_offset_fetch_resp_t;

int keel_offset_fetch_req_decode(kr_t *r, int16_t version, keel_offset_fetch_req_t *q);
void keel_offset_fetch_req_free(keel_offset_fetch_req_t *q);
int keel_offset_fetch_resp_encode(kw_t *w, int16_t version, const keel_offset_fetch_resp_t *p);

/* ---- DescribeGroups ---- */

typedef struct {
	keel_str_list_t groups;
	bool include_auth_ops;      /* v3+ */
} keel_describe_groups_req_t;

typedef struct {
	keel_slice_t member_id;
	keel_slice_t instance_id;   /* v4+, nullable */
	keel_slice_t client_id;
	keel_slice_t client_host;
	keel_slice_t metadata;
	keel_slice_t assignment;
} keel_described_member_t;

typedef struct {
	int16_t error;
	keel_slice_t group_id;
	keel_slice_t state;
	keel_slice_t protocol_type;
	keel_slice_t protocol_data;
	int32_t nmembers;
	const keel_described_member_t *members;
	int32_t auth_ops;           /* v3+; KEEL_AUTH_OPS_NONE when not asked for */
} keel_described_group_t;

int keel_describe_groups_req_decode(kr_t *r, int16_t version, keel_describe_groups_req_t *q);
int keel_describe_groups_resp_encode(kw_t *w, int16_t version, int32_t ngroups,
				     const keel_described_group_t *groups);

/* ---- ListGroups ---- */

typedef struct {
	keel_slice_t group_id;
	keel_slice_t protocol_type;
	keel_slice_t state;         /* v4+ */
} keel_listed_group_t;

typedef struct {
	int16_t error;
	int32_t ngroups;
	const keel_listed_group_t *groups;
} keel_list_groups_resp_t;

/* states: the v4+ filter (empty: every state). */
int keel_list_groups_req_decode(kr_t *r, int16_t version, keel_str_list_t *states);
int keel_list_groups_resp_encode(kw_t *w, int16_t version, const keel_list_groups_resp_t *p);

/* ---- DeleteGroups ---- */

typedef struct {
	keel_slice_t group_id;
	int16_t error;
} keel_group_error_t;

int keel_delete_groups_req_decode(kr_t *r, int16_t version, keel_str_list_t *groups);
int keel_delete_groups_resp_encode(kw_t *w, int16_t version, int32_t n,
				   const keel_group_error_t *results);

/* ---- OffsetDelete ---- */

typedef struct {
	keel_slice_t group_id;
	int32_t ntopics;
	keel_topic_parts_t *topics;
} keel_offset_delete_req_t;

int keel_offset_delete_req_decode(kr_t *r, int16_t version, keel_offset_delete_req_t *q);
void keel_offset_delete_req_free(keel_offset_delete_req_t *q);
int keel_offset_delete_resp_encode(kw_t *w, int16_t version, int16_t error, int32_t ntopics,
				   const keel_topic_errors_t *topics);

#endif
