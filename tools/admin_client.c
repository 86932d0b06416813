/* tools/admin_client.c: keel-admin's console clients, `produce` and `consume` (the console
 * producer and consumer), with the flags and output of Kafka's kafka-console-*.sh, and the
 * librdkafka set-up they share with the perf tests (admin_perf.c). */
#include "admin.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keel.h"
#include "logger.h"

#define MD_TIMEOUT_MS 10000

rd_kafka_t *admin_rk_new(const admin_cmd_t *cmd, rd_kafka_type_t type, rd_kafka_conf_t *conf)
{
	char errstr[512];
	rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));

	if (!rk) {
		rd_kafka_conf_destroy(conf);
		admin_error(cmd, "%s", errstr);
	}
	return rk;
}

bool admin_has_bootstrap(const char *bootstrap, const admin_kv_t *props)
{
	return bootstrap || admin_kv_get(props, "bootstrap.servers") ||
	       admin_kv_get(props, "metadata.broker.list");
}

/* ======================= produce (keel-console-producer.sh) ======================= */

static const char g_produce_usage[] =
	"Usage: keel-console-producer.sh --bootstrap-server HOST:PORT --topic TOPIC [OPTIONS]\n"
	"Read lines from standard input and send each as one record.\n"
	"  --bootstrap-server HOST:PORT  brokers to connect to (also --broker-list)\n"
	"  --topic TOPIC               topic to produce to\n"
	"  --property parse.key=true   split each line into key and value at key.separator\n"
	"  --property key.separator=S  key/value separator (default: tab)\n"
	"  --property ignore.error=true  with parse.key: send lines without a separator as values\n"
	"  --producer-property K=V     a librdkafka producer property (repeatable)\n"
	"  --producer.config FILE      producer properties file\n"
	"  --request-required-acks A   acks: -1 (all, default), 0 or 1\n"
	"  --compression-codec [C]     none, gzip (when C is omitted), snappy, lz4 or zstd\n"
	"  --sync                      wait for each record's acknowledgement before the next\n"
	"  --batch-size N              records per batch (default 200)\n"
	"  --timeout MS                linger.ms: how long a batch may wait (default 1000)\n"
	"  --message-send-max-retries N  retries (default 3)\n"
	"  --retry-backoff-ms MS       backoff between retries (default 100)\n"
	"  --request-timeout-ms MS     request timeout (default 1500)\n"
	"  --help                      print this help\n";

enum {
	P_BOOTSTRAP = 1, P_TOPIC, P_PROPERTY, P_PRODUCER_PROPERTY, P_PRODUCER_CONFIG, P_ACKS,
	P_COMPRESSION, P_SYNC, P_BATCH_SIZE, P_TIMEOUT, P_RETRIES, P_BACKOFF, P_REQ_TIMEOUT, P_HELP,
};

static const admin_opt_t g_produce_opts[] = {
	{"bootstrap-server", ADMIN_ARG_ONE, P_BOOTSTRAP},
	{"broker-list", ADMIN_ARG_ONE, P_BOOTSTRAP},
	{"topic", ADMIN_ARG_ONE, P_TOPIC},
	{"property", ADMIN_ARG_ONE, P_PROPERTY},
	{"producer-property", ADMIN_ARG_ONE, P_PRODUCER_PROPERTY},
	{"producer.config", ADMIN_ARG_ONE, P_PRODUCER_CONFIG},
	{"request-required-acks", ADMIN_ARG_ONE, P_ACKS},
	{"compression-codec", ADMIN_ARG_OPTIONAL, P_COMPRESSION},
	{"sync", ADMIN_ARG_NONE, P_SYNC},
	{"batch-size", ADMIN_ARG_ONE, P_BATCH_SIZE},
	{"timeout", ADMIN_ARG_ONE, P_TIMEOUT},
	{"message-send-max-retries", ADMIN_ARG_ONE, P_RETRIES},
	{"retry-backoff-ms", ADMIN_ARG_ONE, P_BACKOFF},
	{"request-timeout-ms", ADMIN_ARG_ONE, P_REQ_TIMEOUT},
	{"help", ADMIN_ARG_NONE, P_HELP},
	{NULL, 0, 0},
};

typedef struct {
	const char *bootstrap, *topic;
	admin_kv_t props;     /* --property: the line reader's */
	admin_kv_t client;    /* librdkafka conf, in the order given */
	bool sync;
	bool help;
} produce_opts_t;

