/* tests/unit/test_group_proto.c: the group API codecs at every version keel takes: requests laid
 * out here field by field from Kafka's message specs, responses read back the same way, some
 * of both checked against bytes written out by hand, and hostile input for every decoder. */
#include "group_proto.h"
#include "group_testutil.h"
#include "suites.h"

/* A request decoder in the shape the hostile-input checks want; arg points at the version. */
#define REQ_DECODER(fn, type, decode, release) \
	static int fn(const uint8_t *b, size_t n, void *arg) \
	{ \
		kr_t r; \
		type q; \
		int rc; \
		kr_init(&r, b, n, false); \
		rc = decode(&r, *(const int16_t *)arg, &q); \
		if (rc == 0) \
			release(&q); \
		return rc; \
	}

static void keep_find_coord(keel_find_coord_req_t *q) { (void)q; }
static void keep_member_ref(keel_member_ref_t *q) { (void)q; }
static void free_describe(keel_describe_groups_req_t *q) { keel_str_list_free(&q->groups); }

REQ_DECODER(dec_find_coord, keel_find_coord_req_t, keel_find_coord_req_decode, keep_find_coord)
REQ_DECODER(dec_join, keel_join_req_t, keel_join_req_decode, keel_join_req_free)
REQ_DECODER(dec_heartbeat, keel_member_ref_t, keel_heartbeat_req_decode, keep_member_ref)
REQ_DECODER(dec_sync, keel_sync_req_t, keel_sync_req_decode, keel_sync_req_free)
REQ_DECODER(dec_leave, keel_leave_req_t, keel_leave_req_decode, keel_leave_req_free)
REQ_DECODER(dec_commit, keel_commit_req_t, keel_commit_req_decode, keel_commit_req_free)
REQ_DECODER(dec_offset_fetch, keel_offset_fetch_req_t, keel_offset_fetch_req_decode,
	    keel_offset_fetch_req_free)
REQ_DECODER(dec_describe, keel_describe_groups_req_t, keel_describe_groups_req_decode, free_describe)
REQ_DECODER(dec_list_groups, keel_str_list_t, keel_list_groups_req_decode, keel_str_list_free)
REQ_DECODER(dec_delete_groups, keel_str_list_t, keel_delete_groups_req_decode, keel_str_list_free)
REQ_DECODER(dec_offset_delete, keel_offset_delete_req_t, keel_offset_delete_req_decode,
	    keel_offset_delete_req_free)

/* The hostile-input checks for a request body at version v, and the versions either side of
 * the range refused. Bytes after a complete request are ignored, as Kafka ignores them. */
static void check_request(decode_fn fn, const kw_t *w, int16_t v, int16_t max)
{
	int16_t out[] = {-1, (int16_t)(max + 1)};
	ck_assert(!w->oom);
	check_strict(fn, w->buf, w->len, &v, true);
	check_mutations(fn, w->buf, w->len, &v);
	for (size_t i = 0; i < KEEL_ARRAY_LEN(out); i++)
		ck_assert_int_eq(decode_copy(fn, w->buf, w->len, &out[i]), -1);
}

/* A reader over what w holds: a request for a decoder (which sets the encoding itself), or a
 * response to read back in the encoding its version calls for. */
static kr_t reader(const kw_t *w, bool flex)
{
	kr_t r;
	ck_assert(!w->oom);
	kr_init(&r, w->buf, w->len, flex);
	return r;
}

/* Encode into w afresh and compare with the bytes expected. */
#define ck_encodes(w, call, expect) do { \
	(w)->len = 0; \
	ck_assert_int_eq((call), 0); \
	ck_assert_bytes((w), (expect)); \
} while (0)

/* ---- FindCoordinator ---- */

static void build_find_coord(kw_t *w, int16_t v)
{
	w->flex = v >= 3;
	kw_str(w, "grp");
	if (v >= 1)
		kw_i8(w, 1);
	kw_tags(w);
}

START_TEST(test_find_coord_req)
{
	int16_t v = (int16_t)_i;
	kw_t w = built(build_find_coord, v);
	kr_t r = reader(&w, false);
	keel_find_coord_req_t q;
	ck_assert_int_eq(keel_find_coord_req_decode(&r, v, &q), 0);
	ck_assert_sl(q.key, "grp");
	ck_assert_int_eq(q.key_type, v >= 1 ? 1 : 0);
	check_request(dec_find_coord, &w, v, KEEL_FIND_COORDINATOR_MAX);
	kw_free(&w);
}
END_TEST

START_TEST(test_find_coord_flex_split)
{
	/* v2 is classic (int16 length), v3 flexible (uvarint length + 1, a tag section) */
	const uint8_t v2[] = {0x00, 0x03, 'g', 'r', 'p', 0x01};
	const uint8_t v3[] = {0x04, 'g', 'r', 'p', 0x01, 0x00};
	int16_t ver = 2;
	ck_assert_int_eq(decode_copy(dec_find_coord, v2, sizeof(v2), &ver), 0);
	ck_assert_int_eq(decode_copy(dec_find_coord, v3, sizeof(v3), &ver), -1);
	ver = 3;
	ck_assert_int_eq(decode_copy(dec_find_coord, v3, sizeof(v3), &ver), 0);
	ck_assert_int_eq(decode_copy(dec_find_coord, v2, sizeof(v2), &ver), -1);
}
END_TEST

