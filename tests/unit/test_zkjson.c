/* tests/unit/test_zkjson.c: znode JSON codecs (zk/zkjson.c), topic name rules, uuid format. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "coord.h"
#include "suites.h"
#include "zkjson.h"

#define DEC(fn, s, ...) fn((s), (int)strlen(s), __VA_ARGS__)

START_TEST(broker_encode_exact)
{
	char *names[] = { "PLAINTEXT" }, *hosts[] = { "127.0.0.1" };
	int32_t ports[] = { 9092 };
	zkj_broker_t b = { .host = "127.0.0.1", .port = 9092, .nendpoints = 1,
			   .endpoint_names = names, .endpoint_hosts = hosts,
			   .endpoint_ports = ports, .timestamp_ms = 1700000000000LL };
	char *s = zkj_broker_encode(&b);
	ck_assert_str_eq(s, "{\"features\":{},\"listener_security_protocol_map\":{\"PLAINTEXT\":"
			    "\"PLAINTEXT\"},\"endpoints\":[\"PLAINTEXT://127.0.0.1:9092\"],"
			    "\"jmx_port\":-1,\"port\":9092,\"host\":\"127.0.0.1\",\"version\":5,"
			    "\"timestamp\":\"1700000000000\"}");
	free(s);
}
END_TEST

START_TEST(broker_round_trip_rack)
{
	char *names[] = { "PLAINTEXT", "REPLICATION" }, *hosts[] = { "b1", "::1" };
	char *protos[] = { "PLAINTEXT", "SSL" };
	int32_t ports[] = { 9092, 9093 };
	zkj_broker_t b = { .host = "b1", .port = 9092, .nendpoints = 2, .endpoint_names = names,
			   .endpoint_hosts = hosts, .endpoint_ports = ports,
			   .endpoint_protocols = protos, .rack = "r1", .timestamp_ms = 42 };
	zkj_broker_t d;
	char *s = zkj_broker_encode(&b);
	ck_assert_ptr_nonnull(strstr(s, "\"rack\":\"r1\""));
	ck_assert_ptr_nonnull(strstr(s, "\"REPLICATION://[::1]:9093\""));
	ck_assert_int_eq(DEC(zkj_broker_decode, s, &d), 0);
	ck_assert_str_eq(d.host, "b1");
	ck_assert_int_eq(d.port, 9092);
	ck_assert_int_eq(d.nendpoints, 2);
	ck_assert_str_eq(d.endpoint_names[1], "REPLICATION");
	ck_assert_str_eq(d.endpoint_hosts[1], "::1");
	ck_assert_int_eq(d.endpoint_ports[1], 9093);
	ck_assert_str_eq(d.endpoint_protocols[1], "SSL");
	ck_assert_str_eq(d.rack, "r1");
	ck_assert_int_eq(d.timestamp_ms, 42);
	zkj_broker_free(&d);
	free(s);
}
END_TEST

START_TEST(broker_decode_kafka_samples)
{
	const char *v5 = "{\"version\":5,\"host\":\"b1\",\"port\":9092,\"jmx_port\":-1,"
			 "\"timestamp\":\"1700000000000\",\"endpoints\":[\"PLAINTEXT://b1:9092\","
			 "\"REPLICATION://b1:9093\"],\"listener_security_protocol_map\":"
			 "{\"PLAINTEXT\":\"PLAINTEXT\",\"REPLICATION\":\"SSL\"},\"rack\":\"r1\","
			 "\"features\":{}}";
	const char *v1 = "{\"jmx_port\":-1,\"timestamp\":\"1\",\"host\":\"h\",\"version\":1,"
			 "\"port\":9092}";
	const char *nohost = "{\"version\":4,\"host\":null,\"port\":-1,\"jmx_port\":-1,"
			     "\"timestamp\":\"5\",\"endpoints\":[\"SSL://h:9093\"]}";
	zkj_broker_t d;
	ck_assert_int_eq(DEC(zkj_broker_decode, v5, &d), 0);
	ck_assert_int_eq(d.nendpoints, 2);
	ck_assert_str_eq(d.endpoint_protocols[1], "SSL");
	ck_assert_int_eq(d.timestamp_ms, 1700000000000LL);
	zkj_broker_free(&d);
	ck_assert_int_eq(DEC(zkj_broker_decode, v1, &d), 0);
	ck_assert_int_eq(d.nendpoints, 1);
	ck_assert_str_eq(d.endpoint_hosts[0], "h");
	ck_assert_ptr_null(d.rack);
	zkj_broker_free(&d);
	ck_assert_int_eq(DEC(zkj_broker_decode, nohost, &d), 0);
	ck_assert_ptr_null(d.host);
	ck_assert_int_eq(d.port, -1);
	ck_assert_str_eq(d.endpoint_hosts[0], "h");
	zkj_broker_free(&d);
}
END_TEST

START_TEST(topic_encode_exact)
{
	int32_t r0[] = { 1, 2, 3 }, r1[] = { 2, 3, 1 }, *reps[] = { r0, r1 }, n[] = { 3, 3 };
	zkj_topic_t t = { .npartitions = 2, .nreplicas = n, .replicas = reps };
	char *s;
	strcpy(t.topic_id, "q5Yc0vXnT7GlE0X4b1yqBA");
	s = zkj_topic_encode(&t);
	ck_assert_str_eq(s, "{\"version\":3,\"partitions\":{\"0\":[1,2,3],\"1\":[2,3,1]},"
			    "\"adding_replicas\":{},\"removing_replicas\":{},"
			    "\"topic_id\":\"q5Yc0vXnT7GlE0X4b1yqBA\"}");
	free(s);
	t.topic_id[0] = '\0';
	s = zkj_topic_encode(&t);
	ck_assert_str_eq(s, "{\"version\":2,\"partitions\":{\"0\":[1,2,3],\"1\":[2,3,1]},"
			    "\"adding_replicas\":{},\"removing_replicas\":{}}");
	free(s);
}
END_TEST

START_TEST(topic_decode_versions)
{
	const char *v1 = "{\"version\":1,\"partitions\":{\"1\":[2],\"0\":[1]}}";
	const char *v3 = "{\"partitions\":{\"0\":[1,2,3]},\"topic_id\":\"q5Yc0vXnT7GlE0X4b1yqBA\","
			 "\"adding_replicas\":{\"0\":[3]},\"removing_replicas\":{},\"version\":3}";
	zkj_topic_t t;
	ck_assert_int_eq(DEC(zkj_topic_decode, v1, &t), 0);
	ck_assert_int_eq(t.npartitions, 2);
	ck_assert_int_eq(t.replicas[0][0], 1);
	ck_assert_int_eq(t.replicas[1][0], 2);
	ck_assert_str_eq(t.topic_id, "");
	ck_assert_ptr_null(t.nadding);
	ck_assert_ptr_null(t.removing);
	zkj_topic_free(&t);
	ck_assert_int_eq(DEC(zkj_topic_decode, v3, &t), 0);
	ck_assert_int_eq(t.nreplicas[0], 3);
	ck_assert_int_eq(t.replicas[0][2], 3);
	ck_assert_str_eq(t.topic_id, "q5Yc0vXnT7GlE0X4b1yqBA");
	ck_assert_int_eq(t.nadding[0], 1);
	ck_assert_int_eq(t.adding[0][0], 3);
	ck_assert_ptr_null(t.nremoving);
	zkj_topic_free(&t);
}
END_TEST

/* A reassignment in flight: RS, AR and RR survive a round trip; bad maps are refused. */
START_TEST(topic_reassignment_maps)
{
	const char *j = "{\"version\":2,\"partitions\":{\"0\":[4,1,2,3],\"1\":[1,2]},"
			"\"adding_replicas\":{\"0\":[4]},\"removing_replicas\":{\"0\":[3]}}";
	zkj_topic_t t;
	char *s;
	ck_assert_int_eq(DEC(zkj_topic_decode, j, &t), 0);
	ck_assert_int_eq(t.nadding[0], 1);
	ck_assert_int_eq(t.nadding[1], 0);
	ck_assert_int_eq(t.removing[0][0], 3);
	s = zkj_topic_encode(&t);
	ck_assert_str_eq(s, j);
	free(s);
	zkj_topic_free(&t);
	ck_assert_int_eq(DEC(zkj_topic_decode, "{\"partitions\":{\"0\":[1]},"
			     "\"adding_replicas\":{\"1\":[2]}}", &t), -1);
	ck_assert_int_eq(DEC(zkj_topic_decode, "{\"partitions\":{\"0\":[1]},"
			     "\"removing_replicas\":[3]}", &t), -1);
	ck_assert_int_eq(DEC(zkj_topic_decode, "{\"partitions\":{\"0\":[1]},"
			     "\"adding_replicas\":{\"0\":[\"x\"]}}", &t), -1);
}
END_TEST

