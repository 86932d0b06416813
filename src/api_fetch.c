/* src/api_fetch.c: Fetch v0-11: whole batches from the log sent with sendfile, and long polls
 * that park on the partitions until min_bytes is reached or max_wait_ms expires. Fetch v0-v3
 * readers get the batches converted down to legacy message sets (magic 0 for v0-v1, 1 for
 * v2-v3), as Kafka converts them: read into memory, no sendfile. */
#include "api.h"
#include "batch.h"
#include "compress.h"
#include "logger.h"
#include "replica.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
	keel_timer_t timer;       /* first member: the timer callback finds the state from it */
	keel_request_t *req;
	kr_t topics;              /* reader at the topics array */
	int32_t max_bytes;
	int32_t min_bytes;
	bool follower;
	int nwaiters;
	keel_waiter_t *waiters;   /* one per requested partition that is served here */
	keel_partition_t **wparts;
	struct fetch_part *parts; /* each requested partition's answer, as last evaluated */
} fetch_state_t;

/* What one partition contributes. */
typedef struct fetch_part {
	int16_t err;
	int64_t hw, log_start;
	keel_log_range_t range;
} fetch_part_t;

/* Does any batch header in the range name zstd? Reads only the headers. */
static bool range_has_zstd(const keel_log_range_t *r)
{
	uint8_t h[KB_OFF_ATTRIBUTES + 2];
	for (size_t off = 0; off + sizeof(h) <= r->len;) {
		if (pread(r->fd, h, sizeof(h), r->pos + (off_t)off) != (ssize_t)sizeof(h))
			return false;
		if ((kb_get16(h + KB_OFF_ATTRIBUTES) & KB_ATTR_CODEC_MASK) == KEEL_CODEC_ZSTD)
			return true;
		if (kb_get32(h + KB_OFF_LENGTH) <= 0)
			return false;
		off += (size_t)kb_get32(h + KB_OFF_LENGTH) + KEEL_BATCH_LOG_OVERHEAD;
	}
	return false;
}

static void fetch_partition(keel_request_t *req, fetch_state_t *st, keel_slice_t topic, int32_t index,
			    int32_t epoch, int64_t offset, int32_t pmax, size_t budget, bool min_one,
			    fetch_part_t *out)
{
	keel_partition_t *p = keel_partition_get(req->broker, (const char *)topic.ptr, topic.len, index);
	memset(out, 0, sizeof(*out));
	out->hw = out->log_start = -1;
	if (!p) {
		out->err = keel_api_not_here(req->broker, topic, index);
		return;
	}
	if (!p->leader) {
		out->err = KERR_NOT_LEADER_OR_FOLLOWER;
		return;
	}
	if (epoch >= 0 && epoch != p->leader_epoch) { /* KIP-320 fencing (v9+) */
		out->err = epoch < p->leader_epoch ? KERR_FENCED_LEADER_EPOCH : KERR_UNKNOWN_LEADER_EPOCH;
		return;
	}
	out->hw = p->high_watermark;
	out->log_start = keel_log_start_offset(p->log);
	size_t max = (size_t)(pmax > 0 ? pmax : 0);
	if (max > budget)
		max = budget;
	int64_t upto = st->follower ? keel_log_end_offset(p->log) : p->high_watermark;
	int rc = keel_log_read(p->log, offset, max, upto, min_one, &out->range);
	if (rc == KERR_OFFSET_OUT_OF_RANGE)
		out->err = KERR_OFFSET_OUT_OF_RANGE;
	else if (rc != KEEL_OK)
		out->err = KERR_KAFKA_STORAGE_ERROR;
	if (req->api_version < 4 && !p->cfg.down_conversion)
		out->err = KERR_UNSUPPORTED_VERSION; /* message.downconversion.enable=false */
	if (!out->err && out->range.len && p->maybe_zstd && req->api_version < 10 &&
	    range_has_zstd(&out->range))
		out->err = KERR_UNSUPPORTED_COMPRESSION_TYPE; /* zstd needs Fetch v10 */
	if (out->err)
		out->range.len = 0;
}

/* The range of fp as legacy messages for a Fetch below v4 (*out malloc'd, NULL if empty).
 * Returns a Kafka error code. */
static int16_t down_convert(keel_request_t *req, const fetch_part_t *fp, int64_t offset, uint8_t **out,
			    size_t *out_len)
{
	uint8_t *raw = malloc(fp->range.len);
	int rc = KEEL_OK;
	if (!raw)
		return KERR_UNKNOWN_SERVER_ERROR;
	for (size_t got = 0; got < fp->range.len && rc == KEEL_OK;) {
		ssize_t n = pread(fp->range.fd, raw + got, fp->range.len - got, fp->range.pos + (off_t)got);
		if (n <= 0)
			rc = KERR_KAFKA_STORAGE_ERROR;
		got += n > 0 ? (size_t)n : 0;
	}
	if (rc == KEEL_OK)
		rc = keel_batch_to_legacy(raw, fp->range.len, req->api_version >= 2 ? 1 : 0, offset,
					  (size_t)req->broker->cfg->socket_request_max_bytes, out, out_len);
	free(raw);
	return (int16_t)rc;
}

