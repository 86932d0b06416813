/* tests/unit/test_group_records.c: __consumer_offsets keys and values, the consumer protocol,
 * and the group -> partition hash, against bytes laid out by hand from Kafka's message specs. */
#include "group_records.h"
#include "group_testutil.h"
#include "suites.h"

#include <stdint.h>

/* ---- decoders in the shape the hostile-input checks want ---- */

#define RECORD_DECODER(fn, type, decode, release) \
	static int fn(const uint8_t *b, size_t n, void *arg) \
	{ \
		type x; \
		int rc = decode(b, n, &x); \
		if (rc == 0) \
			release(&x); \
		return rc; \
	}

static void keep_gkey(keel_gkey_t *k) { (void)k; }
static void keep_offset_value(keel_offset_value_t *v) { (void)v; }

RECORD_DECODER(dec_gkey, keel_gkey_t, keel_gkey_decode, keep_gkey)
RECORD_DECODER(dec_offset_value, keel_offset_value_t, keel_offset_value_decode, keep_offset_value)
RECORD_DECODER(dec_group_value, keel_group_value_t, keel_group_value_decode, keel_group_value_free)
RECORD_DECODER(dec_subscription, keel_cp_subscription_t, keel_cp_subscription_decode,
	       keel_cp_subscription_free)
RECORD_DECODER(dec_assignment, keel_cp_assignment_t, keel_cp_assignment_decode,
	       keel_cp_assignment_free)

/* ---- keys ---- */

/* OffsetCommitKey v1: version, group, topic, partition. */
static const uint8_t offset_key_v1[] = {
	0x00, 0x01, 0x00, 0x02, 'g', '1', 0x00, 0x01, 't', 0x00, 0x00, 0x00, 0x05,
};
/* GroupMetadataKey v2: version, group. */
static const uint8_t group_key_v2[] = {0x00, 0x02, 0x00, 0x02, 'g', '1'};

START_TEST(test_key_bytes)
{
	kw_t w;
	keel_gkey_t k = {.kind = KEEL_GKEY_OFFSET, .group = sl("g1"), .topic = sl("t"), .partition = 5};
	kw_init(&w, 8, false);
	ck_assert_int_eq(keel_gkey_encode(&w, &k), 0);
	ck_assert_bytes(&w, offset_key_v1);
	w.len = 0;
	k.kind = KEEL_GKEY_GROUP;
	ck_assert_int_eq(keel_gkey_encode(&w, &k), 0);
	ck_assert_bytes(&w, group_key_v2);
	k.kind = KEEL_GKEY_OTHER;
	ck_assert_int_eq(keel_gkey_encode(&w, &k), -1);
	kw_free(&w);
}
END_TEST

START_TEST(test_key_decode)
{
	keel_gkey_t k;
	uint8_t v0[sizeof(offset_key_v1)];
	const uint8_t later[] = {0x00, 0x03, 0xde, 0xad};  /* a newer Kafka's record type */
	const uint8_t negative[] = {0xff, 0xff, 0x00, 0x00};

	ck_assert_int_eq(keel_gkey_decode(offset_key_v1, sizeof(offset_key_v1), &k), 0);
	ck_assert_int_eq(k.kind, KEEL_GKEY_OFFSET);
	ck_assert_int_eq(k.version, 1);
	ck_assert_sl(k.group, "g1");
	ck_assert_sl(k.topic, "t");
	ck_assert_int_eq(k.partition, 5);

	memcpy(v0, offset_key_v1, sizeof(v0)); /* v0 has the same layout */
	v0[1] = 0;
	ck_assert_int_eq(keel_gkey_decode(v0, sizeof(v0), &k), 0);
	ck_assert_int_eq(k.kind, KEEL_GKEY_OFFSET);
	ck_assert_int_eq(k.version, 0);

	ck_assert_int_eq(keel_gkey_decode(group_key_v2, sizeof(group_key_v2), &k), 0);
	ck_assert_int_eq(k.kind, KEEL_GKEY_GROUP);
	ck_assert_sl(k.group, "g1");

	ck_assert_int_eq(keel_gkey_decode(later, sizeof(later), &k), 0);
	ck_assert_int_eq(k.kind, KEEL_GKEY_OTHER);
	ck_assert_int_eq(k.version, 3);
	ck_assert_int_eq(keel_gkey_decode(negative, sizeof(negative), &k), -1);
	/* a group key read as an offset key runs out of bytes */
	ck_assert_int_eq(keel_gkey_decode(v0, 6, &k), -1);

	check_strict(dec_gkey, offset_key_v1, sizeof(offset_key_v1), NULL, false);
	check_strict(dec_gkey, group_key_v2, sizeof(group_key_v2), NULL, false);
	check_mutations(dec_gkey, offset_key_v1, sizeof(offset_key_v1), NULL);
}
END_TEST

