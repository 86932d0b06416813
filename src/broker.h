/* src/broker.h: the broker instance: config, loop, listeners, connections, local partitions and
 * the cluster view. Everything hangs off keel_broker_t; no globals. Loop thread only. */
#ifndef KEEL_BROKER_H
#define KEEL_BROKER_H

#include "config.h"
#include "coord.h"
#include "keel.h"
#include "log.h"
#include "loop.h"
#include "mq.h"

#include <pthread.h>
#include <sys/types.h>

typedef struct keel_broker keel_broker_t;
typedef struct keel_conn keel_conn_t;
typedef struct keel_partition keel_partition_t;
typedef struct keel_request keel_request_t;
typedef struct keel_fetcher keel_fetcher_t;
typedef struct keel_ctlchan keel_ctlchan_t;
typedef struct keel_coordinator keel_coordinator_t;
typedef struct keel_worker keel_worker_t;

/* Something waiting on a partition: a fetch long poll (new data or HW), an acks=all produce or
 * a group coordinator write (HW). fn(arg) re-evaluates it; it may complete it and unlink its
 * waiters. Several waiters may share one arg (a request over many partitions). */
typedef struct keel_waiter {
	struct keel_waiter *next, *prev;
	void *arg;
	void (*fn)(void *arg);
} keel_waiter_t;

/* What a leader knows of one follower (Kafka's Replica state). */
typedef struct {
	int32_t id;
	int64_t leo;                  /* last fetch offset seen; -1 unknown */
	int64_t last_caught_up_ms;    /* last time it had reached the leader's LEO */
	int64_t last_fetch_ms;
	int64_t last_fetch_leader_leo;/* our LEO when it last fetched */
} keel_follower_t;

/* Per-topic settings resolved from broker defaults and /config/topics overrides. */
typedef struct {
	keel_log_config_t log;
	int32_t max_message_bytes;    /* max.message.bytes */
	int32_t min_insync_replicas;  /* min.insync.replicas */
	bool log_append_time;         /* message.timestamp.type=LogAppendTime */
	int64_t timestamp_diff_max_ms;/* message.timestamp.difference.max.ms (INT64_MAX: none) */
	bool down_conversion;         /* message.downconversion.enable: Fetch < v4 served */
	int codec;                    /* compression.type: KEEL_CODEC_* (compress.h), or
				       * KEEL_CODEC_PRODUCER to store batches as produced */
	bool compact;                 /* cleanup.policy has compact */
	bool delete_old;              /* cleanup.policy has delete: retention applies */
	int64_t retention_ms;         /* retention.ms (-1: no limit) */
	int64_t retention_bytes;      /* retention.bytes (-1: no limit) */
} keel_topic_config_t;

struct keel_partition {
	char *topic;
	int32_t index;
	keel_log_t *log;
	int log_dir;                 /* index into config log_dirs */
	bool leader;                 /* this broker leads it */
	int32_t leader_epoch;
	/* The controller's word: the highest leader epoch at which a LeaderAndIsr named this broker
	 * leader, and the registration (broker epoch) it was sent to. A partition is led only
	 * with that word for the current registration, as Kafka brokers lead only on LeaderAndIsr:
	 * a state in ZooKeeper naming a broker that has since restarted may predate its failure. */
	int32_t confirmed_epoch;
	int64_t confirmed_reg;
	int64_t high_watermark;
	keel_topic_config_t cfg;
	keel_waiter_t waiters;       /* sentinel of a circular list */
	keel_partition_t *hnext;     /* hash chain */
	bool seen;                   /* reconcile mark */
	bool maybe_zstd;             /* may hold zstd batches (Fetch < v10 must then check) */
	/* replication, from the view and kept up to date by this broker as leader */
	int32_t leader_id;           /* -1 none */
	int32_t zk_version;          /* partition epoch: state znode version */
	int32_t nreplicas, nisr;
	int32_t replicas[KEEL_MAX_REPLICAS], isr[KEEL_MAX_REPLICAS];
	keel_follower_t followers[KEEL_MAX_REPLICAS]; /* replicas other than this broker (leader side) */
	int32_t nfollowers;
	bool isr_inflight;           /* an ALTER_ISR command is with the coordination thread */
	int32_t isr_pending_add;     /* follower being added while in flight (-1 none) */
	int64_t isr_retry_ms;        /* keel_mono_ms() before which a failed ISR write is not tried
				      * again (until the controller's state arrives) */
	bool truncate_pending;       /* follower: truncate before fetching (new leader epoch) */
	int64_t fetch_retry_ms;      /* follower: after an error, left out of fetches until then */
	int32_t fetch_backoff_ms;    /* follower: the last such wait (doubles per error; 0 after data) */
	int32_t fetcher_id;          /* follower: which of num.replica.fetchers per leader fetches it */
	int64_t epoch_start_offset;  /* leader: LEO when this leader epoch began */
};