/* Evaluate the fetch. With resp == NULL only count, keeping each partition's answer in
 * st->parts; with resp, write the response, from those answers if reuse (nothing ran in
 * between: the log reads are not done twice). Returns total bytes, or -1 if a partition has an
 * error (which answers at once, as Kafka does). */
static int64_t fetch_eval(keel_request_t *req, fetch_state_t *st, keel_resp_t *resp, bool reuse)
{
	int16_t ver = req->api_version;
	kr_t r = st->topics;
	kw_t *w = resp ? &resp->w : NULL;
	int64_t total = 0;
	bool any_error = false;
	int32_t nt = kr_array(&r, 6), k = 0;
	if (w)
		kw_array(w, nt);
	for (int32_t t = 0; t < nt; t++) {
		keel_slice_t topic = kr_str(&r, NULL);
		int32_t np = kr_array(&r, 16);
		if (w) {
			kw_strn(w, (const char *)topic.ptr, topic.len);
			kw_array(w, np);
		}
		for (int32_t i = 0; i < np; i++) {
			fetch_part_t fp;
			int32_t index = kr_i32(&r);
			int32_t epoch = ver >= 9 ? kr_i32(&r) : -1; /* current_leader_epoch */
			int64_t offset = kr_i64(&r);
			if (ver >= 5)
				(void)kr_i64(&r); /* follower's log_start_offset */
			int32_t pmax = kr_i32(&r);
			size_t budget = total < st->max_bytes ? (size_t)(st->max_bytes - total) : 0;
			uint8_t *legacy = NULL;
			size_t legacy_len = 0;
			if (reuse)
				fp = st->parts[k++];
			else
				fetch_partition(req, st, topic, index, epoch, offset, pmax, budget, total == 0, &fp);
			if (!resp)
				st->parts[k++] = fp;
			if (w && ver < 4 && !fp.err && fp.range.len &&
			    (fp.err = down_convert(req, &fp, offset, &legacy, &legacy_len)))
				fp.range.len = 0;
			any_error |= fp.err != 0;
			total += (int64_t)fp.range.len;
			if (!w)
				continue;
			kw_i32(w, index);
			kw_i16(w, fp.err);
			kw_i64(w, fp.hw);
			if (ver < 4) {
				kw_i32(w, (int32_t)legacy_len);
				kw_raw(w, legacy, legacy_len);
				free(legacy);
				continue;
			}
			kw_i64(w, fp.hw); /* last_stable_offset: = HW until transactions */
			if (ver >= 5)
				kw_i64(w, fp.log_start);
			kw_array(w, 0); /* aborted transactions */
			if (ver >= 11)
				kw_i32(w, -1); /* preferred_read_replica */
			kw_i32(w, (int32_t)fp.range.len);
			if (fp.range.len && !keel_resp_file(resp, fp.range.fd, fp.range.pos, fp.range.len))
				resp->w.oom = true;
		}
	}
	return any_error ? -1 : total;
}

static void fetch_unpark(fetch_state_t *st)
{
	keel_loop_t *loop = st->req->broker->loop;
	keel_timer_cancel(loop, &st->timer);
	for (int i = 0; i < st->nwaiters; i++)
		keel_waiter_unlink(&st->waiters[i]);
	free(st->waiters);
	free(st->wparts);
	free(st->parts);
}

static void fetch_respond(keel_request_t *req, fetch_state_t *st, bool reuse)
{
	keel_resp_t resp;
	keel_resp_begin(req, &resp);
	if (req->api_version >= 1)
		kw_i32(&resp.w, 0); /* throttle_time_ms */
	if (req->api_version >= 7) {
		kw_i16(&resp.w, KERR_NONE);
		kw_i32(&resp.w, 0); /* session_id: sessionless */
	}
	fetch_eval(req, st, &resp, reuse);
	keel_resp_send(req, &resp);
}

static void fetch_finish_parked(fetch_state_t *st, bool reuse)
{
	keel_request_t *req = st->req;
	fetch_respond(req, st, reuse);
	fetch_unpark(st);
	free(st);
	keel_request_done(req);
}

static void fetch_timeout(keel_loop_t *loop, keel_timer_t *t)
{
	fetch_finish_parked((fetch_state_t *)t, false);
}

void keel_api_fetch_wake(void *arg)
{
	keel_request_t *req = arg;
	fetch_state_t *st = req->state;
	int64_t n = fetch_eval(req, st, NULL, false);
	if (n < 0 || n >= st->min_bytes)
		fetch_finish_parked(st, true);
}

static void fetch_cancel(keel_request_t *req)
{
	fetch_state_t *st = req->state;
	fetch_unpark(st);
	free(st);
}

