/* src/api_produce.c: Produce v0-7: validate each partition's batch, assign offsets, append; with
 * acks=all answer once the high watermark covers every batch or the request times out. Produces
 * are pipelined: the connection goes on with the next one meanwhile, and the responses leave in
 * request order (keel_deferred_t). Produce v0-v2 carry legacy message sets (magic 0 and 1),
 * converted to one magic-2 batch first, as Kafka converts them for a log in format v2. */
#include "api.h"
#include "batch.h"
#include "compress.h"
#include "conn.h"
#include "logger.h"
#include "replica.h"

#include <stdlib.h>
#include <string.h>

/* One partition of the request. */
typedef struct {
	keel_partition_t *p;  /* NULL after an error */
	int32_t index;
	int16_t err;
	int64_t base, append_time, log_start;
	int64_t target;       /* acks=all: HW needed (LEO after our append) */
	keel_waiter_t waiter;
} produce_part_t;

typedef struct {
	keel_timer_t timer;   /* first member: the timer callback finds the state */
	keel_broker_t *b;
	keel_deferred_t *d;   /* where the response waits its turn (acks=all, or behind others) */
	int16_t acks;
	int nparts;
	produce_part_t *parts;
	int32_t ntopics;
	keel_slice_t *topics; /* name of each topic, in names */
	char *names;          /* copies: the request's frame goes before the response is written */
	int32_t *tparts;      /* partition count of each topic */
} produce_state_t;

static void autocreate_unknown(keel_broker_t *b, keel_slice_t topic)
{
	char name[250];
	if (!b->cfg->auto_create_topics_enable || !topic.len || topic.len >= sizeof(name))
		return;
	memcpy(name, topic.ptr, topic.len);
	name[topic.len] = '\0';
	if (!keel_view_topic(b->view, name) && keel_topic_name_valid(name))
		keel_broker_autocreate(b, name, topic.len);
}

/* The topic's compression.type names another codec than the batch's: rebuild it with that codec,
 * as Kafka's LogValidator does, into *out (malloc'd, the caller frees; *out_len its size). Kafka
 * applies max.message.bytes again to the batch as written. Returns a Kafka error code. */
static int produce_recompress(keel_broker_t *b, keel_partition_t *p, keel_slice_t records,
			      uint8_t **out, size_t *out_len)
{
	int err = keel_batch_recompress(records.ptr, records.len, p->cfg.codec,
					(size_t)b->cfg->socket_request_max_bytes, out, out_len);
	if (err)
		return err;
	if (*out_len > (size_t)p->cfg.max_message_bytes) {
		klog_debug("produce", "%s-%d: a batch recompressed to codec %d is %zu bytes, over max.message.bytes",
			   p->topic, p->index, p->cfg.codec, *out_len);
		free(*out);
		*out = NULL;
		return KERR_MESSAGE_TOO_LARGE;
	}
	if (p->cfg.codec == KEEL_CODEC_ZSTD)
		p->maybe_zstd = true; /* Fetch < v10 must not get it */
	return KERR_NONE;
}

static int16_t produce_batch(keel_request_t *req, produce_state_t *st, keel_partition_t *p,
			     produce_part_t *pp, keel_slice_t records);

/* Validate and append one partition's records; returns a Kafka error code. */
static int16_t produce_partition(keel_request_t *req, produce_state_t *st, keel_slice_t topic,
				 produce_part_t *pp, keel_slice_t records, bool records_null)
{
	keel_broker_t *b = req->broker;
	keel_partition_t *p = keel_partition_get(b, (const char *)topic.ptr, topic.len, pp->index);
	uint8_t *converted = NULL;
	int16_t err;

	if (!p) {
		autocreate_unknown(b, topic);
		return keel_api_not_here(b, topic, pp->index);
	}
	if (!p->leader)
		return KERR_NOT_LEADER_OR_FOLLOWER;
	pp->log_start = keel_log_start_offset(p->log);
	if (records_null)
		return KERR_INVALID_RECORD;
	/* Produce < v3: a legacy message set (a batch of magic 2 there goes on as one; Kafka does
	 * not hold those versions to magic < 2 either) */
	if (req->api_version < 3 && !(records.len > KB_OFF_MAGIC && records.ptr[KB_OFF_MAGIC] == 2)) {
		size_t len;
		int rc = keel_batch_from_legacy(records.ptr, records.len, (size_t)b->cfg->socket_request_max_bytes,
						&converted, &len);
		if (rc != KEEL_OK)
			return (int16_t)rc;
		records = (keel_slice_t){converted, len};
	}
	err = produce_batch(req, st, p, pp, records);
	free(converted);
	return err;
}