START_TEST(state_round_trip)
{
	int32_t isr[] = { 2, 3 };
	zkj_state_t s = { .controller_epoch = 7, .leader = 2, .leader_epoch = 4, .nisr = 2,
			  .isr = isr }, d;
	char *j = zkj_state_encode(&s);
	ck_assert_str_eq(j, "{\"controller_epoch\":7,\"leader\":2,\"version\":1,"
			    "\"leader_epoch\":4,\"isr\":[2,3]}");
	ck_assert_int_eq(DEC(zkj_state_decode, j, &d), 0);
	ck_assert_int_eq(d.controller_epoch, 7);
	ck_assert_int_eq(d.leader, 2);
	ck_assert_int_eq(d.leader_epoch, 4);
	ck_assert_int_eq(d.nisr, 2);
	ck_assert_int_eq(d.isr[1], 3);
	zkj_state_free(&d);
	free(j);
	j = "{\"controller_epoch\":1,\"leader\":-1,\"version\":1,\"leader_epoch\":3,\"isr\":[1],"
	    "\"leader_recovery_state\":1}";
	ck_assert_int_eq(DEC(zkj_state_decode, j, &d), 0);
	ck_assert_int_eq(d.leader, -1);
	zkj_state_free(&d);
}
END_TEST

START_TEST(controller_and_cluster_id)
{
	char *s = zkj_controller_encode(2, 1700000000000LL), id[64];
	int32_t b = -5;
	ck_assert_str_eq(s, "{\"version\":1,\"brokerid\":2,\"timestamp\":\"1700000000000\"}");
	ck_assert_int_eq(DEC(zkj_controller_decode, s, &b), 0);
	ck_assert_int_eq(b, 2);
	free(s);
	ck_assert_int_eq(DEC(zkj_controller_decode, "{\"version\":2,\"brokerid\":3,\"timestamp\":"
			     "\"1700000000000\",\"kraftControllerEpoch\":-1}", &b), 0);
	ck_assert_int_eq(b, 3);
	s = zkj_cluster_id_encode("Pw0IhgAIRbm5F6vHXZ7ncg");
	ck_assert_str_eq(s, "{\"version\":\"1\",\"id\":\"Pw0IhgAIRbm5F6vHXZ7ncg\"}");
	ck_assert_int_eq(DEC(zkj_cluster_id_decode, s, id, (int)sizeof(id)), 0);
	ck_assert_str_eq(id, "Pw0IhgAIRbm5F6vHXZ7ncg");
	ck_assert_int_eq(DEC(zkj_cluster_id_decode, s, id, 5), -1); /* too small */
	free(s);
}
END_TEST