/* ---- offset commit values ---- */

#define TS_BYTES 0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00     /* 1700000000000 */
#define EXPIRE_BYTES 0x00, 0x00, 0x01, 0x8b, 0xd5, 0x0b, 0xc4, 0x00 /* 1700086400000 */
#define OFFSET_BYTES 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x64 /* 100 */

/* OffsetCommitValue v3: offset, leader_epoch, metadata, commit_ts. */
static const uint8_t offset_value_v3[] = {
	0x00, 0x03, OFFSET_BYTES, 0x00, 0x00, 0x00, 0x07, 0x00, 0x01, 'm', TS_BYTES,
};
/* v1: offset, metadata, commit_ts, expire_ts. */
static const uint8_t offset_value_v1[] = {
	0x00, 0x01, OFFSET_BYTES, 0x00, 0x01, 'm', TS_BYTES, EXPIRE_BYTES,
};
/* v0 and v2: offset, metadata, commit_ts. */
static const uint8_t offset_value_v0[] = {0x00, 0x00, OFFSET_BYTES, 0x00, 0x01, 'm', TS_BYTES};
static const uint8_t offset_value_v2[] = {0x00, 0x02, OFFSET_BYTES, 0x00, 0x01, 'm', TS_BYTES};
/* v4, flexible v3: a compact string and a tag section, here holding an unknown tag 9. */
static const uint8_t offset_value_v4[] = {
	0x00, 0x04, OFFSET_BYTES, 0x00, 0x00, 0x00, 0x07, 0x02, 'm', TS_BYTES,
	0x01, 0x09, 0x02, 0xaa, 0xbb,
};

START_TEST(test_offset_value_bytes)
{
	kw_t w;
	keel_offset_value_t v = {.offset = 100, .leader_epoch = 7, .metadata = sl("m"),
				 .commit_ts = 1700000000000, .expire_ts = -1};
	kw_init(&w, 8, true); /* the encoder makes it classic */
	ck_assert_int_eq(keel_offset_value_encode(&w, &v), 0);
	ck_assert_bytes(&w, offset_value_v3);
	w.len = 0;
	v.expire_ts = 1700086400000;
	ck_assert_int_eq(keel_offset_value_encode(&w, &v), 0);
	ck_assert_bytes(&w, offset_value_v1);
	kw_free(&w);
}
END_TEST

static void check_offset_value(const uint8_t *b, size_t n, int16_t version, int32_t epoch,
			       int64_t expire)
{
	keel_offset_value_t v;
	ck_assert_int_eq(keel_offset_value_decode(b, n, &v), 0);
	ck_assert_int_eq(v.version, version);
	ck_assert_int_eq(v.offset, 100);
	ck_assert_int_eq(v.leader_epoch, epoch);
	ck_assert_sl(v.metadata, "m");
	ck_assert_int_eq(v.commit_ts, 1700000000000);
	ck_assert_int_eq(v.expire_ts, expire);
	check_strict(dec_offset_value, b, n, NULL, false);
	check_mutations(dec_offset_value, b, n, NULL);
}

START_TEST(test_offset_value_versions)
{
	uint8_t v5[sizeof(offset_value_v4)];
	check_offset_value(offset_value_v0, sizeof(offset_value_v0), 0, -1, -1);
	check_offset_value(offset_value_v1, sizeof(offset_value_v1), 1, -1, 1700086400000);
	check_offset_value(offset_value_v2, sizeof(offset_value_v2), 2, -1, -1);
	check_offset_value(offset_value_v3, sizeof(offset_value_v3), 3, 7, -1);
	check_offset_value(offset_value_v4, sizeof(offset_value_v4), 4, 7, -1);
	memcpy(v5, offset_value_v4, sizeof(v5));
	v5[1] = 5; /* no such version yet: Kafka refuses it too */
	ck_assert_int_eq(decode_copy(dec_offset_value, v5, sizeof(v5), NULL), -1);
}
END_TEST