/* Delivery bookkeeping shared with the delivery report callback. */
typedef struct {
	const char *topic;
	int64_t failed;
	int64_t delivered;
} produce_state_t;

static void produce_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	produce_state_t *st = opaque;

	if (!m->err) {
		st->delivered++;
		return;
	}
	st->failed++;
	fprintf(stderr, "ERROR Error when sending message to topic %s with key: ", st->topic);
	if (m->key)
		fprintf(stderr, "%zu bytes", m->key_len);
	else
		fprintf(stderr, "null");
	fprintf(stderr, ", value: %zu bytes with error: %s\n", m->len, rd_kafka_err2str(m->err));
}

/* Map a console-producer flag to the librdkafka property it sets. */
static const char *produce_flag_key(int id)
{
	switch (id) {
	case P_ACKS: return "acks";
	case P_BATCH_SIZE: return "batch.num.messages";
	case P_TIMEOUT: return "linger.ms";
	case P_RETRIES: return "message.send.max.retries";
	case P_BACKOFF: return "retry.backoff.ms";
	case P_REQ_TIMEOUT: return "request.timeout.ms";
	}
	return NULL;
}

static int produce_parse(produce_opts_t *o, int argc, char **argv)
{
	const admin_cmd_t *c = &admin_cmd_produce;
	admin_parser_t p;
	const char *val;
	int id;

	admin_parser_init(&p, c, argc, argv);
	while ((id = admin_getopt(&p, g_produce_opts, &val)) > 0) {
		switch (id) {
		case P_BOOTSTRAP: o->bootstrap = val; break;
		case P_TOPIC: o->topic = val; break;
		case P_SYNC: o->sync = true; break;
		case P_HELP: o->help = true; return 0;
		case P_PROPERTY:
		case P_PRODUCER_PROPERTY:
			if (admin_kv_add(id == P_PROPERTY ? &o->props : &o->client, val) < 0)
				return admin_usage_error(c, "'%s' is not of the form key=value", val);
			break;
		case P_PRODUCER_CONFIG:
			if (admin_kv_load_file(&o->client, val) < 0)
				return admin_error(c, "cannot read %s: %s", val, strerror(errno));
			break;
		case P_COMPRESSION:
			admin_kv_put(&o->client, "compression.codec", val ? val : "gzip");
			break;
		default:
			admin_kv_put(&o->client, produce_flag_key(id), val);
			break;
		}
	}
	if (id == ADMIN_OPT_ERROR)
		return 1;
	if (!admin_has_bootstrap(o->bootstrap, &o->client))
		return admin_usage_error(c, "--bootstrap-server is required");
	if (!o->topic)
		return admin_usage_error(c, "--topic is required");
	return 0;
}

static bool prop_true(const admin_kv_t *props, const char *key)
{
	const char *v = admin_kv_get(props, key);
	return v && strcasecmp(v, "true") == 0;
}

/* Produce one record, waiting while the local queue is full. Returns 0 or -1. */
static int produce_one(rd_kafka_t *rk, const char *topic, const char *key, size_t klen,
		       const char *val, size_t vlen)
{
	for (;;) {
		rd_kafka_resp_err_t err = rd_kafka_producev(
			rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			RD_KAFKA_V_KEY(key, klen), RD_KAFKA_V_VALUE((void *)val, vlen), RD_KAFKA_V_END);
		if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			rd_kafka_poll(rk, 100);
			continue;
		}
		if (err) {
			fprintf(stderr, "ERROR Error when sending message to topic %s: %s\n", topic,
				rd_kafka_err2str(err));
			return -1;
		}
		rd_kafka_poll(rk, 0);
		return 0;
	}
}

/* Wait until every queued record is delivered or failed (or a signal arrives). */
void admin_produce_drain(rd_kafka_t *rk)
{
	while (rd_kafka_outq_len(rk) > 0 && !admin_stop)
		rd_kafka_flush(rk, 100);
	if (rd_kafka_outq_len(rk) > 0) {
		rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_flush(rk, 1000);
	}
	rd_kafka_poll(rk, 0);
}