START_TEST(test_find_coord_resp_bytes)
{
	/* v0: error, node_id, host, port */
	const uint8_t v0[] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 'h', 0x00, 0x00, 0x23, 0x84};
	/* v2: throttle, error, error_message, node_id, host, port */
	const uint8_t v2[] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x00, 0x02, 'n', 'o',
			      0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff};
	/* v3: the same fields, flexible: compact null message (0), compact host, tags */
	const uint8_t v3[] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
			      0x02, 'h', 0x00, 0x00, 0x23, 0x84, 0x00};
	keel_find_coord_resp_t ok = {.node_id = 1, .host = sl("h"), .port = 9092};
	keel_find_coord_resp_t err = {.error = 15, .error_message = sl("no"), .node_id = -1, .port = -1};
	kw_t w;
	kw_init(&w, 8, false);
	ck_encodes(&w, keel_find_coord_resp_encode(&w, 0, &ok), v0);
	ck_encodes(&w, keel_find_coord_resp_encode(&w, 2, &err), v2);
	ck_encodes(&w, keel_find_coord_resp_encode(&w, 3, &ok), v3);
	ck_assert_int_eq(keel_find_coord_resp_encode(&w, 4, &ok), -1);
	kw_free(&w);
}
END_TEST

/* ---- JoinGroup ---- */

static void build_join(kw_t *w, int16_t v)
{
	kw_str(w, "grp");
	kw_i32(w, 10000);
	if (v >= 1)
		kw_i32(w, 60000);
	kw_str(w, "m-1");
	if (v >= 5)
		kw_str(w, "inst");
	kw_str(w, "consumer");
	kw_array(w, 2);
	kw_str(w, "range");
	kw_bytes(w, "\x00\x01", 2, false);
	kw_str(w, "roundrobin");
	kw_bytes(w, "", 0, false);
}

START_TEST(test_join_req)
{
	int16_t v = (int16_t)_i;
	kw_t w = built(build_join, v);
	kr_t r = reader(&w, false);
	keel_join_req_t q;
	ck_assert_int_eq(keel_join_req_decode(&r, v, &q), 0);
	ck_assert_sl(q.group_id, "grp");
	ck_assert_int_eq(q.session_timeout, 10000);
	ck_assert_int_eq(q.rebalance_timeout, v >= 1 ? 60000 : 10000);
	ck_assert_sl(q.member_id, "m-1");
	ck_assert_sl(q.instance_id, v >= 5 ? "inst" : NULL);
	ck_assert_sl(q.protocol_type, "consumer");
	ck_assert_int_eq(q.nprotocols, 2);
	ck_assert_sl(q.protocols[0].name, "range");
	ck_assert_uint_eq(q.protocols[0].metadata.len, 2);
	ck_assert_sl(q.protocols[1].name, "roundrobin");
	ck_assert_sl(q.protocols[1].metadata, "");
	keel_join_req_free(&q);
	check_request(dec_join, &w, v, KEEL_JOIN_GROUP_MAX);
	kw_free(&w);
}
END_TEST

static const keel_join_member_t join_members[] = {
	{.member_id = {(const uint8_t *)"m-1", 3}, .metadata = {(const uint8_t *)"\x01\x02", 2}},
	{.member_id = {(const uint8_t *)"m-2", 3}, .instance_id = {(const uint8_t *)"i2", 2},
	 .metadata = {(const uint8_t *)"", 0}},
};

START_TEST(test_join_resp)
{
	keel_join_resp_t p = {.generation = 4, .protocol_name = sl("range"), .leader = sl("m-1"),
			      .member_id = sl("m-2"), .nmembers = 2, .members = join_members};
	int16_t v = (int16_t)_i;
	kw_t w;
	kr_t r;
	kw_init(&w, 8, true);
	ck_assert_int_eq(keel_join_resp_encode(&w, v, &p), 0);
	r = reader(&w, false);
	if (v >= 2)
		ck_assert_int_eq(kr_i32(&r), 0);
	ck_assert_int_eq(kr_i16(&r), 0);
	ck_assert_int_eq(kr_i32(&r), 4);
	ck_assert_sl(kr_str(&r, NULL), "range");
	ck_assert_sl(kr_str(&r, NULL), "m-1");
	ck_assert_sl(kr_str(&r, NULL), "m-2");
	ck_assert_int_eq(kr_array(&r, 0), 2);
	for (int i = 0; i < 2; i++) {
		ck_assert_sl(kr_str(&r, NULL), i ? "m-2" : "m-1");
		if (v >= 5)
			ck_assert_sl(kr_nstr(&r), i ? "i2" : NULL);
		ck_assert_uint_eq(kr_bytes(&r, NULL).len, i ? 0 : 2);
	}
	ck_assert(kr_done(&r));
	kw_free(&w);
}
END_TEST

