/* tests/unit/test_config.c: server.properties parsing: defaults, syntax, types, precedence,
 * listeners and the cross-key checks of keel_config_finish. */
#include "broker.h"
#include "compress.h"
#include "config.h"
#include "logger.h"
#include "suites.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static keel_config_t cfg;
static char err[512];

static void setup(void)
{
	keel_config_defaults(&cfg);
	err[0] = '\0';
}

static void teardown(void)
{
	keel_config_free(&cfg);
}

/* Write text to a fresh temp file; the caller unlinks the returned path (static buffer). */
static const char *write_tmp(const char *text)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/keel-test-config-XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static int load_text(const char *text)
{
	const char *path = write_tmp(text);
	int rc = keel_config_load(&cfg, path, err, sizeof(err));

	unlink(path);
	return rc;
}

static int set(const char *k, const char *v)
{
	return keel_config_set(&cfg, k, v, err, sizeof(err));
}

START_TEST(test_defaults)
{
	ck_assert_int_eq(cfg.broker_id, -1);
	ck_assert_int_eq(cfg.reserved_broker_max_id, 1000);
	ck_assert(cfg.broker_id_generation_enable);
	ck_assert_int_eq(cfg.nlisteners, 1);
	ck_assert_str_eq(cfg.listeners[0].name, "PLAINTEXT");
	ck_assert_str_eq(cfg.listeners[0].host, "");
	ck_assert_int_eq(cfg.listeners[0].port, 9092);
	ck_assert_int_eq(cfg.nadvertised, 0);
	ck_assert_int_eq(cfg.nlog_dirs, 1);
	ck_assert_str_eq(cfg.log_dirs[0], "/tmp/kafka-logs");
	ck_assert_ptr_null(cfg.zookeeper_connect);
	ck_assert_int_eq(cfg.zk_session_timeout_ms, 18000);
	ck_assert_int_eq(cfg.zk_connection_timeout_ms, 18000);
	ck_assert_int_eq(cfg.num_partitions, 1);
	ck_assert_int_eq(cfg.default_replication_factor, 1);
	ck_assert_int_eq(cfg.min_insync_replicas, 1);
	ck_assert(cfg.auto_create_topics_enable);
	ck_assert(cfg.delete_topic_enable);
	ck_assert(!cfg.unclean_leader_election_enable);
	ck_assert_int_eq(cfg.log_segment_bytes, 1073741824);
	ck_assert_int_eq(cfg.log_roll_ms, 168LL * 3600 * 1000);
	ck_assert_int_eq(cfg.log_index_interval_bytes, 4096);
	ck_assert_int_eq(cfg.log_index_size_max_bytes, 10485760);
	ck_assert_int_eq(cfg.log_flush_interval_messages, INT64_MAX);
	ck_assert_int_eq(cfg.log_flush_interval_ms, INT64_MAX);
	ck_assert_int_eq(cfg.log_retention_ms, 168LL * 3600 * 1000);
	ck_assert_int_eq(cfg.log_retention_bytes, -1);
	ck_assert_int_eq(cfg.message_max_bytes, 1048588);
	ck_assert_int_eq(cfg.socket_request_max_bytes, 104857600);
	ck_assert(!cfg.log_message_timestamp_log_append);
	ck_assert_int_eq(cfg.log_message_timestamp_difference_max_ms, INT64_MAX);
	ck_assert_int_eq(cfg.log_flush_offset_checkpoint_interval_ms, 60000);
	ck_assert_int_eq(cfg.log_flush_start_offset_checkpoint_interval_ms, 60000);
	ck_assert_int_eq(cfg.zookeeper_max_in_flight_requests, 10);
	ck_assert_int_eq(cfg.num_recovery_threads_per_data_dir, 1);
	ck_assert(cfg.controlled_shutdown_enable);
	ck_assert_str_eq(cfg.keel_log_level, "info");
	ck_assert_ptr_null(cfg.broker_rack);
	ck_assert_str_eq(cfg.compression_type, "producer");
	ck_assert_str_eq(cfg.log_cleanup_policy, "delete");
	ck_assert_int_eq(cfg.replica_lag_time_max_ms, 30000);
	ck_assert_int_eq(cfg.replica_fetch_max_bytes, 1048576);
	ck_assert_int_eq(cfg.replica_fetch_wait_max_ms, 500);
	ck_assert_int_eq(cfg.replica_high_watermark_checkpoint_interval_ms, 5000);
	ck_assert_int_eq(cfg.offsets_topic_replication_factor, 3);
	ck_assert_int_eq(cfg.offsets_topic_num_partitions, 50);
	ck_assert_int_eq(cfg.transaction_state_log_min_isr, 2);
	ck_assert_int_eq(cfg.group_initial_rebalance_delay_ms, 3000);
	ck_assert_int_eq(cfg.log_retention_check_interval_ms, 300000);
	ck_assert(cfg.auto_leader_rebalance_enable);
	ck_assert_int_eq(cfg.socket_send_buffer_bytes, 102400);
	ck_assert_str_eq(keel_config_default("log.segment.bytes"), "1073741824");
	ck_assert_ptr_null(keel_config_default("no.such.key"));
}
END_TEST