/* Read stdin line by line (Kafka's LineMessageReader) and produce. Returns 0 or 1. */
static int produce_lines(rd_kafka_t *rk, const produce_opts_t *o)
{
	bool parse_key = prop_true(&o->props, "parse.key");
	bool ignore_error = prop_true(&o->props, "ignore.error");
	const char *sep = admin_kv_get(&o->props, "key.separator");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int64_t lineno = 0;
	int rc = 0;

	if (!sep || !*sep)
		sep = "\t";
	while (!admin_stop && (len = getline(&line, &cap, stdin)) >= 0) {
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		const char *key = NULL, *val = line;
		size_t klen = 0, vlen = (size_t)len;
		char *at = parse_key ? strstr(line, sep) : NULL;
		if (at) {
			key = line;
			klen = (size_t)(at - line);
			val = at + strlen(sep);
			vlen = (size_t)len - klen - strlen(sep);
		} else if (parse_key && !ignore_error) {
			fprintf(stderr, "ERROR No key found on line %" PRId64 ": %s\n", lineno, line);
			rc = 1;
			break;
		}
		if (produce_one(rk, o->topic, key, klen, val, vlen) < 0) {
			rc = 1;
			break;
		}
		if (o->sync)
			admin_produce_drain(rk);
	}
	free(line);
	admin_produce_drain(rk);
	return rc;
}

static int produce_run(int argc, char **argv)
{
	produce_opts_t o = {0};
	produce_state_t st = {0};
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;
	int rc = 1;

	if (produce_parse(&o, argc, argv) != 0)
		goto out;
	if (o.help) {
		rc = admin_help(&admin_cmd_produce);
		goto out;
	}
	admin_kv_t defaults = {0};
	admin_kv_put(&defaults, "linger.ms", "1000");
	admin_kv_put(&defaults, "batch.num.messages", "200");
	conf = admin_rk_conf(&admin_cmd_produce, NULL, &defaults);
	admin_kv_free(&defaults);
	if (!conf || (o.bootstrap && admin_rk_set(&admin_cmd_produce, conf, "bootstrap.servers",
						  o.bootstrap) < 0))
		goto conf_fail;
	for (int i = 0; i < o.client.n; i++)
		if (admin_rk_set(&admin_cmd_produce, conf, o.client.keys[i], o.client.values[i]) < 0)
			goto conf_fail;
	st.topic = o.topic;
	rd_kafka_conf_set_opaque(conf, &st);
	rd_kafka_conf_set_dr_msg_cb(conf, produce_dr_cb);
	admin_install_signals();
	if (!(rk = admin_rk_new(&admin_cmd_produce, RD_KAFKA_PRODUCER, conf)))
		goto out;
	rc = produce_lines(rk, &o);
	rd_kafka_destroy(rk);
	if (st.failed)
		rc = 1;
	goto out;
conf_fail:
	if (conf)
		rd_kafka_conf_destroy(conf);
out:
	admin_kv_free(&o.props);
	admin_kv_free(&o.client);
	return rc;
}

const admin_cmd_t admin_cmd_produce = {
	.name = "produce",
	.script = "keel-console-producer.sh",
	.usage = g_produce_usage,
	.run = produce_run,
};

/* ======================= consume (keel-console-consumer.sh) ======================= */

static const char g_consume_usage[] =
	"Usage: keel-console-consumer.sh --bootstrap-server HOST:PORT --topic TOPIC [OPTIONS]\n"
	"Print the records of a topic to standard output, one per line.\n"
	"  --bootstrap-server HOST:PORT  brokers to connect to\n"
	"  --topic TOPIC               topic to consume (all partitions unless --partition)\n"
	"  --from-beginning            start at the earliest offset (default: the latest)\n"
	"  --partition P               consume only partition P\n"
	"  --offset O                  start offset in --partition: a number, earliest or latest\n"
	"  --max-messages N            exit after N records\n"
	"  --timeout-ms MS             exit after MS milliseconds without a record\n"
	"  --property print.key=true   also print keys (print.timestamp, print.offset,\n"
	"                              print.partition, print.headers, print.value likewise)\n"
	"  --property key.separator=S  field separator (default: tab); also line.separator,\n"
	"                              headers.separator, headers.key.separator, null.literal\n"
	"  --consumer-property K=V     a librdkafka consumer property (repeatable)\n"
	"  --consumer.config FILE      consumer properties file\n"
	"  --isolation-level L         read_uncommitted (default) or read_committed\n"
	"  --group G                   consume as a member of consumer group G (subscribe,\n"
	"                              commit offsets); --from-beginning applies when G has\n"
	"                              no committed offset\n"
	"  --help                      print this help\n";