START_TEST(test_join_resp_bytes)
{
	/* v5, an error for a new member: throttle, error 79, generation -1, protocol "", leader "",
	 * member_id, no members */
	const uint8_t v5[] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x4f, 0xff, 0xff, 0xff, 0xff,
			      0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 'c', '-', '1', 0x00, 0x00, 0x00, 0x00};
	keel_join_resp_t p = {.error = 79, .generation = -1, .member_id = sl("c-1")};
	kw_t w;
	kw_init(&w, 8, false);
	ck_encodes(&w, keel_join_resp_encode(&w, 5, &p), v5);
	kw_free(&w);
}
END_TEST

/* ---- Heartbeat and SyncGroup ---- */

static void build_member_ref(kw_t *w, int16_t v, const char *instance)
{
	kw_str(w, "grp");
	kw_i32(w, 3);
	kw_str(w, "m-1");
	if (v >= 3)
		kw_str(w, instance);
}

static void build_heartbeat(kw_t *w, int16_t v)
{
	build_member_ref(w, v, "inst");
}

static void check_member_ref(const keel_member_ref_t *m, int16_t v, const char *instance)
{
	ck_assert_sl(m->group_id, "grp");
	ck_assert_int_eq(m->generation, 3);
	ck_assert_sl(m->member_id, "m-1");
	ck_assert_sl(m->instance_id, v >= 3 ? instance : NULL);
}

START_TEST(test_heartbeat)
{
	const uint8_t v0[] = {0x00, 0x1b};
	const uint8_t v1[] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x1b};
	int16_t v = (int16_t)_i;
	kw_t w = built(build_heartbeat, v);
	kr_t r = reader(&w, false);
	keel_member_ref_t q;
	ck_assert_int_eq(keel_heartbeat_req_decode(&r, v, &q), 0);
	check_member_ref(&q, v, "inst");
	check_request(dec_heartbeat, &w, v, KEEL_HEARTBEAT_MAX);
	if (v == 0)
		ck_encodes(&w, keel_heartbeat_resp_encode(&w, v, 27), v0);
	else
		ck_encodes(&w, keel_heartbeat_resp_encode(&w, v, 27), v1);
	kw_free(&w);
}
END_TEST

static void build_sync(kw_t *w, int16_t v)
{
	build_member_ref(w, v, NULL);
	kw_array(w, 2);
	kw_str(w, "m-1");
	kw_bytes(w, "abc", 3, false);
	kw_str(w, "m-2");
	kw_bytes(w, "", 0, false);
}

START_TEST(test_sync)
{
	int16_t v = (int16_t)_i;
	kw_t w = built(build_sync, v);
	kr_t r = reader(&w, false);
	keel_sync_req_t q;
	ck_assert_int_eq(keel_sync_req_decode(&r, v, &q), 0);
	check_member_ref(&q.m, v, NULL);
	ck_assert_int_eq(q.nassignments, 2);
	ck_assert_sl(q.assignments[0].member_id, "m-1");
	ck_assert_sl(q.assignments[0].assignment, "abc");
	ck_assert_sl(q.assignments[1].member_id, "m-2");
	ck_assert_sl(q.assignments[1].assignment, "");
	keel_sync_req_free(&q);
	check_request(dec_sync, &w, v, KEEL_SYNC_GROUP_MAX);

	w.len = 0;
	ck_assert_int_eq(keel_sync_resp_encode(&w, v, 0, sl("xy")), 0);
	r = reader(&w, false);
	if (v >= 1)
		ck_assert_int_eq(kr_i32(&r), 0);
	ck_assert_int_eq(kr_i16(&r), 0);
	ck_assert_sl(kr_bytes(&r, NULL), "xy");
	ck_assert(kr_done(&r));
	kw_free(&w);
}
END_TEST

/* ---- LeaveGroup ---- */

static void build_leave(kw_t *w, int16_t v)
{
	kw_str(w, "grp");
	if (v < 3) {
		kw_str(w, "m-1");
		return;
	}
	kw_array(w, 2);
	kw_str(w, "m-1");
	kw_str(w, NULL);
	kw_str(w, "m-2");
	kw_str(w, "inst");
}

static const keel_leave_member_t left[] = {
	{.member_id = {(const uint8_t *)"m-1", 3}},
	{.member_id = {(const uint8_t *)"", 0}, .instance_id = {(const uint8_t *)"i", 1}, .error = 25},
};