static const char sample[] =
	"# Kafka-style comment\n"
	"! bang comment\n"
	"\n"
	"   \t\n"
	"broker.id=7\n"
	"  num.partitions : 3  \n"
	"default.replication.factor 2\n"
	"log.dirs=/data/a,\\\n"
	"    /data/b , /data/c\n"
	"zookeeper.connect=zk1:2181,zk2:2181/keel\n"
	"listeners=PLAINTEXT://127.0.0.1:9092\r\n"
	"auto.create.topics.enable = FALSE\n"
	"# comment ends with backslash \\\n"
	"delete.topic.enable=false\n"
	"keel.log.level=DEBUG\n"
	"broker.rack=rack\\ one\\t\n"
	"log.message.timestamp.type=LogAppendTime\n"
	"num.network.threads=3\n"
	"num.io.threads=8\n"
	"socket.send.buffer.bytes=102400\n"
	"offsets.topic.replication.factor=1\n"
	"some.unknown.key=whatever\n"
	"min.insync.replicas=2"; /* no final newline */

START_TEST(test_load_sample)
{
	ck_assert_int_eq(load_text(sample), KEEL_OK);
	ck_assert_int_eq(cfg.broker_id, 7);
	ck_assert_int_eq(cfg.num_partitions, 3);
	ck_assert_int_eq(cfg.default_replication_factor, 2);
	ck_assert_int_eq(cfg.nlog_dirs, 3);
	ck_assert_str_eq(cfg.log_dirs[0], "/data/a");
	ck_assert_str_eq(cfg.log_dirs[1], "/data/b");
	ck_assert_str_eq(cfg.log_dirs[2], "/data/c");
	ck_assert_str_eq(cfg.zookeeper_connect, "zk1:2181,zk2:2181/keel");
	ck_assert_str_eq(cfg.listeners[0].host, "127.0.0.1");
	ck_assert(!cfg.auto_create_topics_enable);
	ck_assert(!cfg.delete_topic_enable);
	ck_assert_str_eq(cfg.keel_log_level, "DEBUG");
	ck_assert_str_eq(cfg.broker_rack, "rack one");
	ck_assert(cfg.log_message_timestamp_log_append);
	ck_assert_int_eq(cfg.offsets_topic_replication_factor, 1);
	ck_assert_int_eq(cfg.min_insync_replicas, 2);
	ck_assert_int_eq(keel_config_finish(&cfg, err, sizeof(err)), KEEL_OK);
}
END_TEST

START_TEST(test_load_errors_name_file_line_key)
{
	ck_assert_int_eq(load_text("broker.id=1\n\n# x\nlog.segment.bytes=abc\n"), KERR_INVALID_CONFIG);
	ck_assert_ptr_nonnull(strstr(err, ":4: log.segment.bytes: must be an integer >= 14, got 'abc'"));
	ck_assert_ptr_nonnull(strstr(err, "/tmp/keel-test-config-"));
	/* a continued value reports the line where the setting starts */
	ck_assert_int_eq(load_text("\nnum.partitions=1\\\n  x\n"), KERR_INVALID_CONFIG);
	ck_assert_ptr_nonnull(strstr(err, ":2: num.partitions:"));
	ck_assert_int_eq(keel_config_load(&cfg, "/nonexistent/keel.properties", err, sizeof(err)),
			 KEEL_ERR);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/keel.properties"));
}
END_TEST

START_TEST(test_escapes_and_separators)
{
	ck_assert_int_eq(load_text("broker.rack\\=x:y=z\nbroker.rack\t=\t a\\:b \n"), KEEL_OK);
	ck_assert_str_eq(cfg.broker_rack, "a:b");
	ck_assert_int_eq(load_text("broker.rack:=x\n"), KEEL_OK); /* value is "=x" */
	ck_assert_str_eq(cfg.broker_rack, "=x");
	ck_assert_int_eq(load_text("broker.rack=a\\\\\n"), KEEL_OK); /* even backslashes: no join */
	ck_assert_str_eq(cfg.broker_rack, "a\\");
	ck_assert_int_eq(load_text("broker.rack=a\\\n"), KEEL_OK); /* continuation at EOF */
	ck_assert_str_eq(cfg.broker_rack, "a");
	ck_assert_int_eq(load_text("broker.rack=\\u0041\n"), KERR_INVALID_CONFIG);
	ck_assert_int_eq(load_text(""), KEEL_OK);
}
END_TEST

