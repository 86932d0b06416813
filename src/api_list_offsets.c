/* src/api_list_offsets.c: ListOffsets v0-5: earliest (-2), latest (-1), and by timestamp. */
#include "api.h"

/* Resolve one partition's request. Returns a Kafka error code. */
static int16_t list_one(keel_request_t *req, keel_slice_t topic, int32_t index, int64_t ts,
			int64_t *offset, int64_t *out_ts, int32_t *epoch)
{
	keel_partition_t *p = keel_partition_get(req->broker, (const char *)topic.ptr, topic.len, index);
	*offset = -1;
	*out_ts = -1;
	*epoch = -1;
	if (!p)
		return keel_api_not_here(req->broker, topic, index);
	if (!p->leader)
		return KERR_NOT_LEADER_OR_FOLLOWER;
	*epoch = p->leader_epoch;
	if (ts == -1) {
		*offset = p->high_watermark; /* LSO = HW until transactions */
	} else if (ts == -2) {
		*offset = keel_log_start_offset(p->log);
	} else if (ts >= 0) {
		int64_t o, t;
		if (keel_log_offset_for_time(p->log, ts, &o, &t) == KEEL_OK && o < p->high_watermark) {
			*offset = o;
			*out_ts = t;
		}
	} else {
		return KERR_INVALID_REQUEST;
	}
	return KERR_NONE;
}

static bool list_walk(keel_request_t *req, kr_t r, kw_t *w)
{
	int16_t ver = req->api_version;
	int32_t nt = kr_array(&r, 6);
	if (w)
		kw_array(w, nt);
	for (int32_t t = 0; t < nt && kr_ok(&r); t++) {
		keel_slice_t topic = kr_str(&r, NULL);
		int32_t np = kr_array(&r, 12);
		if (w) {
			kw_strn(w, (const char *)topic.ptr, topic.len);
			kw_array(w, np);
		}
		for (int32_t i = 0; i < np && kr_ok(&r); i++) {
			int32_t index = kr_i32(&r);
			if (ver >= 4)
				(void)kr_i32(&r); /* current_leader_epoch */
			int64_t ts = kr_i64(&r);
			if (ver == 0)
				(void)kr_i32(&r); /* max_num_offsets */
			if (!w || !kr_ok(&r))
				continue;
			int64_t off, ots;
			int32_t epoch;
			int16_t err = list_one(req, topic, index, ts, &off, &ots, &epoch);
			kw_i32(w, index);
			kw_i16(w, err);
			if (ver == 0) {
				kw_array(w, off >= 0 ? 1 : 0);
				if (off >= 0)
					kw_i64(w, off);
				continue;
			}
			kw_i64(w, ots);
			kw_i64(w, off);
			if (ver >= 4)
				kw_i32(w, epoch);
		}
	}
	return kr_ok(&r) && kr_remaining(&r) == 0;
}

int keel_api_list_offsets(keel_request_t *req)
{
	kr_t *r = &req->body;
	keel_resp_t resp;
	(void)kr_i32(r); /* replica_id */
	if (req->api_version >= 2)
		(void)kr_i8(r); /* isolation level */
	if (!kr_ok(r) || !list_walk(req, *r, NULL))
		return KEEL_CLOSE;
	keel_resp_begin(req, &resp);
	if (req->api_version >= 2)
		kw_i32(&resp.w, 0); /* throttle_time_ms */
	list_walk(req, *r, &resp.w);
	keel_resp_send(req, &resp);
	return KEEL_HANDLED;
}
