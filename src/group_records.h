/* src/group_records.h: the __consumer_offsets record formats (keys, offset and group values),
 * the consumer protocol embedded in JoinGroup/SyncGroup bytes, and the group -> partition hash.
 *
 * Decoded strings and bytes are slices into the caller's buffer (valid as long as it is). A
 * slice whose ptr is NULL is a null value; present-but-empty values have a non-NULL ptr.
 * Decoders return 0, or -1 on malformed input, having freed what they allocated. Pure
 * functions: any thread. */
#ifndef KEEL_GROUP_RECORDS_H
#define KEEL_GROUP_RECORDS_H

#include "codec.h"

/* ---- keys ---- */

/* What a __consumer_offsets key holds: its version says so. */
typedef enum {
	KEEL_GKEY_OFFSET = 1, /* versions 0-1: a committed offset (keel writes 1, as Kafka does) */
	KEEL_GKEY_GROUP = 2,  /* version 2: group metadata */
	KEEL_GKEY_OTHER = 3,  /* version 3 and above: a later Kafka's record type; skip it */
} keel_gkey_kind_t;

typedef struct {
	keel_gkey_kind_t kind;
	int16_t version;
	keel_slice_t group;
	keel_slice_t topic; /* offset keys only */
	int32_t partition;  /* offset keys only */
} keel_gkey_t;

/* Decode a key. Junk (short, a negative version, a truncated or over-long body) is -1; a
 * well-formed version prefix above 2 is KEEL_GKEY_OTHER with no fields decoded. */
int keel_gkey_decode(const uint8_t *buf, size_t len, keel_gkey_t *key);
/* Append a key for k->kind (OFFSET as version 1, GROUP as version 2) to w (not flexible).
 * Returns 0, or -1 for another kind or when w ran out of memory. */
int keel_gkey_encode(kw_t *w, const keel_gkey_t *k);

/* ---- offset commit values ---- */

typedef struct {
	int16_t version;       /* as decoded; the encoder picks its own */
	int64_t offset;
	int32_t leader_epoch;  /* v3+; -1 otherwise */
	keel_slice_t metadata; /* never null */
	int64_t commit_ts;
	int64_t expire_ts;     /* v1 only; -1 otherwise */
} keel_offset_value_t;

/* Decode versions 0-4 (4 is the flexible form of 3). */
int keel_offset_value_decode(const uint8_t *buf, size_t len, keel_offset_value_t *v);
/* Append v as version 3, or as version 1 when v->expire_ts >= 0 (a commit with a retention
 * time), as Kafka does. Returns 0, or -1 when w ran out of memory. */
int keel_offset_value_encode(kw_t *w, const keel_offset_value_t *v);

/* ---- group metadata values ---- */

typedef struct {
	keel_slice_t member_id;
	keel_slice_t group_instance_id; /* nullable; v3+ */
	keel_slice_t client_id;
	keel_slice_t client_host;
	int32_t rebalance_timeout;      /* v1+; v0 records read it as the session timeout */
	int32_t session_timeout;
	keel_slice_t subscription;      /* the JoinGroup metadata of the chosen protocol */
	keel_slice_t assignment;        /* the SyncGroup bytes */
} keel_group_member_rec_t;

typedef struct {
	int16_t version;
	keel_slice_t protocol_type;
	int32_t generation;
	keel_slice_t protocol;          /* nullable: no protocol chosen (Empty group) */
	keel_slice_t leader;            /* nullable */
	int64_t current_state_ts;       /* v2+; -1 otherwise */
	int32_t nmembers;
	keel_group_member_rec_t *members; /* decoder: malloc'd, keel_group_value_free */
} keel_group_value_t;

/* Decode versions 0-3, and 4 (the flexible form of 3). */
int keel_group_value_decode(const uint8_t *buf, size_t len, keel_group_value_t *g);
/* Append g as version 3 to w (not flexible). Returns 0, or -1 when w ran out of memory. */
int keel_group_value_encode(kw_t *w, const keel_group_value_t *g);
/* Free what the decoder allocated (not the slices' bytes). */
void keel_group_value_free(keel_group_value_t *g);

/* ---- the consumer protocol (protocol_type "consumer") ---- */

/* A topic and some of its partitions: `[topic, [i32]]` in the consumer protocol, and the
 * topics of OffsetFetch and OffsetDelete requests. */
typedef struct {
	keel_slice_t topic;
	int32_t npartitions;
	int32_t *partitions; /* malloc'd */
} keel_topic_parts_t;

/* Read a `[topic, [i32]]` array at r (a tag section after each topic when r is flexible).
 * A null array is *n = -1 when nullable, malformed otherwise. Returns false on malformed
 * input, with nothing left allocated. */
bool keel_topic_parts_read(kr_t *r, bool nullable, int32_t *n, keel_topic_parts_t **out);
void keel_topic_parts_free(keel_topic_parts_t *t, int32_t n);

typedef struct {
	int16_t version;
	int32_t ntopics;
	keel_slice_t *topics;     /* malloc'd */
	keel_slice_t user_data;   /* nullable */
	int32_t nowned;           /* v1+ */
	keel_topic_parts_t *owned;
	int32_t generation_id;    /* v2+; -1 otherwise */
	keel_slice_t rack_id;     /* v3+, nullable */
} keel_cp_subscription_t;

typedef struct {
	int16_t version;
	int32_t ntopics;
	keel_topic_parts_t *topics;
	keel_slice_t user_data;   /* nullable */
} keel_cp_assignment_t;

/* Decode the bytes a consumer puts in JoinGroup protocol metadata / SyncGroup assignments.
 * As Kafka's ConsumerProtocol does, a version above the known ones (3) is read as the highest
 * known one and trailing bytes are ignored, so newer clients still decode. */
int keel_cp_subscription_decode(const uint8_t *buf, size_t len, keel_cp_subscription_t *s);
void keel_cp_subscription_free(keel_cp_subscription_t *s);
int keel_cp_assignment_decode(const uint8_t *buf, size_t len, keel_cp_assignment_t *a);
void keel_cp_assignment_free(keel_cp_assignment_t *a);

/* ---- coordinator placement ---- */

/* Java's String.hashCode of the UTF-8 bytes s[0..len): 31*h + c over UTF-16 code units with
 * int32 wrap-around; bytes that are not UTF-8 become U+FFFD as Java's decoder makes them. */
int32_t keel_java_string_hash(const char *s, size_t len);
/* The __consumer_offsets partition of a group: abs(hash) % npartitions, where abs(INT32_MIN)
 * is 0 (Kafka's Utils.abs). -1 if npartitions <= 0. */
int32_t keel_group_partition(const char *group_id, size_t len, int32_t npartitions);

#endif
