/* src/api_produce.c: Produce v3-7: validate each partition's batch, assign offsets, append. */
#include "api.h"
#include "batch.h"
#include "compress.h"
#include "conn.h"
#include "logger.h"

#include <string.h>

/* Append one partition's records; returns a Kafka error code and fills the offsets. */
static int16_t produce_partition(keel_request_t *req, keel_slice_t topic, int32_t index,
				 keel_slice_t records, bool records_null, int64_t *base_offset,
				 int64_t *append_time, int64_t *log_start)
{
	keel_broker_t *b = req->broker;
	keel_partition_t *p = keel_partition_get(b, (const char *)topic.ptr, topic.len, index);
	keel_batch_info_t info;
	int64_t now = keel_now_ms();

	if (!p) {
		char name[250];
		if (b->cfg->auto_create_topics_enable && topic.len && topic.len < sizeof(name)) {
			memcpy(name, topic.ptr, topic.len);
			name[topic.len] = '\0';
			if (!keel_view_topic(b->view, name) && keel_topic_name_valid(name))
				keel_broker_autocreate(b, name, topic.len);
		}
		return KERR_UNKNOWN_TOPIC_OR_PARTITION;
	}
	if (!p->leader)
		return KERR_NOT_LEADER_OR_FOLLOWER;
	*log_start = keel_log_start_offset(p->log);
	if (records_null || records.len < KEEL_BATCH_HEADER_LEN)
		return KERR_INVALID_RECORD;
	keel_batch_limits_t lim = {
		.max_batch_bytes = (size_t)p->cfg.max_message_bytes,
		.max_uncompressed = (size_t)b->cfg->socket_request_max_bytes,
		.from_client = true,
	};
	/* validate the first batch; a batch length past the end is validate's CORRUPT_MESSAGE */
	int64_t first = (int64_t)kb_get32(records.ptr + KB_OFF_LENGTH) + KEEL_BATCH_LOG_OVERHEAD;
	size_t first_len = first > 0 && (uint64_t)first <= records.len ? (size_t)first : records.len;
	int err = keel_batch_validate(records.ptr, first_len, &lim, &info);
	if (err)
		return (int16_t)err;
	if ((size_t)info.length + KEEL_BATCH_LOG_OVERHEAD != records.len)
		return KERR_INVALID_RECORD; /* exactly one batch per partition from v3 */
	if ((info.attributes & KB_ATTR_CODEC_MASK) == KEEL_CODEC_ZSTD) {
		if (req->api_version < 7)
			return KERR_UNSUPPORTED_COMPRESSION_TYPE;
		p->maybe_zstd = true;
	}
	uint8_t *buf = (uint8_t *)records.ptr; /* the request buffer is ours to rewrite */
	if (p->cfg.log_append_time) {
		keel_batch_set_log_append_time(buf, records.len, now);
		*append_time = now;
	}
	if (keel_log_append(p->log, buf, records.len, p->leader_epoch, now, base_offset) != KEEL_OK)
		return KERR_KAFKA_STORAGE_ERROR;
	keel_log_maybe_flush(p->log, now);
	/* single-replica high watermark; replication moves it in the replication issue */
	p->high_watermark = keel_log_end_offset(p->log);
	keel_partition_wake(b, p);
	return KERR_NONE;
}

/* Walk the topics array; with apply=false only check that it parses. */
static bool produce_walk(keel_request_t *req, kr_t r, int16_t acks, kw_t *w, bool apply)
{
	int16_t ver = req->api_version;
	int32_t nt = kr_array(&r, 6);
	if (apply)
		kw_array(w, nt);
	for (int32_t t = 0; t < nt && kr_ok(&r); t++) {
		keel_slice_t topic = kr_str(&r, NULL);
		int32_t np = kr_array(&r, 8);
		if (apply) {
			kw_strn(w, (const char *)topic.ptr, topic.len);
			kw_array(w, np);
		}
		for (int32_t i = 0; i < np && kr_ok(&r); i++) {
			int32_t index = kr_i32(&r);
			bool null;
			keel_slice_t rec = kr_bytes(&r, &null);
			if (!apply || !kr_ok(&r))
				continue;
			int64_t base = -1, at = -1, ls = -1;
			int16_t err = (acks == 0 || acks == 1 || acks == -1)
					      ? produce_partition(req, topic, index, rec, null, &base, &at, &ls)
					      : KERR_INVALID_REQUIRED_ACKS;
			if (err)
				klog_debug("produce", "%s: %.*s-%d: error %d", req->conn->peer, (int)topic.len,
					   (const char *)topic.ptr, index, err);
			kw_i32(w, index);
			kw_i16(w, err);
			kw_i64(w, err ? -1 : base);
			if (ver >= 2)
				kw_i64(w, at);
			if (ver >= 5)
				kw_i64(w, ls);
		}
	}
	return kr_ok(&r) && kr_remaining(&r) == 0;
}

int keel_api_produce(keel_request_t *req)
{
	kr_t *r = &req->body;
	keel_resp_t resp;
	bool null;

	(void)kr_str(r, &null); /* transactional_id: the exactly-once issue */
	int16_t acks = kr_i16(r);
	(void)kr_i32(r); /* timeout_ms: acks=all waits only on replication */
	if (!kr_ok(r) || !produce_walk(req, *r, acks, NULL, false))
		return KEEL_CLOSE;
	keel_resp_begin(req, &resp);
	produce_walk(req, *r, acks, &resp.w, true);
	if (req->api_version >= 1)
		kw_i32(&resp.w, 0); /* throttle_time_ms comes last */
	if (acks == 0) {
		keel_resp_free(&resp); /* acks=0 gets no response */
		return KEEL_HANDLED;
	}
	keel_resp_send(req, &resp);
	return KEEL_HANDLED;
}