START_TEST(test_leave)
{
	keel_leave_resp_t p = {.error = 0, .nmembers = 2, .members = left};
	int16_t v = (int16_t)_i;
	kw_t w = built(build_leave, v);
	kr_t r = reader(&w, false);
	keel_leave_req_t q;
	ck_assert_int_eq(keel_leave_req_decode(&r, v, &q), 0);
	ck_assert_sl(q.group_id, "grp");
	ck_assert_int_eq(q.nmembers, v >= 3 ? 2 : 1); /* one member, listed, before v3 */
	ck_assert_sl(q.members[0].member_id, "m-1");
	ck_assert_sl(q.members[0].instance_id, NULL);
	if (v >= 3) {
		ck_assert_sl(q.members[1].member_id, "m-2");
		ck_assert_sl(q.members[1].instance_id, "inst");
	}
	keel_leave_req_free(&q);
	check_request(dec_leave, &w, v, KEEL_LEAVE_GROUP_MAX);

	w.len = 0;
	ck_assert_int_eq(keel_leave_resp_encode(&w, v, &p), 0);
	r = reader(&w, false);
	if (v >= 1)
		ck_assert_int_eq(kr_i32(&r), 0);
	ck_assert_int_eq(kr_i16(&r), 0);
	if (v >= 3) {
		ck_assert_int_eq(kr_array(&r, 0), 2);
		ck_assert_sl(kr_str(&r, NULL), "m-1");
		ck_assert_sl(kr_nstr(&r), NULL);
		ck_assert_int_eq(kr_i16(&r), 0);
		ck_assert_sl(kr_str(&r, NULL), "");
		ck_assert_sl(kr_nstr(&r), "i");
		ck_assert_int_eq(kr_i16(&r), 25);
	}
	ck_assert(kr_done(&r));
	kw_free(&w);
}
END_TEST

/* ---- OffsetCommit ---- */

static void build_commit_part(kw_t *w, int16_t v, int32_t index, int64_t offset, const char *md)
{
	kw_i32(w, index);
	kw_i64(w, offset);
	if (v >= 6)
		kw_i32(w, 2);
	if (v == 1)
		kw_i64(w, 1234);
	kw_str(w, md);
}

static void build_commit(kw_t *w, int16_t v)
{
	kw_str(w, "grp");
	if (v >= 1) {
		kw_i32(w, 4);
		kw_str(w, "m");
	}
	if (v >= 7)
		kw_str(w, NULL);
	if (v >= 2 && v <= 4)
		kw_i64(w, 86400000);
	kw_array(w, 2);
	kw_str(w, "t1");
	kw_array(w, 2);
	build_commit_part(w, v, 0, 100, "md");
	build_commit_part(w, v, 1, 200, NULL);
	kw_str(w, "t2");
	kw_array(w, 0);
}

static void check_commit_part(const keel_commit_part_t *p, int16_t v, int32_t index,
			      int64_t offset, const char *md)
{
	ck_assert_int_eq(p->partition, index);
	ck_assert_int_eq(p->offset, offset);
	ck_assert_int_eq(p->leader_epoch, v >= 6 ? 2 : -1);
	ck_assert_int_eq(p->commit_ts, v == 1 ? 1234 : -1);
	ck_assert_sl(p->metadata, md);
}

START_TEST(test_commit_req)
{
	int16_t v = (int16_t)_i;
	kw_t w = built(build_commit, v);
	kr_t r = reader(&w, false);
	keel_commit_req_t q;
	ck_assert_int_eq(keel_commit_req_decode(&r, v, &q), 0);
	ck_assert_sl(q.group_id, "grp");
	ck_assert_int_eq(q.generation, v >= 1 ? 4 : -1);
	ck_assert_sl(q.member_id, v >= 1 ? "m" : "");
	ck_assert_sl(q.instance_id, NULL);
	ck_assert_int_eq(q.retention_ms, v >= 2 && v <= 4 ? 86400000 : -1);
	ck_assert_int_eq(q.ntopics, 2);
	ck_assert_sl(q.topics[0].name, "t1");
	ck_assert_int_eq(q.topics[0].npartitions, 2);
	check_commit_part(&q.topics[0].partitions[0], v, 0, 100, "md");
	check_commit_part(&q.topics[0].partitions[1], v, 1, 200, NULL);
	ck_assert_sl(q.topics[1].name, "t2");
	ck_assert_int_eq(q.topics[1].npartitions, 0);
	keel_commit_req_free(&q);
	check_request(dec_commit, &w, v, KEEL_OFFSET_COMMIT_MAX);
	kw_free(&w);
}
END_TEST

static const keel_part_error_t t_errors[] = {{.partition = 2, .error = 86}};
static const keel_topic_errors_t topic_errors[] = {
	{.name = {(const uint8_t *)"t", 1}, .npartitions = 1, .partitions = t_errors},
};
/* [("t", [(2, 86)])]: name, partitions [index, error] */
#define TOPIC_ERRORS_BYTES 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 't', 0x00, 0x00, 0x00, 0x01, \
			   0x00, 0x00, 0x00, 0x02, 0x00, 0x56

START_TEST(test_commit_resp_bytes)
{
	const uint8_t v2[] = {TOPIC_ERRORS_BYTES};
	const uint8_t v3[] = {0x00, 0x00, 0x00, 0x00, TOPIC_ERRORS_BYTES}; /* throttle first */
	int16_t v = (int16_t)_i;
	kw_t w;
	kw_init(&w, 8, false);
	ck_assert_int_eq(keel_commit_resp_encode(&w, v, 1, topic_errors), 0);
	if (v < 3)
		ck_assert_bytes(&w, v2);
	else
		ck_assert_bytes(&w, v3);
	kw_free(&w);
}
END_TEST