/* One bad value per key type; each must be rejected with the key in the message. */
static const struct {
	const char *key, *value, *why;
} bad_values[] = {
	{"broker.id", "abc", "must be an integer >= -1, got 'abc'"},
	{"broker.id", "-2", "between -1 and 2147483647"},
	{"broker.id", "2147483648", "between -1 and 2147483647"},
	{"broker.id", "12x", NULL},
	{"broker.id", "", NULL},
	{"broker.id", "1.5", NULL},
	{"log.segment.bytes", "abc", "must be an integer >= 14, got 'abc'"},
	{"log.segment.bytes", "13", NULL},
	{"zookeeper.max.in.flight.requests", "0", NULL},
	{"log.flush.start.offset.checkpoint.interval.ms", "-1", NULL},
	{"log.segment.bytes", "4294967296", NULL},
	{"log.retention.bytes", "9223372036854775808", NULL},
	{"log.retention.bytes", "x", "must be a 64-bit integer"},
	{"log.retention.ms", "99999999999999999999", NULL},
	{"default.replication.factor", "32768", "between 1 and 32767"},
	{"default.replication.factor", "0", NULL},
	{"num.partitions", "0", NULL},
	{"num.partitions", "0x10", NULL},
	{"log.index.size.max.bytes", "3", NULL},
	{"leader.imbalance.per.broker.percentage", "101", "between 0 and 100"},
	{"num.io.threads", "zero", NULL},
	{"num.network.threads", "0", NULL},
	{"auto.create.topics.enable", "yes", "must be true or false, got 'yes'"},
	{"delete.topic.enable", "1", NULL},
	{"log.preallocate", "", NULL},
	{"log.message.timestamp.type", "logappendtime", "must be one of CreateTime, LogAppendTime"},
	{"compression.type", "brotli", NULL},
	{"log.message.timestamp.difference.max.ms", "-1", NULL},
	{"keel.log.level", "verbose", "must be one of error, warn, info, debug, trace"},
	{"log.cleanup.policy", "forever", NULL},
	{"zookeeper.connect", "", "must not be empty"},
	{"zookeeper.connect", "zk:99999", NULL},
	{"zookeeper.connect", "zk:2181/", "bad chroot"},
	{"zookeeper.connect", "zk:2181,,zk2:2181", NULL},
	{"zookeeper.session.timeout.ms", "0", NULL},
	{"listeners", "", "must name at least one listener"},
	{"listeners", "localhost:9092", "is not NAME://host:port"},
	{"listeners", "PLAINTEXT://:70000", "port must be 0-65535"},
	{"listeners", "PLAINTEXT://:-1", NULL},
	{"listeners", "PLAINTEXT://host", "missing port"},
	{"listeners", "PLAINTEXT://host:", NULL},
	{"listeners", "PLAIN TEXT://:9092", "bad listener name"},
	{"listeners", "PLAINTEXT://[::1:9092", "bad IPv6"},
	{"listeners", "PLAINTEXT://::1:9092", "bad host"},
	{"listeners", "PLAINTEXT://a b:9092", "bad host"},
	{"listeners", "A://:9092,a://:9093", "listener name A is used twice"},
	{"listeners", "A://:9092,B://:9092", "port 9092 is used by both A and B"},
	{"listeners", "A://:9092,", "empty entry"},
	{"advertised.listeners", "x", "advertised.listeners: 'x' is not NAME://host:port"},
	{"listener.security.protocol.map", "A:TLS", NULL},
	{"listener.security.protocol.map", "A", NULL},
	{"security.inter.broker.protocol", "SSL", "not supported yet"},
	{"log.dirs", "/a,,/b", "empty directory name"},
	{"log.dirs", " ", NULL},
	{"log.dir", "", NULL},
};

START_TEST(test_bad_values)
{
	char prefix[128];

	ck_assert_int_eq(set(bad_values[_i].key, bad_values[_i].value), KERR_INVALID_CONFIG);
	snprintf(prefix, sizeof(prefix), "%s: ", bad_values[_i].key);
	ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0, "%s=%s gave '%s'",
		      bad_values[_i].key, bad_values[_i].value, err);
	if (bad_values[_i].why)
		ck_assert_msg(strstr(err, bad_values[_i].why) != NULL, "%s=%s gave '%s'",
			      bad_values[_i].key, bad_values[_i].value, err);
}
END_TEST