/* Park on every local partition of the request. */
static int fetch_park(keel_request_t *req, fetch_state_t *st, int32_t max_wait)
{
	kr_t r = st->topics;
	int cap = 0;
	int32_t nt = kr_array(&r, 6);
	fetch_state_t *heap = malloc(sizeof(*heap));
	if (!heap) {
		free(st->parts);
		return KEEL_CLOSE;
	}
	*heap = *st;
	st = heap;
	for (int32_t t = 0; t < nt; t++) {
		keel_slice_t topic = kr_str(&r, NULL);
		int32_t np = kr_array(&r, 16);
		for (int32_t i = 0; i < np; i++) {
			int32_t index = kr_i32(&r);
			kr_skip(&r, (req->api_version >= 9 ? 4 : 0) + 8 + (req->api_version >= 5 ? 8 : 0) + 4);
			keel_partition_t *p = keel_partition_get(req->broker, (const char *)topic.ptr, topic.len, index);
			if (!p)
				continue;
			if (st->nwaiters == cap) {
				cap = cap ? cap * 2 : 8;
				st->waiters = realloc(st->waiters, (size_t)cap * sizeof(*st->waiters));
				st->wparts = realloc(st->wparts, (size_t)cap * sizeof(*st->wparts));
				if (!st->waiters || !st->wparts)
					abort();
			}
			st->wparts[st->nwaiters++] = p;
		}
	}
	/* link only after the arrays stopped moving */
	for (int i = 0; i < st->nwaiters; i++)
		keel_waiter_link(st->wparts[i], &st->waiters[i], req, keel_api_fetch_wake);
	keel_timer_init(&st->timer, fetch_timeout);
	keel_timer_arm(req->broker->loop, &st->timer, max_wait);
	req->state = st;
	req->cancel = fetch_cancel;
	return KEEL_PARKED;
}

/* A follower's fetch tells the leader how far it got: its fetch offset is its LEO. */
static void note_follower(keel_request_t *req, fetch_state_t *st, int32_t replica_id)
{
	kr_t r = st->topics;
	int16_t ver = req->api_version;
	int32_t nt = kr_array(&r, 6);
	for (int32_t t = 0; t < nt; t++) {
		keel_slice_t topic = kr_str(&r, NULL);
		int32_t np = kr_array(&r, 16);
		for (int32_t i = 0; i < np; i++) {
			int32_t index = kr_i32(&r);
			int32_t epoch = ver >= 9 ? kr_i32(&r) : -1;
			int64_t offset = kr_i64(&r);
			kr_skip(&r, (ver >= 5 ? 8 : 0) + 4);
			keel_partition_t *p = keel_partition_get(req->broker, (const char *)topic.ptr, topic.len, index);
			/* only a fetch the partition can serve counts (Kafka updates the follower's state
			 * after a successful read): one from past our end or of another epoch is answered
			 * with an error and says nothing of what the follower holds */
			if (p && p->leader && (epoch < 0 || epoch == p->leader_epoch) &&
			    offset >= keel_log_start_offset(p->log) && offset <= keel_log_end_offset(p->log))
				keel_replica_on_fetch(req->broker, p, replica_id, offset);
		}
	}
}

int keel_api_fetch(keel_request_t *req)
{
	kr_t *r = &req->body;
	int16_t ver = req->api_version;
	fetch_state_t st;
	memset(&st, 0, sizeof(st));
	st.req = req;
	int32_t replica_id = kr_i32(r);
	int32_t max_wait = kr_i32(r);
	st.min_bytes = kr_i32(r);
	st.max_bytes = ver >= 3 ? kr_i32(r) : INT32_MAX;
	if (ver >= 4)
		(void)kr_i8(r); /* isolation level: LSO = HW until transactions */
	if (ver >= 7) {
		(void)kr_i32(r); /* session_id */
		(void)kr_i32(r); /* session_epoch */
	}
	st.topics = *r;
	st.follower = replica_id >= 0;
	/* validate the whole request once before touching anything */
	int32_t nt = kr_array(r, 6);
	size_t nparts = 0;
	for (int32_t t = 0; t < nt && kr_ok(r); t++) {
		(void)kr_str(r, NULL);
		int32_t np = kr_array(r, 16);
		kr_skip(r, (size_t)np * ((ver >= 9 ? 4 : 0) + 8 + (ver >= 5 ? 8 : 0) + 8));
		nparts += np > 0 ? (size_t)np : 0;
	}
	if (ver >= 7) {
		int32_t nf = kr_array(r, 6);
		for (int32_t t = 0; t < nf && kr_ok(r); t++) {
			(void)kr_str(r, NULL);
			kr_skip(r, (size_t)kr_array(r, 4) * 4);
		}
	}
	if (ver >= 11)
		(void)kr_str(r, NULL); /* rack_id */
	if (!kr_ok(r) || st.max_bytes < 0)
		return KEEL_CLOSE;
	if (!(st.parts = malloc((nparts ? nparts : 1) * sizeof(*st.parts))))
		return KEEL_CLOSE;
	if (st.follower)
		note_follower(req, &st, replica_id);
	int64_t n = fetch_eval(req, &st, NULL, false);
	if (max_wait <= 0 || n < 0 || n >= st.min_bytes) {
		fetch_respond(req, &st, true);
		free(st.parts);
		return KEEL_HANDLED;
	}
	return fetch_park(req, &st, max_wait);
}