/* ---- OffsetFetch ---- */

static void build_offset_fetch_topics(kw_t *w, int16_t v, bool all)
{
	w->flex = v >= 6;
	kw_str(w, "grp");
	if (all) {
		kw_array(w, -1);
	} else {
		kw_array(w, 2);
		kw_str(w, "t1");
		kw_array(w, 2);
		kw_i32(w, 0);
		kw_i32(w, 1);
		kw_tags(w);
		kw_str(w, "t2");
		kw_array(w, 0);
		kw_tags(w);
	}
	if (v >= 7)
		kw_bool(w, true);
	kw_tags(w);
}

static void build_offset_fetch(kw_t *w, int16_t v)
{
	build_offset_fetch_topics(w, v, false);
}

static void build_offset_fetch_all(kw_t *w, int16_t v)
{
	build_offset_fetch_topics(w, v, true);
}

START_TEST(test_offset_fetch_req)
{
	int16_t v = (int16_t)_i;
	kw_t w = built(build_offset_fetch, v);
	kr_t r = reader(&w, false);
	keel_offset_fetch_req_t q;
	ck_assert_int_eq(keel_offset_fetch_req_decode(&r, v, &q), 0);
	ck_assert_sl(q.group_id, "grp");
	ck_assert_int_eq(q.ntopics, 2);
	ck_assert_sl(q.topics[0].topic, "t1");
	ck_assert_int_eq(q.topics[0].npartitions, 2);
	ck_assert_int_eq(q.topics[0].partitions[1], 1);
	ck_assert_int_eq(q.topics[1].npartitions, 0);
	ck_assert(q.require_stable == (v >= 7));
	keel_offset_fetch_req_free(&q);
	check_request(dec_offset_fetch, &w, v, KEEL_OFFSET_FETCH_MAX);

	/* null topics (all of them) only from v2 */
	kw_free(&w);
	w = built(build_offset_fetch_all, v);
	r = reader(&w, false);
	ck_assert_int_eq(keel_offset_fetch_req_decode(&r, v, &q), v >= 2 ? 0 : -1);
	if (v >= 2) {
		ck_assert_int_eq(q.ntopics, -1);
		ck_assert_ptr_null(q.topics);
		keel_offset_fetch_req_free(&q);
		check_request(dec_offset_fetch, &w, v, KEEL_OFFSET_FETCH_MAX);
	}
	kw_free(&w);
}
END_TEST

START_TEST(test_offset_fetch_flex_split)
{
	/* group "grp", topics [("t1", [0, 1])] */
	const uint8_t v5[] = {0x00, 0x03, 'g', 'r', 'p', 0x00, 0x00, 0x00, 0x01, 0x00, 0x02, 't', '1',
			      0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01};
	const uint8_t v6[] = {0x04, 'g', 'r', 'p', 0x02, 0x03, 't', '1', 0x03,
			      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00};
	const uint8_t v7[] = {0x04, 'g', 'r', 'p', 0x02, 0x03, 't', '1', 0x03,
			      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00};
	int16_t ver;
	for (ver = 0; ver <= 5; ver++) {
		ck_assert_int_eq(decode_copy(dec_offset_fetch, v5, sizeof(v5), &ver), 0);
		ck_assert_int_eq(decode_copy(dec_offset_fetch, v6, sizeof(v6), &ver), -1);
	}
	ver = 6;
	ck_assert_int_eq(decode_copy(dec_offset_fetch, v6, sizeof(v6), &ver), 0);
	ck_assert_int_eq(decode_copy(dec_offset_fetch, v5, sizeof(v5), &ver), -1);
	ck_assert_int_eq(decode_copy(dec_offset_fetch, v7, sizeof(v7), &ver), -1);
	ver = 7;
	ck_assert_int_eq(decode_copy(dec_offset_fetch, v7, sizeof(v7), &ver), 0);
	ck_assert_int_eq(decode_copy(dec_offset_fetch, v6, sizeof(v6), &ver), -1);
}
END_TEST

static const keel_fetched_part_t fetched_parts[] = {
	{.partition = 0, .offset = 100, .leader_epoch = 2, .metadata = {(const uint8_t *)"", 0}},
};
static const keel_fetched_topic_t fetched_topics[] = {
	{.name = {(const uint8_t *)"t1", 2}, .npartitions = 1, .partitions = fetched_parts},
};

