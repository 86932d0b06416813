/* src/fetcher.c: replica fetchers, num.replica.fetchers per leader broker, each with its share
 * of the partitions followed there (partition.fetcher_id). Each keeps one connection to its
 * leader with one request in flight: OffsetForLeaderEpoch for partitions that must truncate first, else a Fetch (v11,
 * replica_id = this broker) for every partition it follows there. A partition the leader answers
 * with an error sits out alone while the others go on, as in Kafka's fetcher threads: first
 * PARTITION_RETRY_MS, doubling up to replica.fetch.backoff.ms (the usual error is a leader a few
 * milliseconds behind this follower in applying a new partition or leader epoch, which Kafka
 * makes every follower wait out for the whole backoff). A lost connection delays them all.
 * Loop thread only. */
#include "fetcher.h"
#include "api.h"
#include "batch.h"
#include "logger.h"
#include "peer.h"

#include <inttypes.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FETCH_VERSION 11
#define EPOCH_VERSION 3
#define FETCH_RESPONSE_MAX (10 << 20) /* replica.fetch.response.max.bytes */
#define PARTITION_RETRY_MS 50         /* the first wait of a partition after an error */

struct keel_fetcher {
	keel_timer_t timer;   /* first member: backoff, or the next partition retry */
	keel_fetcher_t *next;
	keel_broker_t *b;
	int32_t leader;
	int32_t id;           /* fetcher_id of the partitions it fetches */
	keel_peer_t peer;     /* the connection to the leader */
	bool backoff;         /* waiting on the timer before the next request */
	int16_t api;          /* API of the request in flight */
	int32_t corr;
	bool stale;
};

static void fetcher_next(keel_fetcher_t *f);

/* Does this broker follow p from f's leader right now? */
static bool follows(const keel_fetcher_t *f, const keel_partition_t *p)
{
	return !p->leader && p->leader_id == f->leader && p->leader_id != f->b->id && p->fetcher_id == f->id;
}

/* Wait replica.fetch.backoff.ms before the next request, after a lost connection. */
static void fetcher_delay(keel_fetcher_t *f)
{
	f->backoff = true;
	keel_peer_quiet(&f->peer);
	keel_timer_arm(f->b->loop, &f->timer, f->b->cfg->replica_fetch_backoff_ms);
}

static void fetcher_on_failure(keel_peer_t *peer, const char *why)
{
	keel_fetcher_t *f = peer->arg;
	klog_info("fetcher", "broker %d -> leader %d (%s:%d): %s; retrying in %d ms", f->b->id, f->leader,
		  peer->host, peer->port, why, f->b->cfg->replica_fetch_backoff_ms);
	fetcher_delay(f);
}

static void fetcher_timer(keel_loop_t *loop, keel_timer_t *t)
{
	keel_fetcher_t *f = (keel_fetcher_t *)t;
	(void)loop;
	f->backoff = false;
	fetcher_next(f);
}

/* Is p to be in the next request from f: followed from there and not sitting out an error? */
static bool fetchable(const keel_fetcher_t *f, const keel_partition_t *p, int64_t now)
{
	return follows(f, p) && p->fetch_retry_ms <= now;
}

/* An error for p: leave it out of requests for a while, twice as long as after its last error,
 * from PARTITION_RETRY_MS up to replica.fetch.backoff.ms. */
static void partition_error(keel_fetcher_t *f, keel_partition_t *p)
{
	int64_t max = f->b->cfg->replica_fetch_backoff_ms;
	int64_t wait = p->fetch_backoff_ms ? (int64_t)p->fetch_backoff_ms * 2 : PARTITION_RETRY_MS;
	p->fetch_backoff_ms = (int32_t)(wait < max ? wait : max);
	p->fetch_retry_ms = keel_mono_ms() + p->fetch_backoff_ms;
}

static void req_header(keel_fetcher_t *f, int16_t api, int16_t version)
{
	char client[64];
	snprintf(client, sizeof(client), "keel-replica-fetcher-%d-%d", f->b->id, f->id);
	keel_peer_begin(&f->peer, api, version, ++f->corr, client, false);
	f->api = api;
}