START_TEST(test_bad_value_keeps_old)
{
	ck_assert_int_eq(set("num.partitions", "4"), KEEL_OK);
	ck_assert_int_eq(set("num.partitions", "x"), KERR_INVALID_CONFIG);
	ck_assert_int_eq(cfg.num_partitions, 4);
	ck_assert_int_eq(set("listeners", "bad"), KERR_INVALID_CONFIG);
	ck_assert_int_eq(cfg.nlisteners, 1);
	ck_assert_int_eq(cfg.listeners[0].port, 9092);
}
END_TEST

START_TEST(test_good_values)
{
	ck_assert_int_eq(set("broker.id", " 42 "), KEEL_OK);
	ck_assert_int_eq(cfg.broker_id, 42);
	ck_assert_int_eq(set("broker.id", "+5"), KEEL_OK);
	ck_assert_int_eq(cfg.broker_id, 5);
	ck_assert_int_eq(set("log.retention.bytes", "-9223372036854775808"), KEEL_OK);
	ck_assert_int_eq(cfg.log_retention_bytes, INT64_MIN);
	ck_assert_int_eq(set("log.segment.bytes", "2147483647"), KEEL_OK);
	ck_assert_int_eq(cfg.log_segment_bytes, 2147483647);
	ck_assert_int_eq(set("default.replication.factor", "32767"), KEEL_OK);
	ck_assert_int_eq(cfg.default_replication_factor, 32767);
	ck_assert_int_eq(set("unclean.leader.election.enable", "True"), KEEL_OK);
	ck_assert(cfg.unclean_leader_election_enable);
	ck_assert_int_eq(set("log.cleanup.policy", "compact,delete"), KEEL_OK);
	ck_assert_int_eq(set("compression.type", "zstd"), KEEL_OK);
	ck_assert_str_eq(cfg.compression_type, "zstd");
	ck_assert_int_eq(set("socket.receive.buffer.bytes", "-1"), KEEL_OK);
	ck_assert_int_eq(cfg.socket_receive_buffer_bytes, -1);
	ck_assert_int_eq(set("log.flush.interval.ms", "1000"), KEEL_OK);
	ck_assert_int_eq(cfg.log_flush_interval_ms, 1000);
	ck_assert_int_eq(set("log.message.timestamp.difference.max.ms", "60000"), KEEL_OK);
	ck_assert_int_eq(cfg.log_message_timestamp_difference_max_ms, 60000);
	ck_assert_int_eq(set("transaction.state.log.min.isr", "1"), KEEL_OK);
	ck_assert_int_eq(set("inter.broker.protocol.version", "2.8"), KEEL_OK);
}
END_TEST

START_TEST(test_unknown_key_warns)
{
	char buf[1024] = "";
	FILE *out = fmemopen(buf, sizeof(buf), "w");

	klog_setup(KLOG_WARN, out);
	ck_assert_int_eq(set("no.such.key", "1"), KEEL_OK);
	ck_assert_int_eq(load_text("another.unknown=x\n"), KEEL_OK);
	fflush(out);
	klog_setup(KLOG_ERROR, NULL);
	fclose(out);
	ck_assert_ptr_nonnull(strstr(buf, "unknown configuration key 'no.such.key' ignored"));
	ck_assert_ptr_nonnull(strstr(buf, "unknown configuration key 'another.unknown' ignored"));
	ck_assert_ptr_nonnull(strstr(buf, "[config]"));
}
END_TEST

START_TEST(test_roll_precedence)
{
	ck_assert_int_eq(set("log.roll.ms", "5000"), KEEL_OK);
	ck_assert_int_eq(set("log.roll.hours", "2"), KEEL_OK);
	ck_assert_int_eq(cfg.log_roll_ms, 5000);
	teardown();
	setup();
	ck_assert_int_eq(set("log.roll.hours", "2"), KEEL_OK);
	ck_assert_int_eq(cfg.log_roll_ms, 7200000);
	ck_assert_int_eq(set("log.roll.ms", "5000"), KEEL_OK);
	ck_assert_int_eq(cfg.log_roll_ms, 5000);
	ck_assert_int_eq(set("log.roll.hours", "0"), KERR_INVALID_CONFIG);
	ck_assert_int_eq(set("log.roll.ms", "0"), KERR_INVALID_CONFIG);
}
END_TEST