enum {
	C_BOOTSTRAP = 1, C_TOPIC, C_FROM_BEGINNING, C_PARTITION, C_OFFSET, C_MAX, C_TIMEOUT,
	C_PROPERTY, C_CONSUMER_PROPERTY, C_CONSUMER_CONFIG, C_ISOLATION, C_GROUP, C_HELP,
};

static const admin_opt_t g_consume_opts[] = {
	{"bootstrap-server", ADMIN_ARG_ONE, C_BOOTSTRAP},
	{"topic", ADMIN_ARG_ONE, C_TOPIC},
	{"from-beginning", ADMIN_ARG_NONE, C_FROM_BEGINNING},
	{"partition", ADMIN_ARG_ONE, C_PARTITION},
	{"offset", ADMIN_ARG_ONE, C_OFFSET},
	{"max-messages", ADMIN_ARG_ONE, C_MAX},
	{"timeout-ms", ADMIN_ARG_ONE, C_TIMEOUT},
	{"property", ADMIN_ARG_ONE, C_PROPERTY},
	{"consumer-property", ADMIN_ARG_ONE, C_CONSUMER_PROPERTY},
	{"consumer.config", ADMIN_ARG_ONE, C_CONSUMER_CONFIG},
	{"isolation-level", ADMIN_ARG_ONE, C_ISOLATION},
	{"group", ADMIN_ARG_ONE, C_GROUP},
	{"help", ADMIN_ARG_NONE, C_HELP},
	{NULL, 0, 0},
};

typedef struct {
	const char *bootstrap, *topic, *offset_str;
	bool from_beginning, help;
	bool group;           /* a consumer group member (--group or group.id) */
	int64_t partition;    /* -1 = all */
	int64_t start;        /* RD_KAFKA_OFFSET_* or an offset */
	int64_t max_messages; /* -1 = unlimited */
	int64_t timeout_ms;   /* -1 = none */
	admin_kv_t props;     /* --property: the formatter's */
	admin_kv_t client;
} consume_opts_t;

/* Kafka's DefaultMessageFormatter settings. */
typedef struct {
	bool ts, partition, offset, headers, key, value;
	const char *sep, *line_sep, *hdr_sep, *hdr_key_sep, *null_literal;
} formatter_t;

#define GROUP_MISMATCH "The group ids provided in different places (directly using '--group', " \
	"via '--consumer-property', or via '--consumer.config') do not match."

static int consume_offset(consume_opts_t *o)
{
	const admin_cmd_t *c = &admin_cmd_consume;

	o->start = o->from_beginning ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
	if (!o->offset_str)
		return 0;
	if (o->partition < 0)
		return admin_usage_error(c, "The partition is required when offset is specified.");
	if (o->from_beginning)
		return admin_usage_error(c, "Options from-beginning and offset cannot be specified together.");
	if (strcasecmp(o->offset_str, "earliest") == 0)
		o->start = RD_KAFKA_OFFSET_BEGINNING;
	else if (strcasecmp(o->offset_str, "latest") == 0)
		o->start = RD_KAFKA_OFFSET_END;
	else if (admin_parse_int(o->offset_str, 0, INT64_MAX, &o->start) < 0)
		return admin_usage_error(c, "The provided offset value is incorrect. Valid values are "
					    "'earliest', 'latest', or a non-negative long.");
	return 0;
}

static int consume_num(const char *flag, const char *val, int64_t min, int64_t *out)
{
	if (admin_parse_int(val, min, INT64_MAX, out) < 0)
		return admin_usage_error(&admin_cmd_consume, "%s: '%s' is not a valid number", flag, val);
	return 0;
}