/* OffsetForLeaderEpoch v3 for partitions that must truncate; false if there are none. */
static bool build_epoch_request(keel_fetcher_t *f)
{
	keel_broker_t *b = f->b;
	int64_t now = keel_mono_ms();
	int32_t n = 0;
	size_t count_pos;
	req_header(f, 23, EPOCH_VERSION);
	kw_i32(&f->peer.out, b->id); /* replica_id */
	count_pos = kw_reserve(&f->peer.out, 4);
	for (size_t i = 0; i < b->ptable_size; i++)
		for (keel_partition_t *p = b->ptable[i]; p; p = p->hnext) {
			if (!fetchable(f, p, now) || !p->truncate_pending)
				continue;
			kw_str(&f->peer.out, p->topic);
			kw_i32(&f->peer.out, 1);
			kw_i32(&f->peer.out, p->index);
			kw_i32(&f->peer.out, p->leader_epoch);            /* current_leader_epoch */
			kw_i32(&f->peer.out, keel_log_latest_epoch(p->log)); /* our latest epoch */
			n++;
		}
	kw_patch32(&f->peer.out, count_pos, n);
	return n > 0;
}

/* Fetch v11 for every partition followed from this leader; false if there are none. */
static bool build_fetch_request(keel_fetcher_t *f)
{
	keel_broker_t *b = f->b;
	int64_t now = keel_mono_ms();
	int32_t n = 0;
	size_t count_pos;
	req_header(f, 1, FETCH_VERSION);
	kw_i32(&f->peer.out, b->id);                       /* replica_id */
	kw_i32(&f->peer.out, b->cfg->replica_fetch_wait_max_ms);
	kw_i32(&f->peer.out, b->cfg->replica_fetch_min_bytes);
	kw_i32(&f->peer.out, FETCH_RESPONSE_MAX);
	kw_i8(&f->peer.out, 0);                            /* read_uncommitted */
	kw_i32(&f->peer.out, 0);                           /* sessionless */
	kw_i32(&f->peer.out, -1);
	count_pos = kw_reserve(&f->peer.out, 4);
	for (size_t i = 0; i < b->ptable_size; i++)
		for (keel_partition_t *p = b->ptable[i]; p; p = p->hnext) {
			if (!fetchable(f, p, now) || p->truncate_pending)
				continue;
			kw_str(&f->peer.out, p->topic);
			kw_i32(&f->peer.out, 1);
			kw_i32(&f->peer.out, p->index);
			kw_i32(&f->peer.out, p->leader_epoch);
			kw_i64(&f->peer.out, keel_log_end_offset(p->log));
			kw_i64(&f->peer.out, keel_log_start_offset(p->log));
			kw_i32(&f->peer.out, b->cfg->replica_fetch_max_bytes);
			n++;
		}
	kw_patch32(&f->peer.out, count_pos, n);
	kw_i32(&f->peer.out, 0);  /* forgotten topics */
	kw_str(&f->peer.out, ""); /* rack_id */
	return n > 0;
}

/* The earliest retry time of a followed partition sitting out an error, or INT64_MAX. */
static int64_t next_retry(const keel_fetcher_t *f)
{
	int64_t at = INT64_MAX;
	for (size_t i = 0; i < f->b->ptable_size; i++)
		for (keel_partition_t *p = f->b->ptable[i]; p; p = p->hnext)
			if (follows(f, p) && p->fetch_retry_ms < at)
				at = p->fetch_retry_ms;
	return at;
}

/* Issue the next request; with nothing to fetch now, wait for the first partition retry, or go
 * idle if this fetcher has nothing to follow. */
static void fetcher_next(keel_fetcher_t *f)
{
	if (f->backoff || f->peer.state != KEEL_PEER_IDLE)
		return;
	bool any = build_epoch_request(f) || build_fetch_request(f);
	if (!any) {
		int64_t at = next_retry(f);
		kw_free(&f->peer.out);
		if (at != INT64_MAX)
			keel_timer_arm(f->b->loop, &f->timer, at - keel_mono_ms());
		return;
	}
	if (keel_peer_send(&f->peer) < 0)
		fetcher_on_failure(&f->peer, strerror(errno));
}