START_TEST(test_retention_precedence)
{
	ck_assert_int_eq(set("log.retention.hours", "1"), KEEL_OK);
	ck_assert_int_eq(cfg.log_retention_ms, 3600000);
	ck_assert_int_eq(set("log.retention.minutes", "2"), KEEL_OK);
	ck_assert_int_eq(cfg.log_retention_ms, 120000);
	ck_assert_int_eq(set("log.retention.hours", "5"), KEEL_OK); /* minutes win */
	ck_assert_int_eq(cfg.log_retention_ms, 120000);
	ck_assert_int_eq(set("log.retention.ms", "777"), KEEL_OK);
	ck_assert_int_eq(cfg.log_retention_ms, 777);
	ck_assert_int_eq(set("log.retention.minutes", "9"), KEEL_OK); /* ms wins */
	ck_assert_int_eq(set("log.retention.hours", "9"), KEEL_OK);
	ck_assert_int_eq(cfg.log_retention_ms, 777);
	ck_assert_int_eq(set("log.retention.ms", "-5"), KEEL_OK); /* negative: unlimited */
	ck_assert_int_eq(cfg.log_retention_ms, -1);
	teardown();
	setup();
	ck_assert_int_eq(load_text("log.retention.ms=100\nlog.retention.hours=1\n"), KEEL_OK);
	ck_assert_int_eq(cfg.log_retention_ms, 100);
	ck_assert_int_eq(set("log.retention.hours", "x"), KERR_INVALID_CONFIG); /* still checked */
}
END_TEST

START_TEST(test_log_dir_precedence)
{
	ck_assert_int_eq(set("log.dirs", "/x,/y"), KEEL_OK);
	ck_assert_int_eq(set("log.dir", "/z"), KEEL_OK);
	ck_assert_int_eq(cfg.nlog_dirs, 2);
	ck_assert_str_eq(cfg.log_dirs[0], "/x");
	teardown();
	setup();
	ck_assert_int_eq(set("log.dir", "/z"), KEEL_OK);
	ck_assert_int_eq(cfg.nlog_dirs, 1);
	ck_assert_str_eq(cfg.log_dirs[0], "/z");
	ck_assert_int_eq(set("log.dirs", "/q"), KEEL_OK);
	ck_assert_str_eq(cfg.log_dirs[0], "/q");
	ck_assert_int_eq(set("log.dirs",
			     "/1,/2,/3,/4,/5,/6,/7,/8,/9,/10,/11,/12,/13,/14,/15,/16,/17"),
			 KERR_INVALID_CONFIG);
	ck_assert_int_eq(cfg.nlog_dirs, 1);
}
END_TEST

START_TEST(test_zk_timeouts)
{
	ck_assert_int_eq(set("zookeeper.session.timeout.ms", "6000"), KEEL_OK);
	ck_assert_int_eq(cfg.zk_connection_timeout_ms, 6000);
	ck_assert_int_eq(set("zookeeper.connection.timeout.ms", "1000"), KEEL_OK);
	ck_assert_int_eq(set("zookeeper.session.timeout.ms", "9000"), KEEL_OK);
	ck_assert_int_eq(cfg.zk_connection_timeout_ms, 1000);
	ck_assert_int_eq(set("zookeeper.connect", "a:1,b:2,c/chroot/x"), KEEL_OK);
	ck_assert_str_eq(cfg.zookeeper_connect, "a:1,b:2,c/chroot/x");
}
END_TEST

START_TEST(test_listeners_good)
{
	keel_listener_t l[KEEL_MAX_LISTENERS];

	ck_assert_int_eq(keel_config_parse_listeners(
				 "PLAINTEXT://:9092, internal://10.0.0.1:0 ,V6://[::1]:65535,"
				 "H://broker-1.example.com:1",
				 l, KEEL_MAX_LISTENERS, err, sizeof(err)), 4);
	ck_assert_str_eq(l[0].name, "PLAINTEXT");
	ck_assert_str_eq(l[0].host, "");
	ck_assert_int_eq(l[0].port, 9092);
	ck_assert_str_eq(l[1].name, "INTERNAL");
	ck_assert_str_eq(l[1].host, "10.0.0.1");
	ck_assert_int_eq(l[1].port, 0);
	ck_assert_str_eq(l[2].host, "::1");
	ck_assert_int_eq(l[2].port, 65535);
	ck_assert_str_eq(l[3].host, "broker-1.example.com");
	ck_assert_int_eq(keel_config_parse_listeners("A://:1", l, 0, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "more than 0 listeners"));
	ck_assert_int_eq(set("listeners", "A://:0,B://:0"), KEEL_OK); /* port 0 may repeat */
	ck_assert_int_eq(cfg.nlisteners, 2);
}
END_TEST