static int consume_parse(consume_opts_t *o, int argc, char **argv)
{
	const admin_cmd_t *c = &admin_cmd_consume;
	admin_parser_t p;
	const char *val;
	int id, rc = 0;

	admin_parser_init(&p, c, argc, argv);
	while (rc == 0 && (id = admin_getopt(&p, g_consume_opts, &val)) > 0) {
		switch (id) {
		case C_BOOTSTRAP: o->bootstrap = val; break;
		case C_TOPIC: o->topic = val; break;
		case C_FROM_BEGINNING: o->from_beginning = true; break;
		case C_PARTITION: rc = consume_num("--partition", val, 0, &o->partition); break;
		case C_OFFSET: o->offset_str = val; break;
		case C_MAX: rc = consume_num("--max-messages", val, 1, &o->max_messages); break;
		case C_TIMEOUT: rc = consume_num("--timeout-ms", val, 0, &o->timeout_ms); break;
		case C_ISOLATION: admin_kv_put(&o->client, "isolation.level", val); break;
		case C_GROUP:
			if (admin_kv_get(&o->client, "group.id") &&
			    strcmp(admin_kv_get(&o->client, "group.id"), val))
				return admin_usage_error(c, GROUP_MISMATCH);
			admin_kv_put(&o->client, "group.id", val);
			o->group = true;
			break;
		case C_HELP: o->help = true; return 0;
		case C_CONSUMER_CONFIG:
			if (admin_kv_load_file(&o->client, val) < 0)
				return admin_error(c, "cannot read %s: %s", val, strerror(errno));
			break;
		default:
			if (admin_kv_add(id == C_PROPERTY ? &o->props : &o->client, val) < 0)
				return admin_usage_error(c, "'%s' is not of the form key=value", val);
		}
	}
	if (rc != 0 || id == ADMIN_OPT_ERROR)
		return 1;
	if (!admin_has_bootstrap(o->bootstrap, &o->client))
		return admin_usage_error(c, "--bootstrap-server is required");
	if (!o->topic)
		return admin_usage_error(c, "--topic is required");
	if (admin_kv_get(&o->client, "group.id"))
		o->group = true; /* from --consumer-property or --consumer.config */
	if (o->group && o->offset_str)
		return admin_usage_error(c, "Options group and offset cannot be specified together.");
	return consume_offset(o);
}

static const char *prop_or(const admin_kv_t *props, const char *key, const char *dflt)
{
	const char *v = admin_kv_get(props, key);
	return v ? v : dflt;
}

static void formatter_init(formatter_t *f, const admin_kv_t *props)
{
	f->ts = prop_true(props, "print.timestamp");
	f->partition = prop_true(props, "print.partition");
	f->offset = prop_true(props, "print.offset");
	f->headers = prop_true(props, "print.headers");
	f->key = prop_true(props, "print.key");
	f->value = !admin_kv_get(props, "print.value") || prop_true(props, "print.value");
	f->sep = prop_or(props, "key.separator", "\t");
	f->line_sep = prop_or(props, "line.separator", "\n");
	f->hdr_sep = prop_or(props, "headers.separator", ",");
	f->hdr_key_sep = prop_or(props, "headers.key.separator", ":");
	f->null_literal = prop_or(props, "null.literal", "null");
}

static void put_bytes(const formatter_t *f, const void *p, size_t n)
{
	if (p)
		fwrite(p, 1, n, stdout);
	else
		fputs(f->null_literal, stdout);
}

static void print_headers(const formatter_t *f, const rd_kafka_message_t *m)
{
	rd_kafka_headers_t *hdrs = NULL;
	const char *name;
	const void *val;
	size_t size;

	if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR || !hdrs ||
	    rd_kafka_header_cnt(hdrs) == 0) {
		fputs("NO_HEADERS", stdout);
		return;
	}
	for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == 0; i++) {
		if (i)
			fputs(f->hdr_sep, stdout);
		fputs(name, stdout);
		fputs(f->hdr_key_sep, stdout);
		put_bytes(f, val, size);
	}
}

/* One record as Kafka's DefaultMessageFormatter writes it: the enabled fields in order
 * timestamp, partition, offset, headers, key, value, joined by key.separator. */
static void print_record(const formatter_t *f, const rd_kafka_message_t *m)
{
	rd_kafka_timestamp_type_t tstype;
	int64_t ts = rd_kafka_message_timestamp(m, &tstype);
	bool fields[5] = {f->ts, f->partition, f->offset, f->headers, f->key};
	int last = f->value ? 5 : -1;

	for (int i = 4; last < 0 && i >= 0; i--)
		if (fields[i])
			last = i;
	for (int i = 0; i < 6; i++) {
		if (i < 5 && !fields[i])
			continue;
		if (i == 5 && !f->value)
			break;
		switch (i) {
		case 0:
			if (tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE)
				fputs("NO_TIMESTAMP", stdout);
			else
				printf("%s:%" PRId64, tstype == RD_KAFKA_TIMESTAMP_CREATE_TIME ? "CreateTime"
											 : "LogAppendTime",
				       ts);
			break;
		case 1: printf("Partition:%" PRId32, m->partition); break;
		case 2: printf("Offset:%" PRId64, m->offset); break;
		case 3: print_headers(f, m); break;
		case 4: put_bytes(f, m->key, m->key_len); break;
		case 5: put_bytes(f, m->payload, m->len); break;
		}
		fputs(i == last ? f->line_sep : f->sep, stdout);
	}
	fflush(stdout);
}