START_TEST(config_round_trip)
{
	char *k[] = { "retention.ms", "cleanup.policy" }, *v[] = { "86400000", "compact" };
	char **dk, **dv;
	int n;
	char *s = zkj_config_encode(2, k, v);
	ck_assert_str_eq(s, "{\"version\":1,\"config\":{\"retention.ms\":\"86400000\","
			    "\"cleanup.policy\":\"compact\"}}");
	ck_assert_int_eq(DEC(zkj_config_decode, s, &n, &dk, &dv), 0);
	ck_assert_int_eq(n, 2);
	ck_assert_str_eq(dk[0], "retention.ms");
	ck_assert_str_eq(dv[1], "compact");
	zkj_config_free(n, dk, dv);
	free(s);
	s = zkj_config_encode(0, NULL, NULL);
	ck_assert_str_eq(s, "{\"version\":1,\"config\":{}}");
	free(s);
	s = zkj_config_change_encode("topics/t");
	ck_assert_str_eq(s, "{\"version\":2,\"entity_path\":\"topics/t\"}");
	free(s);
}
END_TEST

START_TEST(isr_change_round_trip)
{
	zkj_tp_t in[] = { { "t", 0 }, { "other.topic", 7 } }, *d;
	int n = -1;
	char *s = zkj_isr_change_encode(2, in);
	ck_assert_str_eq(s, "{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0},"
			    "{\"topic\":\"other.topic\",\"partition\":7}]}");
	ck_assert_int_eq(DEC(zkj_isr_change_decode, s, &n, &d), 0);
	ck_assert_int_eq(n, 2);
	ck_assert_str_eq(d[0].topic, "t");
	ck_assert_int_eq(d[0].partition, 0);
	ck_assert_str_eq(d[1].topic, "other.topic");
	ck_assert_int_eq(d[1].partition, 7);
	zkj_tps_free(n, d);
	free(s);
	s = zkj_isr_change_encode(0, NULL);
	ck_assert_str_eq(s, "{\"version\":1,\"partitions\":[]}");
	ck_assert_int_eq(DEC(zkj_isr_change_decode, s, &n, &d), 0);
	ck_assert_int_eq(n, 0);
	zkj_tps_free(n, d);
	free(s);
	/* as Kafka writes it (key order differs) */
	ck_assert_int_eq(DEC(zkj_isr_change_decode, "{\"partitions\":[{\"partition\":3,"
			     "\"topic\":\"x\"}],\"version\":1}", &n, &d), 0);
	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(d[0].topic, "x");
	ck_assert_int_eq(d[0].partition, 3);
	zkj_tps_free(n, d);
}
END_TEST