static int finish(void)
{
	return keel_config_finish(&cfg, err, sizeof(err));
}

START_TEST(test_finish_requires_zk)
{
	ck_assert_int_eq(finish(), KERR_INVALID_CONFIG);
	ck_assert_str_eq(err, "zookeeper.connect: required");
}
END_TEST

START_TEST(test_finish_broker_id)
{
	ck_assert_int_eq(set("zookeeper.connect", "127.0.0.1:2181"), KEEL_OK);
	ck_assert_int_eq(set("broker.id", "1001"), KEEL_OK);
	ck_assert_int_eq(finish(), KERR_INVALID_CONFIG);
	ck_assert_ptr_nonnull(strstr(err, "broker.id: "));
	ck_assert_ptr_nonnull(strstr(err, "reserved.broker.max.id (1000), got 1001"));
	ck_assert_int_eq(set("reserved.broker.max.id", "2000"), KEEL_OK);
	ck_assert_int_eq(finish(), KEEL_OK);
	ck_assert_int_eq(set("broker.id", "-1"), KEEL_OK);
	ck_assert_int_eq(finish(), KEEL_OK);
	ck_assert_int_eq(set("broker.id.generation.enable", "false"), KEEL_OK);
	ck_assert_int_eq(finish(), KERR_INVALID_CONFIG);
	ck_assert_ptr_nonnull(strstr(err, "broker.id: "));
}
END_TEST

START_TEST(test_finish_advertised)
{
	ck_assert_int_eq(set("zookeeper.connect", "127.0.0.1:2181"), KEEL_OK);
	ck_assert_int_eq(set("listeners", "PLAINTEXT://127.0.0.1:9092,REPL://:9093"), KEEL_OK);
	ck_assert_int_eq(set("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,REPL:plaintext"),
			 KEEL_OK);
	ck_assert_int_eq(finish(), KEEL_OK);
	ck_assert_int_eq(cfg.nadvertised, 2);
	ck_assert_str_eq(cfg.advertised[0].host, "127.0.0.1");
	ck_assert_str_eq(cfg.advertised[1].name, "REPL");
	ck_assert_int_gt(strlen(cfg.advertised[1].host), 0); /* canonical hostname */
	ck_assert_str_eq(cfg.listeners[1].host, "");          /* bind stays "all" */
	ck_assert_str_eq(cfg.advertised[1].security_protocol, "PLAINTEXT");
	ck_assert_str_eq(cfg.inter_broker_listener_name, "PLAINTEXT");

	ck_assert_int_eq(set("advertised.listeners", "OTHER://h:1"), KEEL_OK);
	ck_assert_int_eq(finish(), KERR_INVALID_CONFIG);
	ck_assert_str_eq(err, "advertised.listeners: listener OTHER is not in listeners");
	ck_assert_int_eq(set("advertised.listeners", "REPL://0.0.0.0:1"), KEEL_OK);
	ck_assert_int_eq(finish(), KERR_INVALID_CONFIG);
	ck_assert_ptr_nonnull(strstr(err, "non-routable"));
	ck_assert_int_eq(set("advertised.listeners", "REPL://h:1"), KEEL_OK);
	ck_assert_int_eq(finish(), KEEL_OK);
	ck_assert_str_eq(cfg.inter_broker_listener_name, "REPL"); /* first advertised */
	ck_assert_int_eq(set("inter.broker.listener.name", "plaintext"), KEEL_OK);
	ck_assert_int_eq(finish(), KERR_INVALID_CONFIG);
	ck_assert_str_eq(err, "inter.broker.listener.name: PLAINTEXT is not in advertised.listeners");
	ck_assert_int_eq(set("inter.broker.listener.name", "repl"), KEEL_OK);
	ck_assert_int_eq(finish(), KEEL_OK);
	ck_assert_str_eq(cfg.inter_broker_listener_name, "REPL");
}
END_TEST

START_TEST(test_finish_security)
{
	ck_assert_int_eq(set("zookeeper.connect", "127.0.0.1:2181"), KEEL_OK);
	ck_assert_int_eq(set("listeners", "PLAINTEXT://:9092,SSL://:9093"), KEEL_OK);
	ck_assert_int_eq(finish(), KERR_INVALID_CONFIG);
	ck_assert_str_eq(err, "listeners: listener SSL uses security protocol SSL, "
			      "which is not supported yet");
	ck_assert_int_eq(set("listeners", "CLIENT://:9092"), KEEL_OK); /* unmapped: PLAINTEXT */
	ck_assert_int_eq(finish(), KEEL_OK);
	ck_assert_str_eq(cfg.listeners[0].security_protocol, "PLAINTEXT");
	ck_assert_int_eq(set("listener.security.protocol.map", "CLIENT:SASL_PLAINTEXT"), KEEL_OK);
	ck_assert_int_eq(finish(), KERR_INVALID_CONFIG);
	ck_assert_ptr_nonnull(strstr(err, "SASL_PLAINTEXT, which is not supported yet"));
}
END_TEST

