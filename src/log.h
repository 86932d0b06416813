/* src/log.h: one partition's on-disk log: segments, sparse indexes, recovery, reads for sendfile. */
#ifndef KEEL_LOG_H
#define KEEL_LOG_H

#include "keel.h"
#include "worker.h"

#include <stdint.h>
#include <sys/types.h>

typedef struct keel_log keel_log_t;

/* Per-log settings (broker defaults, later topic overrides). */
typedef struct {
	int64_t segment_bytes;          /* log.segment.bytes / segment.bytes */
	int64_t segment_ms;             /* log.roll.ms / segment.ms */
	int32_t index_interval_bytes;   /* log.index.interval.bytes */
	int32_t index_size_max_bytes;   /* log.index.size.max.bytes / segment.index.bytes */
	int64_t flush_interval_messages;/* log.flush.interval.messages (INT64_MAX = never by count) */
	int64_t flush_interval_ms;      /* log.flush.interval.ms (INT64_MAX = never by time) */
	int64_t file_delete_delay_ms;   /* log.segment.delete.delay.ms / file.delete.delay.ms */
} keel_log_config_t;

/* Open (or create) the log in directory `dir` (e.g. "<logdir>/t-0"), creating the directory.
 * recovery_point: offset up to which data is known flushed (from the checkpoint; 0 if unknown).
 * clean_shutdown: true if the log dir had .kafka_cleanshutdown; then no segment is re-read.
 * Otherwise every segment from the one holding recovery_point is scanned: CRCs checked,
 * indexes rebuilt, a torn or corrupt tail truncated, later segments deleted.
 * log_start_offset: from log-start-offset-checkpoint, or -1 to use the first segment's base.
 * worker: the disk worker that writes the leader-epoch checkpoint in the background (its fsyncs
 * off the caller's thread), or NULL to write it inline. It must outlive the log, or be detached
 * with keel_log_set_worker(log, NULL) first.
 * Returns KEEL_OK and *out, or a keel error (logged). Loop thread only. */
int keel_log_open(const char *dir, const keel_log_config_t *cfg, keel_worker_t *worker,
		  int64_t recovery_point, bool clean_shutdown, int64_t log_start_offset,
		  keel_log_t **out);
/* New settings for a live log (a topic configuration change, or the topic's overrides after a
 * restart opened it with the broker's defaults): rolls, index spacing and flushes follow them
 * from the next append; an index size applies from the next segment, as in Kafka. */
void keel_log_set_config(keel_log_t *log, const keel_log_config_t *cfg);
/* Change the worker: what the old one has not written yet is written first. NULL: write
 * inline from now on. */
void keel_log_set_worker(keel_log_t *log, keel_worker_t *worker);

/* Append one validated batch (buf[0..len), whole, magic 2). The log writes the
 * assigned base offset (= log end offset) and leader_epoch into the buffer header,
 * rolls the segment first if needed (size, time, index full, offset overflow),
 * writes it with write(2), and adds index entries every index_interval_bytes.
 * Returns KEEL_OK with *base_offset, or KEEL_ERR (I/O error; nothing was made visible).
 * now_ms drives time-based roll. Loop thread only. */
int keel_log_append(keel_log_t *log, uint8_t *buf, size_t len, int32_t leader_epoch,
		    int64_t now_ms, int64_t *base_offset);

/* Append a batch that already carries its offsets (a follower copying the leader).
 * Its base offset must not be below the log end offset (a compacted leader leaves gaps). */
int keel_log_append_raw(keel_log_t *log, const uint8_t *buf, size_t len, int64_t now_ms);

int64_t keel_log_end_offset(const keel_log_t *log);   /* LEO: next offset to assign */
int64_t keel_log_start_offset(const keel_log_t *log);
int64_t keel_log_recovery_point(const keel_log_t *log); /* flushed up to here */
const char *keel_log_dir(const keel_log_t *log);
size_t keel_log_segment_count(const keel_log_t *log);
int64_t keel_log_size_bytes(const keel_log_t *log);

/* A byte range of one segment file for sendfile. fd belongs to the log and stays
 * valid until the segment is deleted; a caller that keeps the range across loop
 * iterations must dup() it. */
typedef struct {
	int fd;
	off_t pos;
	size_t len;
	int64_t first_offset; /* base offset of the first batch in the range */
} keel_log_range_t;

/* Find the batches to return for a fetch at `offset`: start at the batch that
 * contains `offset` (using the index, then scanning headers), take whole batches
 * from that one segment while the total stays <= max_bytes and the batch base
 * offset < max_offset (the high watermark). If the first batch alone is larger
 * than max_bytes it is returned whole when min_one is true (KIP-74).
 * Returns KEEL_OK (range may be empty when offset == max_offset or nothing fits),
 * KERR_OFFSET_OUT_OF_RANGE if offset < log start or offset > LEO, or KEEL_ERR. */
int keel_log_read(keel_log_t *log, int64_t offset, size_t max_bytes, int64_t max_offset,
		  bool min_one, keel_log_range_t *out);

/* ListOffsets by time: the first offset whose batch maxTimestamp >= ts (uses the
 * time index, then scans), with that batch's timestamp. KEEL_NOTFOUND if none.
 * (For magic 2 Kafka returns the first *record* with timestamp >= ts; keel
 * decodes the found batch to give the record's offset and timestamp.) */
int keel_log_offset_for_time(keel_log_t *log, int64_t ts, int64_t *offset, int64_t *timestamp);