START_TEST(test_offset_fetch_resp_bytes)
{
	/* v5: throttle, [name, [index, offset, leader_epoch, metadata, error]], error */
	const uint8_t v5[] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x02, 't', '1',
			      0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
			      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x00, 0x02,
			      0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
	/* v6: compact arrays and strings, a tag section after each partition, each topic and
	 * the body */
	const uint8_t v6[] = {0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 't', '1', 0x02,
			      0x00, 0x00, 0x00, 0x00,
			      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x00, 0x02,
			      0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
	/* v1 with a group error: no field for it, so each partition carries it, offset -1 */
	const uint8_t v1[] = {0x00, 0x00, 0x00, 0x01, 0x00, 0x02, 't', '1',
			      0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
			      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x0e};
	keel_offset_fetch_resp_t p = {.ntopics = 1, .topics = fetched_topics};
	kw_t w;
	kw_init(&w, 8, false);
	ck_encodes(&w, keel_offset_fetch_resp_encode(&w, 5, &p), v5);
	ck_encodes(&w, keel_offset_fetch_resp_encode(&w, 6, &p), v6);
	p.error = 14;
	ck_encodes(&w, keel_offset_fetch_resp_encode(&w, 1, &p), v1);
	kw_free(&w);
}
END_TEST

START_TEST(test_offset_fetch_resp)
{
	keel_offset_fetch_resp_t p = {.error = 0, .ntopics = 1, .topics = fetched_topics};
	int16_t v = (int16_t)_i;
	kw_t w;
	kr_t r;
	kw_init(&w, 8, false);
	ck_assert_int_eq(keel_offset_fetch_resp_encode(&w, v, &p), 0);
	r = reader(&w, v >= 6);
	if (v >= 3)
		ck_assert_int_eq(kr_i32(&r), 0);
	ck_assert_int_eq(kr_array(&r, 0), 1);
	ck_assert_sl(kr_str(&r, NULL), "t1");
	ck_assert_int_eq(kr_array(&r, 0), 1);
	ck_assert_int_eq(kr_i32(&r), 0);
	ck_assert_int_eq(kr_i64(&r), 100);
	if (v >= 5)
		ck_assert_int_eq(kr_i32(&r), 2);
	ck_assert_sl(kr_nstr(&r), "");
	ck_assert_int_eq(kr_i16(&r), 0);
	kr_tags(&r);
	kr_tags(&r);
	if (v >= 2)
		ck_assert_int_eq(kr_i16(&r), 0);
	kr_tags(&r);
	ck_assert(kr_done(&r));
	kw_free(&w);
}
END_TEST

/* ---- DescribeGroups ---- */

static void build_describe(kw_t *w, int16_t v)
{
	kw_array(w, 2);
	kw_str(w, "a");
	kw_str(w, "b");
	if (v >= 3)
		kw_bool(w, true);
}

static const keel_described_member_t described_members[] = {
	{.member_id = {(const uint8_t *)"m-1", 3}, .instance_id = {(const uint8_t *)"i", 1},
	 .client_id = {(const uint8_t *)"c", 1}, .client_host = {(const uint8_t *)"/h", 2},
	 .metadata = {(const uint8_t *)"md", 2}, .assignment = {(const uint8_t *)"as", 2}},
};
static const keel_described_group_t described[] = {
	{.group_id = {(const uint8_t *)"a", 1}, .state = {(const uint8_t *)"Stable", 6},
	 .protocol_type = {(const uint8_t *)"consumer", 8}, .protocol_data = {(const uint8_t *)"range", 5},
	 .nmembers = 1, .members = described_members, .auth_ops = KEEL_AUTH_OPS_NONE},
	{.error = 0, .group_id = {(const uint8_t *)"b", 1}, .state = {(const uint8_t *)"Dead", 4},
	 .auth_ops = 0x0c},
};

static void check_described_member(kr_t *r, int16_t v)
{
	ck_assert_int_eq(kr_array(r, 0), 1);
	ck_assert_sl(kr_str(r, NULL), "m-1");
	if (v >= 4)
		ck_assert_sl(kr_nstr(r), "i");
	ck_assert_sl(kr_str(r, NULL), "c");
	ck_assert_sl(kr_str(r, NULL), "/h");
	ck_assert_sl(kr_bytes(r, NULL), "md");
	ck_assert_sl(kr_bytes(r, NULL), "as");
}

START_TEST(test_describe_groups)
{
	int16_t v = (int16_t)_i;
	kw_t w = built(build_describe, v);
	kr_t r = reader(&w, false);
	keel_describe_groups_req_t q;
	ck_assert_int_eq(keel_describe_groups_req_decode(&r, v, &q), 0);
	ck_assert_int_eq(q.groups.n, 2);
	ck_assert_sl(q.groups.v[1], "b");
	ck_assert(q.include_auth_ops == (v >= 3));
	keel_str_list_free(&q.groups);
	check_request(dec_describe, &w, v, KEEL_DESCRIBE_GROUPS_MAX);

	w.len = 0;
	ck_assert_int_eq(keel_describe_groups_resp_encode(&w, v, 2, described), 0);
	r = reader(&w, false);
	if (v >= 1)
		ck_assert_int_eq(kr_i32(&r), 0);
	ck_assert_int_eq(kr_array(&r, 0), 2);
	ck_assert_int_eq(kr_i16(&r), 0);
	ck_assert_sl(kr_str(&r, NULL), "a");
	ck_assert_sl(kr_str(&r, NULL), "Stable");
	ck_assert_sl(kr_str(&r, NULL), "consumer");
	ck_assert_sl(kr_str(&r, NULL), "range");
	check_described_member(&r, v);
	if (v >= 3)
		ck_assert_int_eq(kr_i32(&r), INT32_MIN);
	ck_assert_int_eq(kr_i16(&r), 0);
	ck_assert_sl(kr_str(&r, NULL), "b");
	ck_assert_sl(kr_str(&r, NULL), "Dead");
	ck_assert_sl(kr_str(&r, NULL), ""); /* a null slice goes out empty where null is invalid */
	ck_assert_sl(kr_str(&r, NULL), "");
	ck_assert_int_eq(kr_array(&r, 0), 0);
	if (v >= 3)
		ck_assert_int_eq(kr_i32(&r), 0x0c);
	ck_assert(kr_done(&r));
	kw_free(&w);
}
END_TEST

/* ---- ListGroups ---- */

static void build_list_groups(kw_t *w, int16_t v)
{
	w->flex = v >= 3;
	if (v >= 4) {
		kw_array(w, 2);
		kw_str(w, "Stable");
		kw_str(w, "Empty");
	}
	kw_tags(w);
}

START_TEST(test_list_groups_req)
{
	int16_t v = (int16_t)_i;
	kw_t w = built(build_list_groups, v);
	kr_t r = reader(&w, false);
	keel_str_list_t q;
	ck_assert_int_eq(keel_list_groups_req_decode(&r, v, &q), 0);
	ck_assert_int_eq(q.n, v >= 4 ? 2 : 0);
	if (v >= 4)
		ck_assert_sl(q.v[1], "Empty");
	keel_str_list_free(&q);
	check_request(dec_list_groups, &w, v, KEEL_LIST_GROUPS_MAX);
	kw_free(&w);
}
END_TEST

START_TEST(test_list_groups_flex_split)
{
	/* v0-2 bodies are empty; v3 is a lone tag section; v4 adds a compact states filter */
	const uint8_t tags_only[] = {0x00};
	const uint8_t v4[] = {0x02, 0x07, 'S', 't', 'a', 'b', 'l', 'e', 0x00};
	const uint8_t resp_v2[] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
				  0x00, 0x01, 'g', 0x00, 0x08, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r'};
	const uint8_t resp_v3[] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 'g',
				  0x09, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r', 0x00, 0x00};
	const uint8_t resp_v4[] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 'g',
				  0x09, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r',
				  0x07, 'S', 't', 'a', 'b', 'l', 'e', 0x00, 0x00};
	const keel_listed_group_t g = {sl("g"), sl("consumer"), sl("Stable")};
	keel_list_groups_resp_t p = {.ngroups = 1, .groups = &g};
	int16_t ver = 2;
	kw_t w;

	ck_assert_int_eq(decode_copy(dec_list_groups, tags_only, 0, &ver), 0);
	ver = 3;
	ck_assert_int_eq(decode_copy(dec_list_groups, tags_only, sizeof(tags_only), &ver), 0);
	ck_assert_int_eq(decode_copy(dec_list_groups, tags_only, 0, &ver), -1);
	ver = 4;
	ck_assert_int_eq(decode_copy(dec_list_groups, v4, sizeof(v4), &ver), 0);
	{ /* what librdkafka 2.0 sends: no filter and a second tag section, read as Kafka does */
		const uint8_t lrk[] = {0x01, 0x00, 0x00};
		ck_assert_int_eq(decode_copy(dec_list_groups, lrk, sizeof(lrk), &ver), 0);
	}

	/* responses: throttle, error, [group_id, protocol_type, state (v4+)] */
	kw_init(&w, 8, false);
	ck_encodes(&w, keel_list_groups_resp_encode(&w, 2, &p), resp_v2);
	ck_encodes(&w, keel_list_groups_resp_encode(&w, 3, &p), resp_v3);
	ck_encodes(&w, keel_list_groups_resp_encode(&w, 4, &p), resp_v4);
	kw_free(&w);
}
END_TEST