/* Truncate p after the leader answered OffsetForLeaderEpoch (reference/zookeeper.md section 3). */
static void truncate_follower(keel_partition_t *p, int32_t our_epoch, int32_t leader_epoch, int64_t end_offset)
{
	int64_t leo = keel_log_end_offset(p->log), to;
	if (leader_epoch < 0 || end_offset < 0) {
		to = p->high_watermark; /* UNDEFINED: fall back to the high watermark */
	} else if (leader_epoch == our_epoch) {
		to = end_offset;
	} else {
		int32_t found;
		int64_t ours;
		to = end_offset;
		if (keel_log_end_offset_for_epoch(p->log, leader_epoch, &found, &ours) == KEEL_OK && found >= 0 &&
		    ours < to)
			to = ours;
	}
	if (to < leo) {
		klog_info("fetcher", "%s-%d: truncating from %lld to %lld (leader epoch %d ends at %lld)", p->topic,
			  p->index, (long long)leo, (long long)to, leader_epoch, (long long)end_offset);
		keel_log_truncate_to(p->log, to);
	}
	if (p->high_watermark > keel_log_end_offset(p->log))
		p->high_watermark = keel_log_end_offset(p->log);
	p->truncate_pending = false;
}

static bool handle_epoch_response(keel_fetcher_t *f, kr_t *r)
{
	(void)kr_i32(r); /* throttle */
	int32_t nt = kr_array(r, 6);
	for (int32_t t = 0; t < nt && kr_ok(r); t++) {
		keel_slice_t topic = kr_str(r, NULL);
		int32_t np = kr_array(r, 18);
		for (int32_t i = 0; i < np && kr_ok(r); i++) {
			int16_t err = kr_i16(r);
			int32_t index = kr_i32(r);
			int32_t epoch = kr_i32(r);
			int64_t end = kr_i64(r);
			keel_partition_t *p = keel_partition_get(f->b, (const char *)topic.ptr, topic.len, index);
			if (!kr_ok(r) || !p || !follows(f, p) || !p->truncate_pending)
				continue;
			if (err) {
				klog_debug("fetcher", "%s-%d: OffsetForLeaderEpoch error %d", p->topic, p->index, err);
				partition_error(f, p);
			} else
				truncate_follower(p, keel_log_latest_epoch(p->log), epoch, end);
		}
	}
	return kr_ok(r);
}

/* Append the whole batches of a fetched records blob to p; returns false on a bad batch. */
static bool append_records(keel_partition_t *p, keel_slice_t rec)
{
	size_t off = 0;
	int64_t now = keel_now_ms();
	while (rec.len - off >= KEEL_BATCH_HEADER_LEN) {
		const uint8_t *batch = rec.ptr + off;
		int64_t len = (int64_t)kb_get32(batch + KB_OFF_LENGTH) + KEEL_BATCH_LOG_OVERHEAD;
		if (len < KEEL_BATCH_HEADER_LEN || (uint64_t)len > rec.len - off)
			break; /* a partial batch at the end: fetched again next time */
		if (!keel_batch_crc_ok(batch, (size_t)len)) {
			klog_error("fetcher", "%s-%d: corrupt batch from the leader at %lld", p->topic, p->index,
				   (long long)kb_get64(batch));
			return false;
		}
		if (kb_get64(batch) >= keel_log_end_offset(p->log) && /* (gaps: a compacted leader) */
		    keel_log_append_raw(p->log, batch, (size_t)len, now) != KEEL_OK)
			return false;
		off += (size_t)len;
	}
	return true;
}

static bool handle_fetch_response(keel_fetcher_t *f, kr_t *r)
{
	keel_broker_t *b = f->b;
	(void)kr_i32(r); /* throttle */
	int16_t top_err = kr_i16(r);
	(void)kr_i32(r); /* session */
	int32_t nt = kr_array(r, 6);
	for (int32_t t = 0; t < nt && kr_ok(r); t++) {
		keel_slice_t topic = kr_str(r, NULL);
		int32_t np = kr_array(r, 42); /* index, error, hw, lso, log start, aborted, replica, records */
		for (int32_t i = 0; i < np && kr_ok(r); i++) {
			int32_t index = kr_i32(r);
			int16_t err = kr_i16(r);
			int64_t hw = kr_i64(r);
			(void)kr_i64(r); /* last stable offset */
			int64_t leader_start = kr_i64(r);
			int32_t na = kr_array(r, 16);
			kr_skip(r, na > 0 ? (size_t)na * 16 : 0);
			(void)kr_i32(r); /* preferred read replica */
			keel_slice_t rec = kr_bytes(r, NULL);
			keel_partition_t *p = keel_partition_get(b, (const char *)topic.ptr, topic.len, index);
			if (!kr_ok(r) || !p || !follows(f, p) || p->truncate_pending)
				continue;
			if (err == KERR_OFFSET_OUT_OF_RANGE && leader_start > keel_log_end_offset(p->log)) {
				/* the leader no longer has what we lack (retention): start over at its
				 * log start, as Kafka's truncateFullyAndStartAt */
				klog_info("fetcher", "%s-%d: behind the leader's log start %" PRId64 "; starting over there",
					  p->topic, p->index, leader_start);
				if (keel_log_reset(p->log, leader_start) != KEEL_OK) {
					partition_error(f, p);
					continue;
				}
				p->high_watermark = leader_start;
				p->fetch_backoff_ms = 0;
				continue;
			}
			if (err) {
				klog_debug("fetcher", "%s-%d: fetch error %d", p->topic, p->index, err);
				partition_error(f, p);
				if (err == KERR_OFFSET_OUT_OF_RANGE || err == KERR_FENCED_LEADER_EPOCH)
					p->truncate_pending = true;
				continue;
			}
			if (!append_records(p, rec))
				return false;
			p->fetch_backoff_ms = 0;
			int64_t leo = keel_log_end_offset(p->log);
			p->high_watermark = hw < leo ? hw : leo;
			if (leader_start > keel_log_start_offset(p->log) && leader_start <= p->high_watermark)
				keel_log_advance_start(p->log, leader_start); /* the leader's retention */
		}
	}
	return kr_ok(r) && top_err == 0;
}