START_TEST(test_offset_value_roundtrip)
{
	kw_t w;
	keel_offset_value_t in = {.offset = INT64_MAX, .leader_epoch = -1, .metadata = sl(""),
				  .commit_ts = 0, .expire_ts = -1}, out;
	kw_init(&w, 8, false);
	ck_assert_int_eq(keel_offset_value_encode(&w, &in), 0);
	ck_assert_int_eq(keel_offset_value_decode(w.buf, w.len, &out), 0);
	ck_assert_int_eq(out.version, 3);
	ck_assert(out.offset == INT64_MAX);
	ck_assert_int_eq(out.leader_epoch, -1);
	ck_assert_sl(out.metadata, "");
	kw_free(&w);
}
END_TEST

/* ---- group metadata values ---- */

/* GroupMetadataValue v3: protocol_type, generation, protocol, leader, current_state_ts,
 * members [member_id, group_instance_id, client_id, client_host, rebalance_timeout,
 * session_timeout, subscription, assignment]. */
static const uint8_t group_value_v3[] = {
	0x00, 0x03,
	0x00, 0x08, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r',
	0x00, 0x00, 0x00, 0x02,
	0x00, 0x05, 'r', 'a', 'n', 'g', 'e',
	0x00, 0x03, 'm', '-', '1',
	TS_BYTES,
	0x00, 0x00, 0x00, 0x01,
	0x00, 0x03, 'm', '-', '1',
	0xff, 0xff,
	0x00, 0x01, 'c',
	0x00, 0x09, '/', '1', '0', '.', '0', '.', '0', '.', '1',
	0x00, 0x00, 0xea, 0x60,
	0x00, 0x00, 0xaf, 0xc8,
	0x00, 0x00, 0x00, 0x03, 0x01, 0x02, 0x03,
	0x00, 0x00, 0x00, 0x02, 0x04, 0x05,
};

static keel_group_member_rec_t sample_member(void)
{
	keel_group_member_rec_t m = {
		.member_id = sl("m-1"), .client_id = sl("c"), .client_host = sl("/10.0.0.1"),
		.rebalance_timeout = 60000, .session_timeout = 45000,
		.subscription = {(const uint8_t *)"\x01\x02\x03", 3},
		.assignment = {(const uint8_t *)"\x04\x05", 2},
	};
	return m;
}

START_TEST(test_group_value_bytes)
{
	kw_t w;
	keel_group_member_rec_t m = sample_member();
	keel_group_value_t g = {.protocol_type = sl("consumer"), .generation = 2,
				.protocol = sl("range"), .leader = sl("m-1"),
				.current_state_ts = 1700000000000, .nmembers = 1, .members = &m};
	kw_init(&w, 8, false);
	ck_assert_int_eq(keel_group_value_encode(&w, &g), 0);
	ck_assert_bytes(&w, group_value_v3);
	kw_free(&w);
}
END_TEST

/* The sample group at an older version, laid out field by field from the spec. */
static void build_group_value(kw_t *w, int16_t v)
{
	keel_group_member_rec_t m = sample_member();
	w->flex = v >= 4;
	kw_i16(w, v);
	kw_str(w, "consumer");
	kw_i32(w, 2);
	kw_str(w, "range");
	kw_str(w, "m-1");
	if (v >= 2)
		kw_i64(w, 1700000000000);
	kw_array(w, 1);
	kw_str(w, "m-1");
	if (v >= 3)
		kw_str(w, "inst");
	kw_str(w, "c");
	kw_str(w, "/10.0.0.1");
	if (v >= 1)
		kw_i32(w, m.rebalance_timeout);
	kw_i32(w, m.session_timeout);
	kw_bytes(w, m.subscription.ptr, m.subscription.len, false);
	kw_bytes(w, m.assignment.ptr, m.assignment.len, false);
	kw_tags(w);
	kw_tags(w);
}