START_TEST(test_finish_replica_wait)
{
	ck_assert_int_eq(set("zookeeper.connect", "127.0.0.1:2181"), KEEL_OK);
	ck_assert_int_eq(set("replica.lag.time.max.ms", "100"), KEEL_OK);
	ck_assert_int_eq(finish(), KERR_INVALID_CONFIG);
	ck_assert_ptr_nonnull(strstr(err, "replica.fetch.wait.max.ms: "));
	ck_assert_int_eq(set("replica.lag.time.max.ms", "30000"), KEEL_OK);
	ck_assert_int_eq(set("replica.socket.timeout.ms", "499"), KEEL_OK);
	ck_assert_int_eq(finish(), KERR_INVALID_CONFIG);
	ck_assert_ptr_nonnull(strstr(err, "replica.socket.timeout.ms: must be at least"));
	ck_assert_int_eq(set("replica.socket.timeout.ms", "500"), KEEL_OK);
	ck_assert_int_eq(finish(), KEEL_OK);
}
END_TEST

START_TEST(test_example_config)
{
	/* config/server.properties must load cleanly when the tests run from the tree. */
	const char *src = getenv("KEEL_SRCDIR");
	char path[4096];

	snprintf(path, sizeof(path), "%s/config/server.properties", src ? src : ".");
	if (access(path, R_OK) != 0)
		return;
	ck_assert_msg(keel_config_load(&cfg, path, err, sizeof(err)) == KEEL_OK, "%s", err);
	ck_assert_msg(finish() == KEEL_OK, "%s", err);
	ck_assert_int_eq(cfg.broker_id, 0);
	ck_assert_str_eq(cfg.log_dirs[0], "/tmp/keel-logs");
	ck_assert_str_eq(cfg.zookeeper_connect, "127.0.0.1:2181");
}
END_TEST

/* Topic configs: Kafka's LogConfig names, types and ranges. */
static const struct {
	const char *key, *value;
	bool ok;
} topic_cases[] = {
	{ "segment.bytes", "1048576", true },
	{ "segment.bytes", " 1048576 ", true }, /* Kafka trims */
	{ "segment.bytes", "13", false },        /* at least 14 */
	{ "segment.bytes", "2147483648", false }, /* an INT */
	{ "segment.bytes", "1MB", false },
	{ "segment.ms", "1d", false },
	{ "segment.ms", "0", false },            /* at least 1 */
	{ "segment.ms", "9223372036854775807", true },
	{ "segment.ms", "9223372036854775808", false },
	{ "retention.ms", "-1", true },
	{ "retention.ms", "-2", false },
	{ "retention.bytes", "-5", true },       /* no bound */
	{ "max.message.bytes", "abc", false },
	{ "max.message.bytes", "", false },
	{ "min.insync.replicas", "0", false },
	{ "min.insync.replicas", "2", true },
	{ "min.cleanable.dirty.ratio", "0.5", true },
	{ "min.cleanable.dirty.ratio", "1.5", false },
	{ "min.cleanable.dirty.ratio", "x", false },
	{ "cleanup.policy", "compact,delete", true },
	{ "cleanup.policy", "compact, delete", true },
	{ "cleanup.policy", "compacted", false },
	{ "compression.type", "zstd", true },
	{ "compression.type", "brotli", false },
	{ "message.timestamp.type", "LogAppendTime", true },
	{ "message.timestamp.type", "logappendtime", false }, /* case matters */
	{ "unclean.leader.election.enable", "TRUE", true },
	{ "unclean.leader.election.enable", "yes", false },
	{ "preallocate", "false", true },
	{ "message.format.version", "2.8", true },
	{ "message.format.version", "2.1-IV2", true },
	{ "message.format.version", "two", false },
	{ "leader.replication.throttled.replicas", "*", true },
	{ "leader.replication.throttled.replicas", "0:1,1:2", true },
	{ "follower.replication.throttled.replicas", "0-1", false },
	{ "segmnet.bytes", "1048576", false },  /* unknown name */
	{ "log.retention.ms", "1000", false },  /* a broker key, not a topic one */
};