START_TEST(test_list_groups_resp_v0)
{
	const uint8_t v0[] = {0x00, 0x0f, 0x00, 0x00, 0x00, 0x00}; /* error, no groups, no throttle */
	keel_list_groups_resp_t p = {.error = 15};
	kw_t w;
	kw_init(&w, 8, false);
	ck_encodes(&w, keel_list_groups_resp_encode(&w, 0, &p), v0);
	kw_free(&w);
}
END_TEST

/* ---- DeleteGroups and OffsetDelete ---- */

static void build_delete_groups(kw_t *w, int16_t v)
{
	kw_array(w, 2);
	kw_str(w, "a");
	kw_str(w, "b");
}

START_TEST(test_delete_groups)
{
	const uint8_t resp[] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
				0x00, 0x01, 'a', 0x00, 0x45};
	const keel_group_error_t res = {sl("a"), 69};
	int16_t v = (int16_t)_i;
	kw_t w = built(build_delete_groups, v);
	kr_t r = reader(&w, false);
	keel_str_list_t q;
	ck_assert_int_eq(keel_delete_groups_req_decode(&r, v, &q), 0);
	ck_assert_int_eq(q.n, 2);
	ck_assert_sl(q.v[0], "a");
	keel_str_list_free(&q);
	check_request(dec_delete_groups, &w, v, KEEL_DELETE_GROUPS_MAX);
	ck_encodes(&w, keel_delete_groups_resp_encode(&w, v, 1, &res), resp);
	kw_free(&w);
}
END_TEST