START_TEST(isr_change_malformed)
{
	static const char *bad[] = {
		"", "null", "[]", "{\"version\":1}", "{\"partitions\":{}}",
		"{\"partitions\":[1]}", "{\"partitions\":[{\"topic\":\"t\"}]}",
		"{\"partitions\":[{\"partition\":0}]}",
		"{\"partitions\":[{\"topic\":5,\"partition\":0}]}",
		"{\"partitions\":[{\"topic\":\"t\",\"partition\":\"0\"}]}",
		"{\"partitions\":[{\"topic\":\"t\",\"partition\":-1}]}",
		"{\"partitions\":[{\"topic\":\"t\",\"partition\":0},{\"topic\":\"u\"}]}",
	};
	zkj_tp_t *d;
	int n;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(DEC(zkj_isr_change_decode, bad[i], &n, &d) == -1, "%s", bad[i]);
	ck_assert_int_eq(zkj_isr_change_decode(NULL, 0, &n, &d), -1);
}
END_TEST

START_TEST(preferred_election_round_trip)
{
	zkj_tp_t in[] = { { "t", 0 }, { "t", 2 } }, *d;
	int n = -1;
	char *s = zkj_preferred_election_encode(2, in);
	static const char *bad[] = {
		"", "null", "[]", "{\"partitions\":{}}", "{\"partitions\":[{\"topic\":\"t\"}]}",
		"{\"partitions\":[{\"topic\":\"t\",\"partition\":-1}]}",
	};
	ck_assert_str_eq(s, "{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0},"
			    "{\"topic\":\"t\",\"partition\":2}]}");
	ck_assert_int_eq(DEC(zkj_preferred_election_decode, s, &n, &d), 0);
	ck_assert_int_eq(n, 2);
	ck_assert_str_eq(d[1].topic, "t");
	ck_assert_int_eq(d[1].partition, 2);
	zkj_tps_free(n, d);
	free(s);
	/* as kafka-preferred-replica-election.sh writes it; and without a list: empty */
	ck_assert_int_eq(DEC(zkj_preferred_election_decode, "{\"partitions\":[{\"partition\":1,"
			     "\"topic\":\"x\"}],\"version\":1}", &n, &d), 0);
	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(d[0].topic, "x");
	zkj_tps_free(n, d);
	ck_assert_int_eq(DEC(zkj_preferred_election_decode, "{\"version\":1}", &n, &d), 0);
	ck_assert_int_eq(n, 0);
	zkj_tps_free(n, d);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(DEC(zkj_preferred_election_decode, bad[i], &n, &d) == -1, "%s", bad[i]);
}
END_TEST