START_TEST(test_topic_config_values)
{
	char why[256] = "";
	int rc = keel_topic_config_check(topic_cases[_i].key, topic_cases[_i].value, why, sizeof(why));
	ck_assert_msg((rc == 0) == topic_cases[_i].ok, "%s=%s: rc %d (%s)", topic_cases[_i].key,
		      topic_cases[_i].value, rc, why);
	if (!topic_cases[_i].ok)
		ck_assert_ptr_nonnull(strstr(why, topic_cases[_i].key));
}
END_TEST

START_TEST(test_topic_configs_together)
{
	const char *k[] = { "min.compaction.lag.ms", "max.compaction.lag.ms", "retention.ms" };
	const char *v[] = { "5000", "1000", "10" }, *ok[] = { "1000", "5000", "10" }, *null[] = { "1", "2", NULL };
	char why[256];
	ck_assert_int_eq(keel_topic_configs_check(3, k, ok, why, sizeof(why)), 0);
	ck_assert_int_ne(keel_topic_configs_check(3, k, v, why, sizeof(why)), 0);
	ck_assert_ptr_nonnull(strstr(why, "min.compaction.lag.ms (5000) > max.compaction.lag.ms (1000)"));
	ck_assert_int_ne(keel_topic_configs_check(3, k, null, why, sizeof(why)), 0);
	ck_assert_ptr_nonnull(strstr(why, "Null value not supported for topic configs: retention.ms"));
	ck_assert_int_eq(keel_topic_configs_check(0, NULL, NULL, why, sizeof(why)), 0);
}
END_TEST

/* A partition's settings: the broker keys, then the topic's overrides (compression.type and
 * message.timestamp.difference.max.ms among them). */
START_TEST(test_topic_config_resolve)
{
	keel_broker_t b = {.cfg = &cfg};
	char *keys[] = {"compression.type", "message.timestamp.difference.max.ms"};
	char *values[] = {"uncompressed", "60000"};
	keel_view_topic_t t = {.name = "t", .nconfigs = 2, .config_keys = keys, .config_values = values};
	keel_topic_config_t tc;

	keel_topic_config_resolve(&b, NULL, &tc);
	ck_assert_int_eq(tc.codec, KEEL_CODEC_PRODUCER);
	ck_assert_int_eq(tc.timestamp_diff_max_ms, INT64_MAX);
	ck_assert_int_eq(set("compression.type", "lz4"), KEEL_OK);
	ck_assert_int_eq(set("log.message.timestamp.difference.max.ms", "5000"), KEEL_OK);
	keel_topic_config_resolve(&b, NULL, &tc);
	ck_assert_int_eq(tc.codec, KEEL_CODEC_LZ4);
	ck_assert_int_eq(tc.timestamp_diff_max_ms, 5000);
	keel_topic_config_resolve(&b, &t, &tc);
	ck_assert_int_eq(tc.codec, KEEL_CODEC_NONE);
	ck_assert_int_eq(tc.timestamp_diff_max_ms, 60000);
	values[0] = "producer";
	keel_topic_config_resolve(&b, &t, &tc);
	ck_assert_int_eq(tc.codec, KEEL_CODEC_PRODUCER);
}
END_TEST

Suite *suite_config(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("core");
	TCase *bad = tcase_create("bad-values");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_load_sample);
	tcase_add_test(tc, test_load_errors_name_file_line_key);
	tcase_add_test(tc, test_escapes_and_separators);
	tcase_add_test(tc, test_bad_value_keeps_old);
	tcase_add_test(tc, test_good_values);
	tcase_add_test(tc, test_unknown_key_warns);
	tcase_add_test(tc, test_roll_precedence);
	tcase_add_test(tc, test_retention_precedence);
	tcase_add_test(tc, test_log_dir_precedence);
	tcase_add_test(tc, test_zk_timeouts);
	tcase_add_test(tc, test_listeners_good);
	tcase_add_test(tc, test_finish_requires_zk);
	tcase_add_test(tc, test_finish_broker_id);
	tcase_add_test(tc, test_finish_advertised);
	tcase_add_test(tc, test_finish_security);
	tcase_add_test(tc, test_finish_replica_wait);
	tcase_add_test(tc, test_example_config);
	tcase_add_test(tc, test_topic_config_resolve);
	tcase_add_checked_fixture(bad, setup, teardown);
	tcase_add_loop_test(bad, test_bad_values, 0, (int)KEEL_ARRAY_LEN(bad_values));
	tcase_add_loop_test(bad, test_topic_config_values, 0, (int)KEEL_ARRAY_LEN(topic_cases));
	tcase_add_test(bad, test_topic_configs_together);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, bad);
	return s;
}
