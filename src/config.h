/* src/config.h: server.properties: Kafka's keys, defaults and validation. */
#ifndef KEEL_CONFIG_H
#define KEEL_CONFIG_H

#include "keel.h"

#include <stdint.h>

#define KEEL_MAX_LISTENERS 8
#define KEEL_MAX_IP_LIMITS 64
#define KEEL_MAX_LOG_DIRS 16

typedef struct {
	char name[64];     /* listener name, upper-cased as Kafka does, e.g. PLAINTEXT */
	char host[256];    /* "" = all interfaces (bind); IPv6 literals without brackets;
	                    * advertised "" becomes the canonical hostname in finish() */
	int port;          /* 0-65535; 0 = ephemeral (bind only) */
	char security_protocol[16]; /* from listener.security.protocol.map; set by finish() */
} keel_listener_t;

typedef struct {
	int32_t broker_id;                  /* broker.id (-1 = generate from ZooKeeper) */
	int32_t reserved_broker_max_id;     /* reserved.broker.max.id (1000) */
	int32_t zookeeper_max_in_flight_requests; /* (10) */
	bool broker_id_generation_enable;   /* broker.id.generation.enable (true) */
	keel_listener_t listeners[KEEL_MAX_LISTENERS];
	int nlisteners;                     /* listeners (PLAINTEXT://:9092) */
	keel_listener_t advertised[KEEL_MAX_LISTENERS];
	int nadvertised;                    /* advertised.listeners (default: listeners) */
	char *log_dirs[KEEL_MAX_LOG_DIRS];  /* log.dirs, else log.dir (/tmp/kafka-logs) */
	int nlog_dirs;
	char *zookeeper_connect;            /* zookeeper.connect (required), may end in /chroot */
	int32_t zk_session_timeout_ms;      /* zookeeper.session.timeout.ms (18000) */
	int32_t zk_connection_timeout_ms;   /* zookeeper.connection.timeout.ms (= session timeout) */
	int32_t num_partitions;             /* num.partitions (1) */
	int16_t default_replication_factor; /* default.replication.factor (1) */
	int32_t min_insync_replicas;        /* min.insync.replicas (1) */
	bool auto_create_topics_enable;     /* auto.create.topics.enable (true) */
	bool delete_topic_enable;           /* delete.topic.enable (true) */
	bool unclean_leader_election_enable;/* unclean.leader.election.enable (false) */
	int64_t log_segment_bytes;          /* log.segment.bytes (1073741824), >= 14 */
	int64_t log_roll_ms;                /* log.roll.ms, else log.roll.hours (168) */
	int32_t log_index_interval_bytes;   /* log.index.interval.bytes (4096) */
	int32_t log_index_size_max_bytes;   /* log.index.size.max.bytes (10485760), >= 4 */
	int64_t log_flush_interval_messages;/* log.flush.interval.messages (INT64_MAX) */
	int64_t log_flush_interval_ms;      /* log.flush.interval.ms (INT64_MAX when unset) */
	int64_t log_retention_ms;           /* log.retention.ms/minutes/hours (168 h); -1 unlimited */
	int64_t log_retention_bytes;        /* log.retention.bytes (-1) */
	int32_t message_max_bytes;          /* message.max.bytes (1048588) */
	int32_t socket_request_max_bytes;   /* socket.request.max.bytes (104857600) */
	bool log_message_timestamp_log_append; /* log.message.timestamp.type=LogAppendTime */
	int64_t log_message_timestamp_difference_max_ms; /* (INT64_MAX): CreateTime skew bound */
	int64_t log_flush_offset_checkpoint_interval_ms; /* (60000) */
	int64_t log_flush_start_offset_checkpoint_interval_ms; /* (60000) */
	int32_t num_recovery_threads_per_data_dir; /* accepted; (1) */
	bool controlled_shutdown_enable;    /* controlled.shutdown.enable (true) */
	char *keel_log_level;               /* keel.log.level (info): error|warn|info|debug|trace */

	/* Added for the roadmap's next steps; parsed and validated now (see keel.properties(5)). */
	char *listener_security_protocol_map; /* listener.security.protocol.map (Kafka's default) */
	char *inter_broker_listener_name;   /* inter.broker.listener.name; finish() fills it in */
	char *broker_rack;                  /* broker.rack (NULL) */
	char *compression_type;             /* compression.type (producer) */
	char *log_cleanup_policy;           /* log.cleanup.policy (delete): delete|compact lists */
	int64_t log_retention_check_interval_ms; /* log.retention.check.interval.ms (300000) */
	int64_t log_segment_delete_delay_ms;/* log.segment.delete.delay.ms (60000) */
	int64_t replica_lag_time_max_ms;    /* replica.lag.time.max.ms (30000) */
	int32_t replica_fetch_max_bytes;    /* replica.fetch.max.bytes (1048576) */
	int32_t replica_fetch_min_bytes;    /* replica.fetch.min.bytes (1) */
	int32_t replica_fetch_wait_max_ms;  /* replica.fetch.wait.max.ms (500) */
	int32_t replica_fetch_backoff_ms;   /* replica.fetch.backoff.ms (1000) */
	int32_t replica_socket_timeout_ms;  /* replica.socket.timeout.ms (30000) */
	int32_t num_replica_fetchers;       /* num.replica.fetchers (1) */
	int64_t replica_high_watermark_checkpoint_interval_ms; /* (5000) */
	int32_t controller_socket_timeout_ms; /* controller.socket.timeout.ms (30000) */
	int32_t controlled_shutdown_max_retries; /* controlled.shutdown.max.retries (3) */
	int64_t controlled_shutdown_retry_backoff_ms; /* controlled.shutdown.retry.backoff.ms (5000) */
	bool auto_leader_rebalance_enable;  /* auto.leader.rebalance.enable (true) */
	int64_t leader_imbalance_check_interval_seconds; /* (300) */
	int32_t leader_imbalance_per_broker_percentage;  /* (10) */
	int32_t socket_send_buffer_bytes;   /* socket.send.buffer.bytes (102400; -1 = OS default) */
	int32_t socket_receive_buffer_bytes;/* socket.receive.buffer.bytes (102400; -1 = OS) */
	int64_t connections_max_idle_ms;    /* connections.max.idle.ms (600000; < 0: never) */
	int32_t max_connections_per_ip;     /* max.connections.per.ip (unbounded) */
	int32_t max_connections;            /* max.connections (unbounded) */
	char *max_connections_per_ip_overrides; /* "host-or-address:count,..." */
	/* the overrides, names resolved to addresses (config finish) */
	struct {
		char addr[46];                  /* numeric, as inet_ntop writes it */
		int32_t max;
	} ip_limits[KEEL_MAX_IP_LIMITS];
	int nip_limits;
	int16_t offsets_topic_replication_factor; /* offsets.topic.replication.factor (3) */
	int32_t offsets_topic_num_partitions;     /* offsets.topic.num.partitions (50) */
	int32_t offsets_retention_minutes;        /* offsets.retention.minutes (10080) */
	int16_t transaction_state_log_replication_factor; /* (3) */
	int32_t transaction_state_log_min_isr;    /* transaction.state.log.min.isr (2) */
	int32_t transaction_state_log_num_partitions; /* (50) */
	int32_t group_initial_rebalance_delay_ms; /* group.initial.rebalance.delay.ms (3000) */
	int32_t group_min_session_timeout_ms;     /* group.min.session.timeout.ms (6000) */
	int32_t group_max_session_timeout_ms;     /* group.max.session.timeout.ms (1800000) */
	int32_t group_max_size;                   /* group.max.size (unbounded) */
	bool log_cleaner_enable;                  /* log.cleaner.enable (true) */
	bool log_message_downconversion_enable;   /* log.message.downconversion.enable (true) */
	int64_t log_cleaner_dedupe_buffer_size;   /* log.cleaner.dedupe.buffer.size (128 MiB) */
	int64_t log_cleaner_backoff_ms;           /* log.cleaner.backoff.ms (15000) */
	int32_t offsets_commit_timeout_ms;        /* offsets.commit.timeout.ms (5000) */
	int32_t offsets_topic_segment_bytes;      /* offsets.topic.segment.bytes (100 MiB) */
	int64_t offsets_retention_check_interval_ms; /* (600000) */
	int32_t offset_metadata_max_bytes;        /* offset.metadata.max.bytes (4096) */

	/* Bookkeeping for precedence rules (which keys were given explicitly); not config. */
	struct {
		bool log_dirs, log_roll_ms, log_retention_ms, log_retention_minutes;
		bool zk_connection_timeout, advertised, inter_broker_listener;
	} given;
} keel_config_t;