/* Wait for the topic to appear in metadata (until timeout_ms if >= 0, or a signal); assign
 * all its partitions (or just --partition) at the start offset. Returns 0 or 1. */
/* Turn the logical start offsets (earliest, latest) of an assignment into real ones, with one
 * ListOffsets per leader (the logical offsets are also ListOffsets' timestamps). librdkafka
 * resolves a logical offset itself, but an assignment made before its partitions have their
 * leaders in the client finds "no current leader" and retries only after 500 ms; a real offset
 * starts fetching as soon as the leader is known. A partition not resolved keeps its logical
 * offset. */
static void resolve_start(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts)
{
	rd_kafka_topic_partition_list_t *q = rd_kafka_topic_partition_list_copy(parts);
	if (rd_kafka_offsets_for_times(rk, q, MD_TIMEOUT_MS) == RD_KAFKA_RESP_ERR_NO_ERROR)
		for (int i = 0; i < parts->cnt; i++) {
			rd_kafka_topic_partition_t *p = &parts->elems[i];
			const rd_kafka_topic_partition_t *r =
				rd_kafka_topic_partition_list_find(q, p->topic, p->partition);
			if (r && !r->err && r->offset >= 0)
				p->offset = r->offset;
		}
	rd_kafka_topic_partition_list_destroy(q);
}

int admin_consume_assign(rd_kafka_t *rk, const char *topic, int64_t partition, int64_t start,
			 int64_t timeout_ms)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(16);
	int64_t deadline = timeout_ms >= 0 ? keel_mono_ms() + timeout_ms : INT64_MAX;
	bool warned = false;

	if (partition >= 0) {
		rd_kafka_topic_partition_list_add(parts, topic, (int32_t)partition)->offset = start;
	} else {
		for (;;) {
			rd_kafka_resp_err_t err = admin_metadata(rk, MD_TIMEOUT_MS, &md);
			const rd_kafka_metadata_topic_t *t = err ? NULL : admin_md_topic(md, topic);
			if (t && !t->err && t->partition_cnt > 0) {
				for (int i = 0; i < t->partition_cnt; i++)
					rd_kafka_topic_partition_list_add(parts, topic, t->partitions[i].id)
						->offset = start;
				break;
			}
			if (!warned)
				klog_warn("consumer", "topic %s: %s; waiting for it", topic,
					  rd_kafka_err2str(err ? err : t ? t->err
								 : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART));
			warned = true;
			if (md)
				rd_kafka_metadata_destroy(md);
			md = NULL;
			if (admin_stop || keel_mono_ms() >= deadline)
				break;
			usleep(500 * 1000);
		}
	}
	if (md)
		rd_kafka_metadata_destroy(md);
	if (parts->cnt == 0 && !admin_stop)
		fprintf(stderr, "ERROR topic %s does not exist (waited %" PRId64 " ms)\n", topic, timeout_ms);
	if (parts->cnt && (start == RD_KAFKA_OFFSET_BEGINNING || start == RD_KAFKA_OFFSET_END))
		resolve_start(rk, parts);
	rd_kafka_resp_err_t err = parts->cnt ? rd_kafka_assign(rk, parts) : RD_KAFKA_RESP_ERR_NO_ERROR;
	int rc = parts->cnt == 0 || err ? 1 : 0;
	if (err)
		fprintf(stderr, "ERROR cannot assign the partitions of %s: %s\n", topic, rd_kafka_err2str(err));
	rd_kafka_topic_partition_list_destroy(parts);
	return rc;
}

/* A group member: subscribe; the group coordinator hands out the partitions. Returns 0 or 1. */
static int consume_subscribe(rd_kafka_t *rk, const char *topic)
{
	rd_kafka_topic_partition_list_t *t = rd_kafka_topic_partition_list_new(1);
	rd_kafka_resp_err_t err;
	rd_kafka_topic_partition_list_add(t, topic, RD_KAFKA_PARTITION_UA);
	err = rd_kafka_subscribe(rk, t);
	rd_kafka_topic_partition_list_destroy(t);
	if (err)
		fprintf(stderr, "ERROR cannot subscribe to %s: %s\n", topic, rd_kafka_err2str(err));
	return err ? 1 : 0;
}

