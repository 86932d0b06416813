/* src/log_internal.h: types and helpers shared by log.c, log_segment.c and log_index.c (not public). */
#ifndef KEEL_LOG_INTERNAL_H
#define KEEL_LOG_INTERNAL_H

#include "log.h"

#include <stddef.h>
#include <stdint.h>

#define KLOG_OIDX_ENTRY 8   /* .index: int32 relative offset, int32 position */
#define KLOG_TIDX_ENTRY 12  /* .timeindex: int64 timestamp, int32 relative offset */
#define KLOG_NAME_DIGITS 20
#define KLOG_NO_TIMESTAMP (-1)
#define KLOG_READER_WINDOW 8192

/* One mmapped index file (.index or .timeindex). The file is open only while
 * it is resized; the mapping (MAP_SHARED, read/write) stays until close. */
typedef struct {
	char *path;
	uint8_t *map;     /* NULL when map_len == 0 */
	size_t map_len;   /* bytes mapped == file size */
	size_t n;         /* entries in use */
	size_t cap;       /* entries the mapping holds */
	unsigned esz;     /* KLOG_OIDX_ENTRY or KLOG_TIDX_ENTRY */
} kidx_t;

/* One segment: <base>.log plus its two indexes. */
typedef struct {
	int64_t base;
	char *path;               /* <dir>/<base>.log */
	int fd;                   /* .log, O_RDWR; owned, handed out in keel_log_range_t */
	int64_t size;             /* cached .log size: every byte below it is whole batches */
	kidx_t oidx, tidx;
	int64_t next_offset;      /* offset after the last batch (base when empty) */
	int64_t bytes_since_index;
	int64_t max_ts;           /* largest batch maxTimestamp so far, -1 if none */
	int64_t max_ts_offset;    /* last offset of the batch holding max_ts */
	int64_t first_ts;         /* first batch's maxTimestamp, -1 if empty or none */
	int64_t created_ms;       /* wall clock when created or loaded */
	bool dirty;               /* data or index written since the last flush */
	bool need_rebuild;        /* an index file was missing or malformed */
} keel_seg_t;

/* One leader-epoch cache entry: `epoch` starts at offset `start`. */
typedef struct {
	int32_t epoch;
	int64_t start;
} klog_epoch_t;

/* The leader-epoch checkpoint as handed to the disk worker (log_epoch.c). */
typedef struct klog_epoch_writer klog_epoch_writer_t;

/* Where one of the active segment's last batches lies. */
typedef struct {
	int64_t pos, size, base, last;
} klog_tail_t;

#define KLOG_TAIL 16 /* batches remembered: fetches at the end of the log read no headers */

struct keel_log {
	char *dir;
	keel_log_config_t cfg;
	keel_seg_t **segs;        /* sorted by base offset; the last one is active */
	size_t nsegs, cap_segs;
	int64_t leo;
	int64_t start;
	int64_t recovery_point;
	int64_t unflushed_msgs;
	int64_t last_flush_ms;
	bool dir_dirty;           /* segment files created since the last directory fsync */
	klog_epoch_t *epochs;     /* leader-epoch cache: epochs and starts strictly increasing */
	size_t nepochs, cap_epochs;
	bool epochs_dirty;        /* differs from leader-epoch-checkpoint (a write failed or pending) */
	bool epochs_fresh;        /* a new log: its empty checkpoint needs no fsync (none reads
				   * the same as an empty one) */
	keel_worker_t *worker;    /* writes the checkpoint in the background; NULL: inline */
	klog_epoch_writer_t *ew;  /* the checkpoint handed to the worker (log_epoch.c) */
	int64_t cleaned_to;       /* the cleaner's last pass covered the closed segments below this */
	struct klog_rflush *rflush; /* what the flushes on roll (on the worker) have made durable */
	/* the last batches appended to the active segment, back to back, oldest first from
	 * tail_first (a ring); valid while the newest one still ends the segment and the log */
	klog_tail_t tail[KLOG_TAIL];
	unsigned tail_first, tail_n;
	const keel_seg_t *tail_seg;
};