/* The rest of produce_partition for the leader p: records is one magic-2 batch, or not valid. */
static int16_t produce_batch(keel_request_t *req, produce_state_t *st, keel_partition_t *p,
			     produce_part_t *pp, keel_slice_t records)
{
	keel_broker_t *b = req->broker;
	keel_batch_info_t info;
	int64_t now = keel_now_ms();

	if (records.len < KEEL_BATCH_HEADER_LEN)
		return KERR_INVALID_RECORD;
	keel_batch_limits_t lim = {
		.max_batch_bytes = (size_t)p->cfg.max_message_bytes,
		.max_uncompressed = (size_t)b->cfg->socket_request_max_bytes,
		.from_client = true,
		.require_keys = p->cfg.compact,
		/* Kafka bounds CreateTime timestamps only; the default (max long) bounds nothing */
		.check_timestamps = !p->cfg.log_append_time && p->cfg.timestamp_diff_max_ms < INT64_MAX,
		.now_ms = now,
		.timestamp_diff_max_ms = p->cfg.timestamp_diff_max_ms,
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
	if (st->acks == -1 && p->nisr < p->cfg.min_insync_replicas)
		return KERR_NOT_ENOUGH_REPLICAS; /* nothing is written */
	uint8_t *buf = (uint8_t *)records.ptr; /* the request buffer is ours to rewrite */
	size_t len = records.len;
	uint8_t *rebuilt = NULL;
	if (p->cfg.codec != KEEL_CODEC_PRODUCER && p->cfg.codec != (info.attributes & KB_ATTR_CODEC_MASK)) {
		err = produce_recompress(b, p, records, &rebuilt, &len);
		if (err)
			return (int16_t)err;
		buf = rebuilt;
	}
	if (p->cfg.log_append_time) {
		keel_batch_set_log_append_time(buf, len, now);
		pp->append_time = now;
	}
	err = keel_log_append(p->log, buf, len, p->leader_epoch, now, &pp->base);
	free(rebuilt);
	if (err != KEEL_OK)
		return KERR_KAFKA_STORAGE_ERROR;
	keel_log_maybe_flush(p->log, now);
	pp->target = keel_log_end_offset(p->log);
	pp->p = p;
	/* a leader alone in its ISR moves the HW at once, which wakes the parked requests; else
	 * wake them here: followers wait for new data, not for the HW */
	if (!keel_replica_update_hw(b, p))
		keel_partition_wake(b, p);
	return KERR_NONE;
}

/* Parse the topics array into st (no side effects). Returns false if malformed. */
static bool produce_parse(kr_t r, produce_state_t *st, keel_slice_t **records, bool **nulls)
{
	int32_t nt = kr_array(&r, 6);
	kr_t count = r;
	int total = 0;
	size_t names_len = 0;
	for (int32_t t = 0; t < nt && kr_ok(&count); t++) {
		names_len += kr_str(&count, NULL).len;
		int32_t np = kr_array(&count, 8);
		total += np;
		for (int32_t i = 0; i < np; i++) {
			(void)kr_i32(&count);
			(void)kr_bytes(&count, NULL);
		}
	}
	if (!kr_ok(&count) || kr_remaining(&count) != 0)
		return false;
	st->ntopics = nt;
	st->topics = calloc((size_t)nt + 1, sizeof(*st->topics));
	st->tparts = calloc((size_t)nt + 1, sizeof(*st->tparts));
	st->parts = calloc((size_t)total + 1, sizeof(*st->parts));
	*records = calloc((size_t)total + 1, sizeof(**records));
	*nulls = calloc((size_t)total + 1, sizeof(**nulls));
	st->names = malloc(names_len + 1);
	if (!st->topics || !st->tparts || !st->parts || !*records || !*nulls || !st->names)
		return false;
	names_len = 0;
	for (int32_t t = 0; t < nt; t++) {
		keel_slice_t name = kr_str(&r, NULL);
		if (name.len)
			memcpy(st->names + names_len, name.ptr, name.len);
		st->topics[t] = (keel_slice_t){(const uint8_t *)st->names + names_len, name.len};
		names_len += name.len;
		st->tparts[t] = kr_array(&r, 8);
		for (int32_t i = 0; i < st->tparts[t]; i++, st->nparts++) {
			st->parts[st->nparts].index = kr_i32(&r);
			(*records)[st->nparts] = kr_bytes(&r, &(*nulls)[st->nparts]);
		}
	}
	return true;
}

static void produce_free(produce_state_t *st)
{
	for (int i = 0; i < st->nparts; i++)
		keel_waiter_unlink(&st->parts[i].waiter);
	free(st->parts);
	free(st->topics);
	free(st->names);
	free(st->tparts);
	free(st);
}

/* Build the response into resp; pending acks=all partitions get `pending_err`. */
static void produce_respond(keel_request_t *req, produce_state_t *st, int16_t pending_err, keel_resp_t *out)
{
	keel_resp_t resp;
	int16_t ver = req->api_version;
	int k = 0;
	keel_resp_begin(req, &resp);
	kw_array(&resp.w, st->ntopics);
	for (int32_t t = 0; t < st->ntopics; t++) {
		kw_strn(&resp.w, (const char *)st->topics[t].ptr, st->topics[t].len);
		kw_array(&resp.w, st->tparts[t]);
		for (int32_t i = 0; i < st->tparts[t]; i++, k++) {
			produce_part_t *pp = &st->parts[k];
			int16_t err = pp->err;
			if (!err && pp->p && pp->p->high_watermark < pp->target)
				err = pending_err;
			else if (!err && st->acks == -1 && pp->p && pp->p->nisr < pp->p->cfg.min_insync_replicas)
				err = KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND; /* written, but under-replicated */
			kw_i32(&resp.w, pp->index);
			kw_i16(&resp.w, err);
			kw_i64(&resp.w, pp->err ? -1 : pp->base);
			if (ver >= 2)
				kw_i64(&resp.w, pp->append_time);
			if (ver >= 5)
				kw_i64(&resp.w, pp->log_start);
		}
	}
	if (ver >= 1)
		kw_i32(&resp.w, 0); /* throttle_time_ms comes last */
	*out = resp;
}

static bool produce_complete(const produce_state_t *st)
{
	for (int i = 0; i < st->nparts; i++) {
		const produce_part_t *pp = &st->parts[i];
		if (pp->p && !pp->err && (!pp->p->leader || pp->p->high_watermark >= pp->target))
			continue;
		if (pp->p && !pp->err)
			return false;
	}
	return true;
}

static void produce_finish(produce_state_t *st, int16_t pending_err)
{
	keel_deferred_t *d = st->d;
	keel_timer_cancel(st->b->loop, &st->timer);
	for (int i = 0; i < st->nparts; i++) /* lost leadership while waiting */
		if (st->parts[i].p && !st->parts[i].err && !st->parts[i].p->leader)
			st->parts[i].err = KERR_NOT_LEADER_OR_FOLLOWER;
	produce_respond(&d->req, st, pending_err, &d->resp);
	produce_free(st);
	keel_deferred_finish(d);
}

static void produce_wake(void *arg)
{
	produce_state_t *st = arg;
	if (produce_complete(st))
		produce_finish(st, KERR_NONE);
}

static void produce_timeout(keel_loop_t *loop, keel_timer_t *t)
{
	produce_finish((produce_state_t *)t, KERR_REQUEST_TIMED_OUT);
}

static void produce_cancel(keel_deferred_t *d)
{
	produce_state_t *st = d->state;
	keel_timer_cancel(st->b->loop, &st->timer);
	produce_free(st);
}

int keel_api_produce(keel_request_t *req)
{
	kr_t *r = &req->body;
	bool null;
	keel_slice_t *records = NULL;
	bool *nulls = NULL;
	produce_state_t *st = calloc(1, sizeof(*st));
	if (!st)
		return KEEL_CLOSE;
	if (req->api_version >= 3)
		(void)kr_str(r, &null); /* transactional_id: the exactly-once issue */
	st->acks = kr_i16(r);
	int32_t timeout_ms = kr_i32(r);
	st->b = req->broker;
	if (!kr_ok(r) || !produce_parse(*r, st, &records, &nulls)) {
		free(records);
		free(nulls);
		produce_free(st);
		return KEEL_CLOSE;
	}
	int k = 0;
	for (int32_t t = 0; t < st->ntopics; t++)
		for (int32_t i = 0; i < st->tparts[t]; i++, k++) {
			produce_part_t *pp = &st->parts[k];
			pp->base = pp->append_time = pp->log_start = -1;
			pp->err = (st->acks == 0 || st->acks == 1 || st->acks == -1)
					  ? produce_partition(req, st, st->topics[t], pp, records[k], nulls[k])
					  : KERR_INVALID_REQUIRED_ACKS;
			if (pp->err)
				pp->p = NULL;
		}
	free(records);
	free(nulls);
	if (st->acks == 0) {
		/* acks=0 gets no response; an error closes the connection instead (as Kafka does),
		 * the producer's one sign that it should refresh its metadata */
		for (int i = 0; i < st->nparts && !req->conn->closing; i++)
			if (st->parts[i].err) {
				klog_info("produce", "acks=0 request from %s: error %d on a partition; closing the connection",
					  req->conn->peer, st->parts[i].err);
				req->conn->closing = true;
				keel_conn_mark_dirty(req->conn);
			}
		produce_free(st);
		return KEEL_HANDLED;
	}
	bool done = st->acks == 1 || produce_complete(st);
	if (done && !req->conn->defer_head) {
		keel_resp_t resp;
		produce_respond(req, st, KERR_NONE, &resp);
		keel_resp_send(req, &resp);
		produce_free(st);
		return KEEL_HANDLED;
	}
	/* the response waits for replication, or for the responses before it */
	if (!(st->d = keel_conn_defer(req->conn, req))) {
		produce_free(st);
		return KEEL_CLOSE;
	}
	keel_timer_init(&st->timer, produce_timeout);
	if (done) {
		produce_finish(st, KERR_NONE);
		return KEEL_HANDLED;
	}
	for (int i = 0; i < st->nparts; i++)
		if (st->parts[i].p)
			keel_waiter_link(st->parts[i].p, &st->parts[i].waiter, st, produce_wake);
	keel_timer_arm(st->b->loop, &st->timer, timeout_ms > 0 ? timeout_ms : 0);
	st->d->state = st;
	st->d->cancel = produce_cancel;
	return KEEL_HANDLED;
}