struct keel_broker {
	keel_config_t *cfg;
	keel_loop_t *loop;
	int32_t id;
	char cluster_id[64];
	int listen_fds[KEEL_MAX_LISTENERS];
	int nlisten;
	bool listen_paused[KEEL_MAX_LISTENERS]; /* not accepting: max.connections, or out of fds */
	keel_timer_t accept_timer;   /* retry accepting after running out of file descriptors */
	int nconns;                  /* open client connections */
	keel_conn_t *conns;          /* all open connections (doubly linked) */
	keel_conn_t *dirty;          /* connections with queued output (singly linked via dirty_next) */
	keel_conn_t *graveyard;      /* closed connections, freed before the loop sleeps */
	uint64_t next_conn_id;
	keel_partition_t **ptable;   /* hash of local partitions */
	size_t ptable_size, npartitions;
	keel_view_t *view;           /* latest cluster view (owned) */
	keel_mq_t *mq;               /* coordination thread -> loop */
	keel_coord_t *coord;
	char **autocreate_pending;   /* topics with an auto-create in flight */
	int nautocreate;
	keel_fetcher_t *fetchers;    /* follower fetchers, one per leader broker */
	keel_ctlchan_t *ctlchans;    /* controller: request queues, one per broker */
	int32_t ctl_epoch_seen;      /* highest controller epoch of a controller request */
	struct {                     /* partitions StopReplica deleted while the view still has
				      * their topic (keel_broker_note_stopped) */
		char *topic;
		int32_t partition;
		char topic_id[24];
	} *stopped;
	int nstopped;
	keel_coordinator_t *groups;  /* the group coordinator (group.h) */
	keel_cmd_t *topic_waits;     /* CreateTopics answers waiting for leaders, DeleteTopics
				      * answers for their topics to go */
	keel_timer_t topic_waits_timer; /* the nearest of their deadlines */
	keel_worker_t *worker;       /* disk worker: checkpoint files, new logs */
	struct keel_new_log *new_logs; /* logs being created on the worker (broker_view.c) */
	struct keel_lead_word *lead_words; /* LeaderAndIsr leaderships for partitions not here yet */
	keel_timer_t housekeeping;   /* flush policy, checkpoints */
	int64_t last_ckpt_ms;
	int64_t last_hw_ckpt_ms;
	int64_t last_start_ckpt_ms;
	int64_t last_clean_ms;       /* the log cleaner's last pass */
	int64_t last_retention_ms;   /* the last retention check (log.retention.check.interval.ms) */
	bool stopping;
	bool controlled_shutdown;    /* SIGTERM: leaderships are being moved away */
	int shutdown_attempts;
	keel_timer_t shutdown_timer;
	pthread_t shutdown_thread;   /* the request in flight (joinable) */
	bool shutdown_thread_live;
	int exit_code;
	int signal_fd;
};

/* Life cycle (broker.c). */
int keel_broker_init(keel_broker_t *b, keel_config_t *cfg);
int keel_broker_load_logs(keel_broker_t *b);      /* open every partition dir on disk */
int keel_broker_listen(keel_broker_t *b);
void keel_broker_shutdown(keel_broker_t *b);     /* flush, checkpoints, clean markers */
void keel_broker_free(keel_broker_t *b);
/* Apply a new cluster view (takes ownership). */
void keel_broker_apply_view(keel_broker_t *b, keel_view_t *v);
/* A loop message: a log the disk worker created (payload struct keel_new_log *). */
#define KEEL_MSG_LOG_CREATED 101
/* After the loop stopped: close and free a KEEL_MSG_LOG_CREATED payload nobody took. */
void keel_new_log_discard(void *payload);
/* A LeaderAndIsr sent to registration reg named this broker leader of topic-index at epoch:
 * keep the controller's word for the partition (now, or when it is created). */
void keel_broker_note_lead(keel_broker_t *b, const char *topic, int32_t index, int32_t epoch, int64_t reg);
void keel_lead_words_free(keel_broker_t *b);
/* Shutting down: the worker skips the logs still queued for creation (they are the next start's). */
void keel_new_logs_cancel(keel_broker_t *b);
/* Lead or follow one partition as vp says (the view's, or a LeaderAndIsr's); states older
 * than what the partition follows are ignored. b->view must hold the topic t. */
void keel_broker_apply_partition(keel_broker_t *b, const keel_view_topic_t *t,
				 const keel_view_partition_t *vp);
/* StopReplica deleted topic's partition here: later views must not create it again. */
void keel_broker_note_stopped(keel_broker_t *b, const char *topic, int32_t index);
void keel_broker_on_mq(keel_loop_t *loop, int fd, uint32_t events, void *arg);
/* Before the loop runs: apply coordination messages until the first cluster view (so the first
 * Metadata answer names the brokers) or timeout_ms. Returns 0, or -1 on timeout/fatal. */
int keel_broker_wait_view(keel_broker_t *b, int timeout_ms);
int keel_broker_write_meta(keel_broker_t *b);

keel_partition_t *keel_partition_get(keel_broker_t *b, const char *topic, size_t tlen, int32_t index);
/* Wake every parked request waiting on p (after an append or HW change). */
void keel_partition_wake(keel_broker_t *b, keel_partition_t *p);
/* Add a partition for an opened log (takes the log) / remove it, closing or deleting the log. */
keel_partition_t *keel_partition_new(keel_broker_t *b, const char *topic, int32_t index, keel_log_t *log, int dir);
void keel_partition_drop(keel_broker_t *b, keel_partition_t *p, bool delete_log);
/* Read broker.id and cluster.id from meta.properties (1 if found, 0 if none). */
int keel_broker_read_meta(keel_broker_t *b, int32_t *broker_id, char *cluster_id, size_t len);
/* Submit an auto-create for topic (once per topic while in flight). */
void keel_broker_autocreate(keel_broker_t *b, const char *topic, size_t len);
void keel_topic_config_resolve(const keel_broker_t *b, const keel_view_topic_t *t, keel_topic_config_t *out);

#endif