START_TEST(reassign_round_trip)
{
	int32_t r0[] = { 1, 2, 4 }, r1[] = { 3 };
	char *dirs[] = { "any", "/data/b" };
	zkj_reassign_t in[] = {
		{ "t", 0, 3, r0, -1, NULL },
		{ "other.topic", 7, 1, r1, -1, NULL },
	}, *d;
	int n = -1;
	char *s = zkj_reassign_encode(2, in, false);
	/* the znode, as Kafka's ReassignPartitionsZNode writes it */
	ck_assert_str_eq(s, "{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0,"
			    "\"replicas\":[1,2,4]},{\"topic\":\"other.topic\",\"partition\":7,"
			    "\"replicas\":[3]}]}");
	ck_assert_int_eq(DEC(zkj_reassign_decode, s, &n, &d), 0);
	ck_assert_int_eq(n, 2);
	ck_assert_str_eq(d[0].topic, "t");
	ck_assert_int_eq(d[0].partition, 0);
	ck_assert_int_eq(d[0].nreplicas, 3);
	ck_assert_int_eq(d[0].replicas[2], 4);
	ck_assert_int_eq(d[0].nlog_dirs, -1);
	ck_assert_str_eq(d[1].topic, "other.topic");
	ck_assert_int_eq(d[1].partition, 7);
	ck_assert_int_eq(d[1].replicas[0], 3);
	zkj_reassign_free(n, d);
	free(s);
	/* the tool's file: "any" per replica unless the entry has its own log_dirs */
	in[1].nlog_dirs = 1;
	in[1].log_dirs = dirs + 1;
	s = zkj_reassign_encode(2, in, true);
	ck_assert_str_eq(s, "{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0,"
			    "\"replicas\":[1,2,4],\"log_dirs\":[\"any\",\"any\",\"any\"]},"
			    "{\"topic\":\"other.topic\",\"partition\":7,\"replicas\":[3],"
			    "\"log_dirs\":[\"/data/b\"]}]}");
	ck_assert_int_eq(DEC(zkj_reassign_decode, s, &n, &d), 0);
	ck_assert_int_eq(d[0].nlog_dirs, 3);
	ck_assert_str_eq(d[0].log_dirs[1], "any");
	ck_assert_int_eq(d[1].nlog_dirs, 1);
	ck_assert_str_eq(d[1].log_dirs[0], "/data/b");
	zkj_reassign_free(n, d);
	free(s);
	s = zkj_reassign_encode(0, NULL, false);
	ck_assert_str_eq(s, "{\"version\":1,\"partitions\":[]}");
	free(s);
	in[0].topic = NULL;
	ck_assert_ptr_null(zkj_reassign_encode(2, in, false));
}
END_TEST

START_TEST(reassign_decode_as_kafka_reads)
{
	zkj_reassign_t *d;
	int n = -1;
	/* no version, other key order, a duplicate partition, a duplicate replica, an empty list
	 * and log_dirs of another length: all the caller's to judge */
	ck_assert_int_eq(DEC(zkj_reassign_decode, "{\"partitions\":[{\"replicas\":[2,2],"
			     "\"partition\":1,\"topic\":\"x\",\"log_dirs\":[\"any\"]},{\"topic\":\"x\","
			     "\"partition\":1,\"replicas\":[]}]}", &n, &d), 0);
	ck_assert_int_eq(n, 2);
	ck_assert_str_eq(d[0].topic, "x");
	ck_assert_int_eq(d[0].partition, 1);
	ck_assert_int_eq(d[0].nreplicas, 2);
	ck_assert_int_eq(d[0].nlog_dirs, 1);
	ck_assert_int_eq(d[1].nreplicas, 0);
	ck_assert_int_eq(d[1].nlog_dirs, -1);
	zkj_reassign_free(n, d);
	/* no list at all: empty (the tool says the list cannot be empty) */
	ck_assert_int_eq(DEC(zkj_reassign_decode, "{\"version\":1}", &n, &d), 0);
	ck_assert_int_eq(n, 0);
	zkj_reassign_free(n, d);
}
END_TEST