static void fetcher_on_response(keel_peer_t *peer, const uint8_t *buf, size_t len)
{
	keel_fetcher_t *f = peer->arg;
	kr_t r;
	bool ok;
	kr_init(&r, buf, len, false);
	ok = kr_i32(&r) == f->corr;
	if (ok)
		ok = f->api == 23 ? handle_epoch_response(f, &r) : handle_fetch_response(f, &r);
	if (!ok) {
		keel_peer_close(&f->peer);
		fetcher_on_failure(&f->peer, "bad or failed response");
		return;
	}
	fetcher_next(f);
}

static const keel_peer_ops_t fetcher_ops = { fetcher_on_response, fetcher_on_failure };

static void fetcher_free(keel_broker_t *b, keel_fetcher_t *f)
{
	keel_timer_cancel(b->loop, &f->timer);
	keel_peer_close(&f->peer);
	free(f);
}

void keel_fetcher_reconcile(keel_broker_t *b)
{
	for (keel_fetcher_t *f = b->fetchers; f; f = f->next)
		f->stale = true;
	for (size_t i = 0; i < b->ptable_size; i++)
		for (keel_partition_t *p = b->ptable[i]; p; p = p->hnext) {
			const keel_view_broker_t *lb = b->view ? keel_view_broker(b->view, p->leader_id) : NULL;
			keel_fetcher_t *f;
			if (p->leader || !lb || p->leader_id == b->id || b->controlled_shutdown)
				continue;
			for (f = b->fetchers; f && (f->leader != lb->id || f->id != p->fetcher_id); f = f->next)
				;
			if (f && (f->peer.port != lb->port ||
				  strcmp(f->peer.host, lb->host ? lb->host : "") != 0)) {
				f->stale = true; /* the leader moved: replaced below */
				continue;
			}
			if (!f) {
				f = calloc(1, sizeof(*f));
				if (!f)
					continue;
				f->b = b;
				f->leader = lb->id;
				f->id = p->fetcher_id;
				keel_peer_init(&f->peer, b->loop, lb->host, lb->port,
					       FETCH_RESPONSE_MAX + (1 << 20), b->cfg->replica_socket_timeout_ms,
					       &fetcher_ops, f);
				keel_timer_init(&f->timer, fetcher_timer);
				f->next = b->fetchers;
				b->fetchers = f;
				klog_info("fetcher", "broker %d: fetcher %d fetching from leader %d at %s:%d", b->id,
					  f->id, f->leader, f->peer.host, f->peer.port);
			}
			f->stale = false;
		}
	for (keel_fetcher_t **pp = &b->fetchers; *pp;) {
		keel_fetcher_t *f = *pp;
		if (f->stale) {
			*pp = f->next;
			fetcher_free(b, f);
		} else {
			fetcher_next(f); /* an idle fetcher picks up new partitions */
			pp = &f->next;
		}
	}
}

void keel_fetchers_free(keel_broker_t *b)
{
	while (b->fetchers) {
		keel_fetcher_t *f = b->fetchers;
		b->fetchers = f->next;
		fetcher_free(b, f);
	}
}