/* Header fields of one batch found while scanning a segment. */
typedef struct {
	int64_t pos;       /* file position */
	int64_t base;      /* baseOffset */
	int64_t last;      /* baseOffset + lastOffsetDelta */
	int64_t max_ts;
	int64_t size;      /* whole batch: batchLength + 12 */
	int16_t attributes;
	int32_t epoch;     /* partitionLeaderEpoch */
} seg_hdr_t;

/* Called for every good batch seg_recover() keeps, in order. */
typedef void (*seg_batch_fn)(void *arg, const seg_hdr_t *h);

/* Buffered header reader over one segment (stack object, one pread per window). */
typedef struct {
	const keel_seg_t *seg;
	int64_t win_pos;
	size_t win_len;
	uint8_t win[KLOG_READER_WINDOW];
} seg_reader_t;

/* ---- log_index.c ---- */
/* Open or create the index file and map it whole. *valid is false if the file was
 * missing or its size is not a multiple of the entry size (n is then 0). */
int kidx_open(kidx_t *ix, const char *path, unsigned esz, bool *valid);
/* Create the index file empty (replacing any), preallocated to max_bytes rounded down to the
 * entry size, and map it: an active segment's index in one open. */
int kidx_create(kidx_t *ix, const char *path, unsigned esz, int32_t max_bytes);
/* Resize the file and mapping to cap entries (keeps min(n, cap) entries). */
int kidx_resize(kidx_t *ix, size_t cap);
/* Preallocate to max_bytes rounded down to the entry size (active segment). */
int kidx_activate(kidx_t *ix, int32_t max_bytes);
int kidx_trim(kidx_t *ix);
int kidx_sync(kidx_t *ix);
void kidx_close(kidx_t *ix);
void kidx_remove(kidx_t *ix);
bool kidx_full(const kidx_t *ix);
int32_t kidx_rel(const kidx_t *ix, size_t i);      /* relative offset of entry i */
int32_t kidx_pos(const kidx_t *ix, size_t i);      /* .index: position of entry i */
int64_t kidx_ts(const kidx_t *ix, size_t i);       /* .timeindex: timestamp of entry i */
void kidx_append_off(kidx_t *ix, int32_t rel, int32_t pos);
void kidx_append_time(kidx_t *ix, int64_t ts, int32_t rel);
/* .timeindex final entry: appends, or overwrites the last entry when full. */
void kidx_put_last_time(kidx_t *ix, int64_t ts, int32_t rel);
/* Greatest .index entry with relative offset <= rel, or -1. */
ssize_t kidx_lookup_off(const kidx_t *ix, int64_t rel);
/* Greatest .timeindex entry with timestamp < ts, or -1. */
ssize_t kidx_lookup_time_below(const kidx_t *ix, int64_t ts);
/* Greatest .index entry with position <= pos_limit and relative offset < rel_limit, or -1. */
ssize_t kidx_lookup_bounded(const kidx_t *ix, int64_t pos_limit, int64_t rel_limit);
/* Drop .index entries with position >= pos / .timeindex entries with rel >= rel. */
void kidx_truncate_pos(kidx_t *ix, int64_t pos);
void kidx_truncate_rel(kidx_t *ix, int64_t rel);
/* Sanity checks: strictly increasing, inside the segment. */
bool kidx_check_off(const kidx_t *ix, int64_t log_size, int64_t rel_end);
bool kidx_check_time(const kidx_t *ix, int64_t rel_end);

/* ---- log_segment.c ---- */
/* pread until len bytes, EOF or an error: bytes read, or -1 (errno set). */
ssize_t seg_pread_full(int fd, void *buf, size_t len, int64_t pos);
int seg_path(char *out, size_t outlen, const char *dir, int64_t base, const char *ext);
/* Open an existing segment; the indexes are left at their file size (inactive): the caller
 * activates. */
int seg_open(const char *dir, int64_t base, int64_t now_ms, keel_seg_t **out);
/* Create an empty segment (replacing any files) with active indexes of index_bytes. */
int seg_create(const char *dir, int64_t base, int64_t now_ms, int32_t index_bytes, keel_seg_t **out);
void seg_close(keel_seg_t *seg);
/* Close and unlink the segment's three files. */
void seg_destroy(keel_seg_t *seg);
void seg_reader_init(seg_reader_t *rd, const keel_seg_t *seg);
/* Header at pos: 1 and *h, 0 at the end of the segment, KEEL_CORRUPT on bad framing,
 * KEEL_ERR on I/O error. */