static void build_offset_delete(kw_t *w, int16_t v)
{
	kw_str(w, "grp");
	kw_array(w, 1);
	kw_str(w, "t");
	kw_array(w, 2);
	kw_i32(w, 0);
	kw_i32(w, 2);
}

START_TEST(test_offset_delete)
{
	const uint8_t resp[] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, TOPIC_ERRORS_BYTES};
	int16_t v = 0;
	kw_t w = built(build_offset_delete, v);
	kr_t r = reader(&w, false);
	keel_offset_delete_req_t q;
	ck_assert_int_eq(keel_offset_delete_req_decode(&r, v, &q), 0);
	ck_assert_sl(q.group_id, "grp");
	ck_assert_int_eq(q.ntopics, 1);
	ck_assert_sl(q.topics[0].topic, "t");
	ck_assert_int_eq(q.topics[0].npartitions, 2);
	ck_assert_int_eq(q.topics[0].partitions[1], 2);
	keel_offset_delete_req_free(&q);
	check_request(dec_offset_delete, &w, v, KEEL_OFFSET_DELETE_MAX);
	/* the error comes before the throttle time here, unlike every other group API */
	ck_encodes(&w, keel_offset_delete_resp_encode(&w, 0, 0, 1, topic_errors), resp);
	ck_assert_int_eq(keel_offset_delete_resp_encode(&w, 1, 0, 1, topic_errors), -1);
	kw_free(&w);
}
END_TEST

START_TEST(test_huge_counts_refused)
{
	/* counts far beyond the bytes present fail before anything is allocated */
	const uint8_t join[] = {0x00, 0x01, 'g', 0x00, 0x00, 0x27, 0x10, 0x00, 0x00,
				0x00, 0x01, 'c', 0x7f, 0xff, 0xff, 0xff};
	const uint8_t fetch_v6[] = {0x02, 'g', 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00};
	int16_t v = 0;
	ck_assert_int_eq(decode_copy(dec_join, join, sizeof(join), &v), -1);
	v = 6;
	ck_assert_int_eq(decode_copy(dec_offset_fetch, fetch_v6, sizeof(fetch_v6), &v), -1);
}
END_TEST

Suite *suite_group_proto(void)
{
	Suite *s = suite_create("group_proto");
	TCase *tc = tcase_create("core");
	tcase_add_loop_test(tc, test_find_coord_req, 0, KEEL_FIND_COORDINATOR_MAX + 1);
	tcase_add_test(tc, test_find_coord_flex_split);
	tcase_add_test(tc, test_find_coord_resp_bytes);
	tcase_add_loop_test(tc, test_join_req, 0, KEEL_JOIN_GROUP_MAX + 1);
	tcase_add_loop_test(tc, test_join_resp, 0, KEEL_JOIN_GROUP_MAX + 1);
	tcase_add_test(tc, test_join_resp_bytes);
	tcase_add_loop_test(tc, test_heartbeat, 0, KEEL_HEARTBEAT_MAX + 1);
	tcase_add_loop_test(tc, test_sync, 0, KEEL_SYNC_GROUP_MAX + 1);
	tcase_add_loop_test(tc, test_leave, 0, KEEL_LEAVE_GROUP_MAX + 1);
	tcase_add_loop_test(tc, test_commit_req, 0, KEEL_OFFSET_COMMIT_MAX + 1);
	tcase_add_loop_test(tc, test_commit_resp_bytes, 0, KEEL_OFFSET_COMMIT_MAX + 1);
	tcase_add_loop_test(tc, test_offset_fetch_req, 0, KEEL_OFFSET_FETCH_MAX + 1);
	tcase_add_test(tc, test_offset_fetch_flex_split);
	tcase_add_test(tc, test_offset_fetch_resp_bytes);
	tcase_add_loop_test(tc, test_offset_fetch_resp, 0, KEEL_OFFSET_FETCH_MAX + 1);
	tcase_add_loop_test(tc, test_describe_groups, 0, KEEL_DESCRIBE_GROUPS_MAX + 1);
	tcase_add_loop_test(tc, test_list_groups_req, 0, KEEL_LIST_GROUPS_MAX + 1);
	tcase_add_test(tc, test_list_groups_flex_split);
	tcase_add_test(tc, test_list_groups_resp_v0);
	tcase_add_loop_test(tc, test_delete_groups, 0, KEEL_DELETE_GROUPS_MAX + 1);
	tcase_add_test(tc, test_offset_delete);
	tcase_add_test(tc, test_huge_counts_refused);
	suite_add_tcase(s, tc);
	return s;
}