START_TEST(test_group_value_versions)
{
	int16_t v = (int16_t)_i;
	kw_t w = built(build_group_value, v);
	keel_group_value_t g;
	ck_assert_int_eq(keel_group_value_decode(w.buf, w.len, &g), 0);
	ck_assert_int_eq(g.version, v);
	ck_assert_sl(g.protocol_type, "consumer");
	ck_assert_int_eq(g.generation, 2);
	ck_assert_sl(g.protocol, "range");
	ck_assert_sl(g.leader, "m-1");
	ck_assert_int_eq(g.current_state_ts, v >= 2 ? 1700000000000 : -1);
	ck_assert_int_eq(g.nmembers, 1);
	ck_assert_sl(g.members[0].member_id, "m-1");
	ck_assert_sl(g.members[0].group_instance_id, v >= 3 ? "inst" : NULL);
	ck_assert_sl(g.members[0].client_id, "c");
	ck_assert_sl(g.members[0].client_host, "/10.0.0.1");
	/* v0 has no rebalance timeout: Kafka takes the session timeout */
	ck_assert_int_eq(g.members[0].rebalance_timeout, v >= 1 ? 60000 : 45000);
	ck_assert_int_eq(g.members[0].session_timeout, 45000);
	ck_assert_uint_eq(g.members[0].subscription.len, 3);
	ck_assert_uint_eq(g.members[0].assignment.len, 2);
	keel_group_value_free(&g);
	check_strict(dec_group_value, w.buf, w.len, NULL, false);
	check_mutations(dec_group_value, w.buf, w.len, NULL);
	kw_free(&w);
}
END_TEST

START_TEST(test_group_value_empty_group)
{
	/* an Empty group: no protocol, no leader, no members; round trip through v3 */
	kw_t w;
	keel_group_value_t in = {.protocol_type = sl("consumer"), .generation = 7,
				 .current_state_ts = -1}, out;
	kw_init(&w, 8, false);
	ck_assert_int_eq(keel_group_value_encode(&w, &in), 0);
	ck_assert_int_eq(keel_group_value_decode(w.buf, w.len, &out), 0);
	ck_assert_int_eq(out.version, 3);
	ck_assert_sl(out.protocol, NULL);
	ck_assert_sl(out.leader, NULL);
	ck_assert_int_eq(out.generation, 7);
	ck_assert_int_eq(out.nmembers, 0);
	ck_assert_ptr_null(out.members);
	keel_group_value_free(&out);
	check_strict(dec_group_value, w.buf, w.len, NULL, false);
	kw_free(&w);
}
END_TEST

START_TEST(test_group_value_refused)
{
	uint8_t b[sizeof(group_value_v3)];
	keel_group_value_t g;
	memcpy(b, group_value_v3, sizeof(b));
	b[1] = 5; /* unknown version */
	ck_assert_int_eq(keel_group_value_decode(b, sizeof(b), &g), -1);
	memcpy(b, group_value_v3, sizeof(b));
	b[2] = b[3] = 0xff; /* protocol_type may not be null */
	ck_assert_int_eq(keel_group_value_decode(b, sizeof(b), &g), -1);
	memcpy(b, group_value_v3, sizeof(b));
	b[36] = 0x7f; /* a member count far beyond the bytes: refused before allocating */
	ck_assert_int_eq(keel_group_value_decode(b, sizeof(b), &g), -1);
	ck_assert_ptr_null(g.members);
}
END_TEST

/* ---- the consumer protocol ---- */

/* Subscription v1: topics ["t", "u"], user_data "ud", owned_partitions [("t", [3])]. */
static const uint8_t subscription_v1[] = {
	0x00, 0x01,
	0x00, 0x00, 0x00, 0x02, 0x00, 0x01, 't', 0x00, 0x01, 'u',
	0x00, 0x00, 0x00, 0x02, 'u', 'd',
	0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 't', 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x03,
};