int seg_read_hdr(seg_reader_t *rd, int64_t pos, seg_hdr_t *h);
/* First batch whose last offset >= offset (index lookup, then a header scan): 1 and *h,
 * 0 if none in this segment, or an error. rd must be initialized on this segment. */
int seg_find(seg_reader_t *rd, int64_t offset, seg_hdr_t *h);
/* Write a whole batch at the end and update the indexes. */
int seg_append(keel_seg_t *seg, const keel_log_config_t *cfg, const uint8_t *buf, size_t len);
/* Scan every batch with CRC checks and rebuild both indexes. Truncates the .log at the
 * first bad or torn batch (*truncated = true). on_batch (may be NULL) sees each good batch.
 * KEEL_ERR only on I/O errors. */
int seg_recover(keel_seg_t *seg, const keel_log_config_t *cfg, seg_batch_fn on_batch, void *arg,
		bool *truncated);
/* Recompute next_offset, max_ts and first_ts by scanning headers from the last index
 * entries (trusting the data). Returns KEEL_CORRUPT if the framing is bad. */
int seg_load_tail(keel_seg_t *seg, bool exact_max_ts);
/* Cut the .log at pos (a batch boundary) and drop index entries past it. */
int seg_truncate_pos(keel_seg_t *seg, int64_t pos, int64_t next_offset);
/* Add the final time index entry and trim both indexes (segment becomes inactive). */
int seg_deactivate(keel_seg_t *seg);
int seg_flush(keel_seg_t *seg);
/* List the segment base offsets in dir (sorted, malloc'd), after deleting .tmp, .cleaned
 * and .deleted files, completing .swap renames and removing orphan index files. */
int seg_list_dir(const char *dir, int64_t **bases, size_t *n);

/* ---- log.c ---- */
int log_fsync_dir(const char *dir);
/* Write text to path through path.tmp, fsync, rename, fsync the directory (log_ckpt.c);
 * without durable, no fsyncs (the rename still makes the change atomic). */
int log_write_atomic(const char *path, const char *text, size_t len, bool durable);
/* Parse a whole decimal token into [lo, hi] (log_ckpt.c). */
bool log_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out);

/* ---- log_epoch.c (leader-epoch cache; Kafka's LeaderEpochFileCache) ---- */
#define KLOG_EPOCH_FILE "leader-epoch-checkpoint"
/* Read the checkpoint into the (empty) cache; fresh: the log's directory is new, so there is
 * none (and its first, empty, checkpoint needs no fsync). A missing or empty file gives an empty cache;
 * a malformed one logs a warning, leaves the cache empty and sets *malformed. */
int epoch_load(keel_log_t *log, bool fresh, bool *malformed);
/* seg_batch_fn for recovery: an epoch larger than the latest starts at the batch's base. */
void epoch_on_recovered(void *log, const seg_hdr_t *h);
/* After the segments are loaded: rebuild the cache if the checkpoint was malformed (when the
 * log is small enough), drop entries at or past the LEO and before the log start, persist. */
void epoch_open_done(keel_log_t *log, bool malformed);
/* Kafka's assign on an append path: cheap when the epoch is already the latest. */
int epoch_note_batch(keel_log_t *log, int32_t epoch, int64_t base);
/* truncateFromEnd: drop entries starting at or after end. truncateFromStart: drop entries
 * wholly before start, moving the last of them up to start. clear: drop all. Each persists. */
void epoch_truncate_end(keel_log_t *log, int64_t end);
void epoch_truncate_start(keel_log_t *log, int64_t start);
void epoch_clear(keel_log_t *log);
/* Write the checkpoint if the cache changed since the last write: with a worker, hand a
 * snapshot to it (a newer snapshot replaces one not yet written) and return at once. */
int epoch_persist(keel_log_t *log);
/* Write the checkpoint now if anything is not on disk yet (a change, a snapshot still queued,
 * a failed background write): before the recovery point moves and when the log closes. */
int epoch_persist_sync(keel_log_t *log);
/* The log goes away: wait for a background write in progress, drop a queued one (so it never
 * lands in a directory that is deleted or reused) and release the writer. With keep, write
 * what is not on disk yet first. */
void epoch_writer_close(keel_log_t *log, bool keep);

#endif