/* Fill *cfg (uninitialized memory is fine) with Kafka's defaults (no zookeeper.connect).
 * Allocates strings: pair with keel_config_free. */
void keel_config_defaults(keel_config_t *cfg);

/* Apply one "key=value" setting (trimmed). Unknown keys: warning logged, KEEL_OK.
 * A bad value: returns KERR_INVALID_CONFIG and writes "<key>: <why>" to err. */
int keel_config_set(keel_config_t *cfg, const char *key, const char *value, char *err, size_t errlen);

/* Look up a key's default as text (NULL: none or unknown key); for --help and docs. */
const char *keel_config_default(const char *key);

/* Parse a Java-properties file (comments #/!, key=value or key:value or key value,
 * backslash line continuation, blank lines). Errors name the file, line and key. */
int keel_config_load(keel_config_t *cfg, const char *path, char *err, size_t errlen);

/* Cross-key checks after everything is loaded (zookeeper.connect present, broker.id
 * valid, listeners parse, advertised names match listener names, log.dirs non-empty).
 * Also resolves: advertised.listeners defaults to listeners; an advertised empty host
 * becomes this machine's canonical hostname (getaddrinfo AI_CANONNAME of gethostname());
 * each listener's security_protocol; inter_broker_listener_name (default: the advertised
 * listener named PLAINTEXT, else the first); zookeeper.connection.timeout.ms. */
int keel_config_finish(keel_config_t *cfg, char *err, size_t errlen);
/* The most connections a client address (numeric, as inet_ntop writes it) may have open:
 * max.connections.per.ip, or its override for that address. */
int keel_config_max_connections(const keel_config_t *cfg, const char *addr);

void keel_config_free(keel_config_t *cfg);

/* Parse "NAME://host:port[,NAME://host:port...]" into out (max n). Returns count or -1. */
int keel_config_parse_listeners(const char *s, keel_listener_t *out, int n, char *err, size_t errlen);

/* Topic-level configs (src/topic_config.c), as Kafka's LogConfig defines them: 0 if key is a
 * topic config and value a valid value for it, else -1 with Kafka's message in err
 * ("Unknown topic config name: ...", "Invalid value ... for configuration ..."). */
int keel_topic_config_check(const char *key, const char *value, char *err, size_t errlen);
/* Every pair, and min.compaction.lag.ms <= max.compaction.lag.ms. */
int keel_topic_configs_check(int n, const char *const *keys, const char *const *values, char *err,
			     size_t errlen);

#endif