/* fsync segment data and indexes up to LEO; advances the recovery point. May block: call
 * from the loop only at shutdown or per flush.interval settings. */
int keel_log_flush(keel_log_t *log);

/* Flush policy check after appends: flushes if flush_interval_messages or
 * flush_interval_ms is exceeded. */
void keel_log_maybe_flush(keel_log_t *log, int64_t now_ms);

/* Truncate so that LEO = offset (for followers; also used by tests). */
int keel_log_truncate_to(keel_log_t *log, int64_t offset);

/* Retention, as Kafka's deleteOldSegments: delete the oldest segments, never the active one and
 * only those wholly below limit (the high watermark), while a segment's newest timestamp is
 * more than retention_ms old (-1: no time limit) or the log without it still holds at least
 * retention_bytes (-1: no size limit). The log start offset moves to the first segment kept.
 * Returns how many segments went. */
int keel_log_retain(keel_log_t *log, int64_t now_ms, int64_t retention_ms, int64_t retention_bytes,
		    int64_t limit);
/* Raise the log start offset to offset (at most the LEO), deleting the segments wholly below
 * it: a follower keeps to its leader's log start. */
void keel_log_advance_start(keel_log_t *log, int64_t offset);
/* Drop every record and start the log again, empty, at offset: a follower whose leader no
 * longer has the offsets it lacks starts over at the leader's log start. */
int keel_log_reset(keel_log_t *log, int64_t offset);

/* Leader-epoch cache (Kafka's LeaderEpochFileCache), persisted in
 * "<dir>/leader-epoch-checkpoint" ("0\n<count>\n<epoch> <startOffset>\n"...; .tmp, fsync, rename).
 * Appends, follower copies, truncation, recovery and the log start offset keep it up to date.
 * Record that `epoch` starts at start_offset, as Kafka's assign: nothing happens if epoch is
 * the latest one and start_offset is not below its start; otherwise entries from the end with
 * an epoch >= epoch or a start >= start_offset are dropped and (epoch, start_offset) appended.
 * The checkpoint is written when the cache changes. Returns KEEL_OK, or KEEL_ERR on a negative
 * argument or a failed write (the cache is updated anyway; the write is retried on flush).
 * Used by makeLeader with (new epoch, LEO). Loop thread only. */
int keel_log_epoch_assign(keel_log_t *log, int32_t epoch, int64_t start_offset);
/* The latest epoch in the cache, -1 if it is empty. */
int32_t keel_log_latest_epoch(const keel_log_t *log);
/* Kafka's endOffsetFor: the largest cached epoch <= epoch (*found_epoch), and its end offset:
 * the start of the next cached epoch, or the LEO if it is the latest. If epoch is below every
 * entry, negative, or the cache is empty: *found_epoch = -1, *end_offset = -1 and KEEL_NOTFOUND;
 * otherwise KEEL_OK. */
int keel_log_end_offset_for_epoch(const keel_log_t *log, int32_t epoch, int32_t *found_epoch,
				  int64_t *end_offset);

/* Compaction (cleanup.policy=compact) of the closed segments wholly below limit (the high
 * watermark): every batch holding the latest record of one of its keys (or a record without a
 * key, or a control record) is kept byte for byte, the others are dropped, offsets never
 * change, and each segment keeps its last batch. max_map_bytes bounds the key map (Kafka's
 * log.cleaner.dedupe.buffer.size); with more keys nothing is done. A pass with no segment
 * closed since the last one does nothing. src/log_clean.c. */
typedef struct {
	int segments;            /* segments rewritten */
	int64_t batches_dropped;
	int64_t bytes_before, bytes_after;
} keel_clean_stats_t;
int keel_log_clean(keel_log_t *log, int64_t limit, size_t max_map_bytes, int64_t now_ms,
		   keel_clean_stats_t *st);

/* Close: trim indexes to their used size, close files, free. Does not flush. */
void keel_log_close(keel_log_t *log);

/* Close the log and remove its directory: rename to "<dir>.<32 hex>-delete" (so the name is
 * free at once), then delete its files, on the log's worker if it has one. Returns the result
 * of the rename (or, without a worker or when the rename failed, of the removal). */
int keel_log_delete(keel_log_t *log);

/* Per-log-dir checkpoint files in Kafka's text format: "0\n<count>\n<topic> <partition> <offset>\n"...
 * Written to <path>.tmp, fsynced, renamed. */
typedef struct {
	char *topic;
	int32_t partition;
	int64_t offset;
} keel_ckpt_entry_t;

int keel_ckpt_write(const char *path, const keel_ckpt_entry_t *entries, size_t n);
/* Reads into a malloc'd array (*entries; free with keel_ckpt_free). A missing file gives 0
 * entries and KEEL_OK; a malformed one KEEL_CORRUPT. */
int keel_ckpt_read(const char *path, keel_ckpt_entry_t **entries, size_t *n);
void keel_ckpt_free(keel_ckpt_entry_t *entries, size_t n);

/* Split "<topic>-<partition>" into parts. Returns false if the name is not a partition dir
 * (also for "*-delete" and "*-future" dirs). topic buffer must be >= 256 bytes. */
bool keel_log_parse_dirname(const char *name, char *topic, int32_t *partition);
/* Is name a deleted log's directory, "<topic>-<partition>.<32 hex>-delete"? */
bool keel_log_deleted_dirname(const char *name);
/* Remove a log directory and its files, on the worker if there is one (else here). */
void keel_log_remove_dir(const char *dir, keel_worker_t *worker);

#endif
