/* src/api_epoch.c: OffsetForLeaderEpoch v0-3: the end offset of a leader epoch, from the log's leader-epoch cache. */
#include "api.h"

#define EPOCH_DEBUG_REPLICA_ID (-2) /* v3+: "any replica", may be answered by a follower */
#define EPOCH_NO_REPLICA_ID (-1)    /* v0-2 carry no replica id: only the leader answers */
#define EPOCH_NONE (-1)             /* no current_leader_epoch (v0-1, or not known) */

/* One partition's answer, as Kafka's Partition.lastOffsetForLeaderEpoch: the current leader
 * epoch is checked first, then leadership. Returns a Kafka error code; *epoch and *end stay -1
 * on an error or when the cache knows no epoch <= want. */
static int16_t epoch_one(keel_request_t *req, keel_slice_t topic, int32_t index, int32_t replica_id,
			 int32_t current, int32_t want, int32_t *epoch, int64_t *end)
{
	keel_partition_t *p = keel_partition_get(req->broker, (const char *)topic.ptr, topic.len, index);

	*epoch = -1;
	*end = -1;
	if (!p || !p->log)
		return keel_api_not_here(req->broker, topic, index);
	if (current != EPOCH_NONE && current < p->leader_epoch)
		return KERR_FENCED_LEADER_EPOCH;
	if (current != EPOCH_NONE && current > p->leader_epoch)
		return KERR_UNKNOWN_LEADER_EPOCH;
	if (!p->leader && replica_id != EPOCH_DEBUG_REPLICA_ID)
		return KERR_NOT_LEADER_OR_FOLLOWER;
	keel_log_end_offset_for_epoch(p->log, want, epoch, end);
	return KERR_NONE;
}

/* Walk the topics array of the request body r: with w == NULL only check that it decodes
 * (every byte consumed); with w, answer each partition into w. */
static bool epoch_walk(keel_request_t *req, kr_t r, int32_t replica_id, kw_t *w)
{
	int16_t ver = req->api_version;
	int32_t nt = kr_array(&r, 6);

	if (nt < 0)
		return false;
	if (w)
		kw_array(w, nt);
	for (int32_t t = 0; t < nt && kr_ok(&r); t++) {
		bool null = false;
		keel_slice_t topic = kr_str(&r, &null);
		int32_t np = kr_array(&r, ver >= 2 ? 12 : 8);

		if (null || np < 0)
			return false;
		if (w) {
			kw_strn(w, (const char *)topic.ptr, topic.len);
			kw_array(w, np);
		}
		for (int32_t i = 0; i < np && kr_ok(&r); i++) {
			int32_t index = kr_i32(&r);
			int32_t current = ver >= 2 ? kr_i32(&r) : EPOCH_NONE;
			int32_t want = kr_i32(&r), epoch;
			int64_t end;
			int16_t err;

			if (!w || !kr_ok(&r))
				continue;
			err = epoch_one(req, topic, index, replica_id, current, want, &epoch, &end);
			kw_i16(w, err);
			kw_i32(w, index);
			if (ver >= 1)
				kw_i32(w, epoch);
			kw_i64(w, end);
		}
	}
	return kr_ok(&r) && kr_remaining(&r) == 0;
}

int keel_api_offset_for_leader_epoch(keel_request_t *req)
{
	kr_t *r = &req->body;
	int32_t replica_id = EPOCH_NO_REPLICA_ID;
	keel_resp_t resp;

	if (req->api_version >= 3)
		replica_id = kr_i32(r);
	if (!kr_ok(r) || !epoch_walk(req, *r, replica_id, NULL))
		return KEEL_CLOSE;
	keel_resp_begin(req, &resp);
	if (req->api_version >= 2)
		kw_i32(&resp.w, 0); /* throttle_time_ms */
	epoch_walk(req, *r, replica_id, &resp.w);
	keel_resp_send(req, &resp);
	return KEEL_HANDLED;
}