START_TEST(reassign_malformed)
{
	static const char *bad[] = {
		"", "null", "[]", "{", "{\"version\":2,\"partitions\":[]}",
		"{\"version\":\"1\",\"partitions\":[]}", "{\"partitions\":{}}",
		"{\"partitions\":[1]}", "{\"partitions\":[{\"topic\":\"t\",\"partition\":0}]}",
		"{\"partitions\":[{\"partition\":0,\"replicas\":[1]}]}",
		"{\"partitions\":[{\"topic\":1,\"partition\":0,\"replicas\":[1]}]}",
		"{\"partitions\":[{\"topic\":\"t\",\"partition\":-1,\"replicas\":[1]}]}",
		"{\"partitions\":[{\"topic\":\"t\",\"partition\":\"0\",\"replicas\":[1]}]}",
		"{\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":1}]}",
		"{\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[\"1\"]}]}",
		"{\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[4294967296]}]}",
		"{\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[1],"
		"\"log_dirs\":\"any\"}]}",
		"{\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[1,2],"
		"\"log_dirs\":[\"any\",2]}]}",
		/* a good entry, then a bad one: the first is released, not leaked (ASan) */
		"{\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[1],"
		"\"log_dirs\":[\"any\"]},{\"topic\":\"t\",\"partition\":1,\"replicas\":[1],"
		"\"log_dirs\":[null]}]}",
	};
	zkj_reassign_t *d;
	int n;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(DEC(zkj_reassign_decode, bad[i], &n, &d) == -1, "%s", bad[i]);
	ck_assert_int_eq(zkj_reassign_decode(NULL, 0, &n, &d), -1);
}
END_TEST

START_TEST(topics_to_move)
{
	static const char *bad[] = {
		"", "[]", "{\"version\":2}", "{\"topics\":{}}", "{\"topics\":[\"t\"]}",
		"{\"topics\":[{\"name\":\"t\"}]}", "{\"topics\":[{\"topic\":\"t\"},{\"topic\":5}]}",
	};
	char **t;
	int n = -1;
	ck_assert_int_eq(DEC(zkj_topics_to_move_decode, "{\"topics\":[{\"topic\":\"foo\"},"
			     "{\"topic\":\"foo1\"}],\"version\":1}", &n, &t), 0);
	ck_assert_int_eq(n, 2);
	ck_assert_str_eq(t[0], "foo");
	ck_assert_str_eq(t[1], "foo1");
	zkj_strings_free(n, t);
	ck_assert_int_eq(DEC(zkj_topics_to_move_decode, "{}", &n, &t), 0);
	ck_assert_int_eq(n, 0);
	zkj_strings_free(n, t);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(DEC(zkj_topics_to_move_decode, bad[i], &n, &t) == -1, "%s", bad[i]);
}
END_TEST