bool admin_consume_fatal(rd_kafka_resp_err_t err)
{
	return err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION ||
	       err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC || err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
	       err == RD_KAFKA_RESP_ERR__FATAL;
}

/* Poll and print until --max-messages, --timeout-ms, a signal or a fatal error. Returns the
 * exit status; *count is the number of records printed. */
static int consume_loop(rd_kafka_t *rk, const consume_opts_t *o, const formatter_t *f, int64_t *count)
{
	int64_t last = keel_mono_ms();

	while (!admin_stop && (o->max_messages < 0 || *count < o->max_messages)) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		if (!m) {
			fflush(stdout); /* nothing more for now: whoever reads us sees what came */
			if (o->timeout_ms >= 0 && keel_mono_ms() - last >= o->timeout_ms)
				return 0;
			continue;
		}
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			rd_kafka_message_destroy(m);
			continue;
		}
		if (m->err) {
			bool fatal = admin_consume_fatal(m->err);
			fprintf(stderr, "%s %s\n", fatal ? "ERROR Error processing message, terminating "
							   "consumer process:" : "WARN",
				rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
			if (fatal)
				return 1;
			continue;
		}
		last = keel_mono_ms();
		print_record(f, m);
		rd_kafka_message_destroy(m);
		(*count)++;
	}
	return 0;
}

/* Without a group: a consumer for rd_kafka_assign that never commits (librdkafka refuses assign
 * without a group.id, so it gets a throwaway one, like Kafka's console-consumer-NNNNN). With a
 * group: a member that commits automatically, starting where the group left off, else at the
 * earliest (--from-beginning) or latest offset, as Kafka's console consumer does. */
rd_kafka_t *admin_consume_client(const admin_cmd_t *cmd, const char *bootstrap, const admin_kv_t *user,
				 bool group_member, bool from_beginning)
{
	admin_kv_t defaults = {0};
	char group[64];

	snprintf(group, sizeof(group), "keel-console-consumer-%d", (int)getpid());
	admin_kv_put(&defaults, "group.id", group);
	if (group_member) {
		admin_kv_put(&defaults, "auto.offset.reset", from_beginning ? "earliest" : "latest");
	} else {
		admin_kv_put(&defaults, "enable.auto.commit", "false");
		admin_kv_put(&defaults, "enable.auto.offset.store", "false");
	}
	admin_kv_put(&defaults, "enable.partition.eof", "false");
	rd_kafka_conf_t *conf = admin_rk_conf(cmd, bootstrap, &defaults);
	admin_kv_free(&defaults);
	for (int i = 0; conf && i < user->n; i++)
		if (admin_rk_set(cmd, conf, user->keys[i], user->values[i]) < 0) {
			rd_kafka_conf_destroy(conf);
			conf = NULL;
		}
	return conf ? admin_rk_new(cmd, RD_KAFKA_CONSUMER, conf) : NULL;
}

static int consume_run(int argc, char **argv)
{
	consume_opts_t o = {.partition = -1, .max_messages = -1, .timeout_ms = -1};
	formatter_t f;
	int64_t count = 0;
	int rc = 1;

	if (consume_parse(&o, argc, argv) != 0)
		goto out;
	if (o.help) {
		rc = admin_help(&admin_cmd_consume);
		goto out;
	}
	formatter_init(&f, &o.props);
	admin_install_signals();
	rd_kafka_t *rk = admin_consume_client(&admin_cmd_consume, o.bootstrap, &o.client, o.group,
					     o.from_beginning);
	if (!rk)
		goto out;
	rc = o.group && o.partition < 0 ? consume_subscribe(rk, o.topic)
					: admin_consume_assign(rk, o.topic, o.partition, o.start, o.timeout_ms);
	if (rc == 0)
		rc = consume_loop(rk, &o, &f, &count);
	else if (admin_stop)
		rc = 0;
	fprintf(stderr, "Processed a total of %" PRId64 " messages\n", count);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
out:
	admin_kv_free(&o.props);
	admin_kv_free(&o.client);
	return rc;
}

const admin_cmd_t admin_cmd_consume = {
	.name = "consume",
	.script = "keel-console-consumer.sh",
	.usage = g_consume_usage,
	.run = consume_run,
};