START_TEST(test_subscription_bytes)
{
	keel_cp_subscription_t s;
	ck_assert_int_eq(keel_cp_subscription_decode(subscription_v1, sizeof(subscription_v1), &s), 0);
	ck_assert_int_eq(s.version, 1);
	ck_assert_int_eq(s.ntopics, 2);
	ck_assert_sl(s.topics[0], "t");
	ck_assert_sl(s.topics[1], "u");
	ck_assert_sl(s.user_data, "ud");
	ck_assert_int_eq(s.nowned, 1);
	ck_assert_sl(s.owned[0].topic, "t");
	ck_assert_int_eq(s.owned[0].npartitions, 1);
	ck_assert_int_eq(s.owned[0].partitions[0], 3);
	ck_assert_int_eq(s.generation_id, -1);
	ck_assert_sl(s.rack_id, NULL);
	keel_cp_subscription_free(&s);
	/* trailing bytes are a later version's business */
	check_strict(dec_subscription, subscription_v1, sizeof(subscription_v1), NULL, true);
	check_mutations(dec_subscription, subscription_v1, sizeof(subscription_v1), NULL);
}
END_TEST

/* A subscription at version v (v > 3: a future version, read as 3, with a field appended). */
static void build_subscription(kw_t *w, int16_t v)
{
	kw_i16(w, v);
	kw_array(w, 1);
	kw_str(w, "orders");
	kw_bytes(w, NULL, 0, true);
	if (v >= 1) {
		kw_array(w, 1);
		kw_str(w, "orders");
		kw_array(w, 2);
		kw_i32(w, 0);
		kw_i32(w, 1);
	}
	if (v >= 2)
		kw_i32(w, 9);
	if (v >= 3)
		kw_str(w, "rack-a");
	if (v > 3)
		kw_i64(w, 42);
}

START_TEST(test_subscription_versions)
{
	int16_t v = (int16_t)_i;
	kw_t w = built(build_subscription, v);
	keel_cp_subscription_t s;
	ck_assert_int_eq(keel_cp_subscription_decode(w.buf, w.len, &s), 0);
	ck_assert_int_eq(s.version, v);
	ck_assert_int_eq(s.ntopics, 1);
	ck_assert_sl(s.topics[0], "orders");
	ck_assert_sl(s.user_data, NULL);
	ck_assert_int_eq(s.nowned, v >= 1 ? 1 : 0);
	if (v >= 1)
		ck_assert_int_eq(s.owned[0].partitions[1], 1);
	ck_assert_int_eq(s.generation_id, v >= 2 ? 9 : -1);
	ck_assert_sl(s.rack_id, v >= 3 ? "rack-a" : NULL);
	keel_cp_subscription_free(&s);
	/* every prefix short of the fields that version defines is refused */
	check_strict(dec_subscription, w.buf, w.len - (v > 3 ? 8 : 0), NULL, true);
	kw_free(&w);
}
END_TEST

/* Assignment: [("t", [0, 2])], user_data null. */
static const uint8_t assignment_v0[] = {
	0x00, 0x00,
	0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 't', 0x00, 0x00, 0x00, 0x02,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
	0xff, 0xff, 0xff, 0xff,
};

START_TEST(test_assignment)
{
	keel_cp_assignment_t a;
	uint8_t b[sizeof(assignment_v0)];
	ck_assert_int_eq(keel_cp_assignment_decode(assignment_v0, sizeof(assignment_v0), &a), 0);
	ck_assert_int_eq(a.version, 0);
	ck_assert_int_eq(a.ntopics, 1);
	ck_assert_sl(a.topics[0].topic, "t");
	ck_assert_int_eq(a.topics[0].npartitions, 2);
	ck_assert_int_eq(a.topics[0].partitions[0], 0);
	ck_assert_int_eq(a.topics[0].partitions[1], 2);
	ck_assert_sl(a.user_data, NULL);
	keel_cp_assignment_free(&a);
	check_strict(dec_assignment, assignment_v0, sizeof(assignment_v0), NULL, true);
	check_mutations(dec_assignment, assignment_v0, sizeof(assignment_v0), NULL);

	memcpy(b, assignment_v0, sizeof(b));
	b[1] = 3; /* v1-3 have the same layout */
	ck_assert_int_eq(keel_cp_assignment_decode(b, sizeof(b), &a), 0);
	ck_assert_int_eq(a.version, 3);
	keel_cp_assignment_free(&a);
	b[0] = 0x80; /* negative version */
	ck_assert_int_eq(keel_cp_assignment_decode(b, sizeof(b), &a), -1);
	memcpy(b, assignment_v0, sizeof(b));
	b[2] = b[3] = b[4] = b[5] = 0xff; /* the topic list is not nullable */
	ck_assert_int_eq(keel_cp_assignment_decode(b, sizeof(b), &a), -1);
}
END_TEST