START_TEST(malformed_inputs)
{
	static const char *topics[] = {
		"", "null", "[]", "{", "{\"version\":3}", "{\"partitions\":[]}",
		"{\"partitions\":{\"1\":[1]}}",             /* 0 missing */
		"{\"partitions\":{\"0\":[1],\"2\":[1]}}",   /* gap */
		"{\"partitions\":{\"00\":[1]}}", "{\"partitions\":{\"-1\":[1]}}",
		"{\"partitions\":{\"0\":[\"1\"]}}", "{\"partitions\":{\"0\":[]}}",
		"{\"partitions\":{\"0\":[1]},\"topic_id\":\"short\"}",
		"{\"partitions\":{\"0\":[1]},\"adding_replicas\":[]}",
		"{\"partitions\":{\"0\":[4294967296]}}",
	};
	zkj_topic_t t;
	zkj_state_t s;
	zkj_broker_t b;
	int32_t id;
	char cid[64], **k, **v;
	int n;
	for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++)
		ck_assert_msg(DEC(zkj_topic_decode, topics[i], &t) == -1, "%s", topics[i]);
	ck_assert_int_eq(zkj_topic_decode(NULL, 0, &t), -1);
	ck_assert_int_eq(DEC(zkj_state_decode, "{\"leader\":1}", &s), -1);
	ck_assert_int_eq(DEC(zkj_state_decode, "{\"controller_epoch\":1,\"leader\":\"1\","
			     "\"leader_epoch\":0,\"isr\":[1]}", &s), -1);
	ck_assert_int_eq(DEC(zkj_state_decode, "garbage", &s), -1);
	ck_assert_int_eq(DEC(zkj_controller_decode, "{\"version\":1}", &id), -1);
	ck_assert_int_eq(DEC(zkj_controller_decode, "2", &id), -1);
	ck_assert_int_eq(DEC(zkj_cluster_id_decode, "{\"version\":\"1\"}", cid, 64), -1);
	ck_assert_int_eq(DEC(zkj_cluster_id_decode, "{\"id\":5}", cid, 64), -1);
	ck_assert_int_eq(DEC(zkj_config_decode, "{\"version\":1}", &n, &k, &v), -1);
	ck_assert_int_eq(DEC(zkj_config_decode, "{\"config\":{\"a\":1}}", &n, &k, &v), -1);
	ck_assert_int_eq(DEC(zkj_broker_decode, "{\"endpoints\":[\"nohostport\"]}", &b), -1);
	ck_assert_int_eq(DEC(zkj_broker_decode, "{\"endpoints\":[\"P://h:99999\"]}", &b), -1);
	ck_assert_int_eq(DEC(zkj_broker_decode, "{\"host\":5}", &b), -1);
	ck_assert_int_eq(DEC(zkj_broker_decode, "[1]", &b), -1);
	ck_assert_int_eq(DEC(zkj_broker_decode, "{\"host\":\"h\",\"timestamp\":\"x\"}", &b), -1);
}
END_TEST

START_TEST(topic_names)
{
	char longname[251];
	ck_assert(keel_topic_name_valid("a"));
	ck_assert(keel_topic_name_valid("my-topic_1.x"));
	ck_assert(keel_topic_name_valid("..."));
	ck_assert(!keel_topic_name_valid(""));
	ck_assert(!keel_topic_name_valid(NULL));
	ck_assert(!keel_topic_name_valid("."));
	ck_assert(!keel_topic_name_valid(".."));
	ck_assert(!keel_topic_name_valid("a/b"));
	ck_assert(!keel_topic_name_valid("a b"));
	ck_assert(!keel_topic_name_valid("caf\xc3\xa9"));
	memset(longname, 'x', 250);
	longname[250] = '\0';
	ck_assert(!keel_topic_name_valid(longname));
	longname[249] = '\0';
	ck_assert(keel_topic_name_valid(longname));
}
END_TEST

START_TEST(uuid_format)
{
	char a[23], b[23];
	for (int i = 0; i < 200; i++) {
		zkj_random_uuid(a);
		ck_assert_int_eq((int)strlen(a), 22);
		ck_assert_int_eq((int)strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					     "0123456789-_"), 22);
		ck_assert(a[0] != '-');
	}
	zkj_random_uuid(b);
	ck_assert_str_ne(a, b);
}
END_TEST

Suite *suite_zkjson(void)
{
	Suite *s = suite_create("zkjson");
	TCase *tc = tcase_create("codecs");
	tcase_add_test(tc, broker_encode_exact);
	tcase_add_test(tc, broker_round_trip_rack);
	tcase_add_test(tc, broker_decode_kafka_samples);
	tcase_add_test(tc, topic_encode_exact);
	tcase_add_test(tc, topic_decode_versions);
	tcase_add_test(tc, topic_reassignment_maps);
	tcase_add_test(tc, state_round_trip);
	tcase_add_test(tc, controller_and_cluster_id);
	tcase_add_test(tc, config_round_trip);
	tcase_add_test(tc, isr_change_round_trip);
	tcase_add_test(tc, isr_change_malformed);
	tcase_add_test(tc, preferred_election_round_trip);
	tcase_add_test(tc, reassign_round_trip);
	tcase_add_test(tc, reassign_decode_as_kafka_reads);
	tcase_add_test(tc, reassign_malformed);
	tcase_add_test(tc, topics_to_move);
	tcase_add_test(tc, malformed_inputs);
	tcase_add_test(tc, topic_names);
	tcase_add_test(tc, uuid_format);
	suite_add_tcase(s, tc);
	return s;
}