/* ---- coordinator placement ---- */

/* Expected values from Java 17: new String(bytes, UTF_8).hashCode(), partition of 50. */
static const struct {
	const char *s;
	int32_t hash;
	int32_t part50;
} hashes[] = {
	{"test", 3556498, 48},
	{"my-group", -1906497762, 12},
	{"", 0, 0},
	{"polygenelubricants", INT32_MIN, 0}, /* abs(INT32_MIN) is 0 in Kafka */
	{"DESIGNING WORKHOUSES", INT32_MIN, 0},
	{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 1042809472, 22},
	{"gr\xc3\xbcppe", -1233264812, 12},                       /* U+00FC: one unit */
	{"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x82\xb0\xe3\x83\xab\xe3\x83\xbc\xe3\x83\x97",
	 -305235731, 31},                                         /* three-byte characters */
	{"emoji-\xf0\x9f\x98\x80", 1164511306, 6},                /* U+1F600: a surrogate pair */
	/* not UTF-8: Java's decoder puts U+FFFD in, a number of bytes at a time */
	{"a\xff" "b", 2124838, 38},
	{"\xed\xa0\x80", 65533, 33},        /* an encoded surrogate: one replacement */
	{"\xe2\x82", 65533, 33},            /* truncated at the end: one replacement */
	{"\xe2\x82" "a", 2031620, 20},
	{"\xf0\x9f\x98" "a", 2031620, 20},
	{"\xf5\x80", 2097056, 6},
	{"\xf5\x80\x80\x80", 2017367872, 22},
	{"\xf4\x90\x80\x80", 2017367872, 22}, /* beyond U+10FFFF */
	{"\xf0\x80\x80\x80", 2017367872, 22}, /* overlong */
	{"\xe0\x80\x80", 65074269, 19},
	{"\xc0\xaf", 2097056, 6},
	{"\xe0\x9f", 2097056, 6},
	{"\xf0\x90", 65533, 33},
	{"\xf0" "A A", 1952357125, 25},
};

START_TEST(test_group_hash)
{
	const char *s = hashes[_i].s;
	ck_assert_int_eq(keel_java_string_hash(s, strlen(s)), hashes[_i].hash);
	ck_assert_int_eq(keel_group_partition(s, strlen(s), 50), hashes[_i].part50);
}
END_TEST

START_TEST(test_group_partition_counts)
{
	ck_assert_int_eq(keel_group_partition("test", 4, 1), 0);
	ck_assert_int_eq(keel_group_partition("test", 4, 7), 3556498 % 7);
	ck_assert_int_eq(keel_group_partition("my-group", 8, 3), 1906497762 % 3);
	ck_assert_int_eq(keel_group_partition("test", 4, 0), -1);
	ck_assert_int_eq(keel_group_partition("test", 4, -5), -1);
	/* the length is honoured: no NUL terminator needed or read */
	ck_assert_int_eq(keel_group_partition("testing", 4, 50), 48);
}
END_TEST

Suite *suite_group_records(void)
{
	Suite *s = suite_create("group_records");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_key_bytes);
	tcase_add_test(tc, test_key_decode);
	tcase_add_test(tc, test_offset_value_bytes);
	tcase_add_test(tc, test_offset_value_versions);
	tcase_add_test(tc, test_offset_value_roundtrip);
	tcase_add_test(tc, test_group_value_bytes);
	tcase_add_loop_test(tc, test_group_value_versions, 0, 5);
	tcase_add_test(tc, test_group_value_empty_group);
	tcase_add_test(tc, test_group_value_refused);
	tcase_add_test(tc, test_subscription_bytes);
	tcase_add_loop_test(tc, test_subscription_versions, 0, 5);
	tcase_add_test(tc, test_assignment);
	tcase_add_loop_test(tc, test_group_hash, 0, (int)KEEL_ARRAY_LEN(hashes));
	tcase_add_test(tc, test_group_partition_counts);
	suite_add_tcase(s, tc);
	return s;
}
