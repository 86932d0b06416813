/* tools/admin_perf.c: keel-admin's perf tests, `producer-perf` and `consumer-perf`
 * (keel-producer-perf-test.sh, keel-consumer-perf-test.sh), with the flags and output of Kafka's
 * kafka-producer-perf-test.sh and kafka-consumer-perf-test.sh. Their librdkafka clients are set
 * up by the helpers the console producer and consumer use (admin_client.c). */
#include "admin.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "keel.h"

/* ======================= producer-perf (keel-producer-perf-test.sh) ======================= */

static const char g_pperf_usage[] =
	"Usage: keel-producer-perf-test.sh --topic TOPIC --num-records N --record-size BYTES\n"
	"                                  --throughput RPS (--producer-props K=V... |\n"
	"                                  --producer.config FILE | --bootstrap-server HOST:PORT)\n"
	"Produce N records as fast as allowed and report throughput and latency.\n"
	"  --topic TOPIC               topic to produce to\n"
	"  --num-records N             number of records\n"
	"  --record-size BYTES         size of each record's value\n"
	"  --throughput RPS            records per second at most; -1 for no limit\n"
	"  --producer-props K=V ...    producer properties, e.g. bootstrap.servers=HOST:PORT acks=1\n"
	"  --producer.config FILE      producer properties file\n"
	"  --bootstrap-server HOST:PORT  shorthand for --producer-props bootstrap.servers=...\n"
	"  --help                      print this help\n";

enum { PP_TOPIC = 1, PP_NUM, PP_SIZE, PP_THROUGHPUT, PP_PROPS, PP_CONFIG, PP_BOOTSTRAP, PP_HELP };

static const admin_opt_t g_pperf_opts[] = {
	{"topic", ADMIN_ARG_ONE, PP_TOPIC},
	{"num-records", ADMIN_ARG_ONE, PP_NUM},
	{"record-size", ADMIN_ARG_ONE, PP_SIZE},
	{"throughput", ADMIN_ARG_ONE, PP_THROUGHPUT},
	{"producer-props", ADMIN_ARG_MULTI, PP_PROPS},
	{"producer.config", ADMIN_ARG_ONE, PP_CONFIG},
	{"bootstrap-server", ADMIN_ARG_ONE, PP_BOOTSTRAP},
	{"help", ADMIN_ARG_NONE, PP_HELP},
	{NULL, 0, 0},
};

#define PERF_MAX_SAMPLES 500000
#define PERF_REPORT_MS 5000

/* Kafka's ProducerPerformance.Stats: totals, a 5-second window, sampled latencies. */
typedef struct {
	int64_t start_us;
	int64_t count, bytes, failed;
	int64_t total_lat_us, max_lat_us;
	int64_t win_start_us, win_count, win_bytes, win_lat_us, win_max_us;
	int64_t sampling;        /* keep every sampling-th latency */
	int64_t *samples;        /* in ms, like Kafka */
	int64_t nsamples;
	int64_t iteration;       /* records acknowledged so far, for sampling */
} perf_stats_t;

typedef struct {
	const char *topic, *bootstrap;
	int64_t num, size, throughput;
	admin_kv_t props;
	bool help;
} pperf_opts_t;

static void perf_window_report(perf_stats_t *s, int64_t now_us)
{
	double secs = (double)(now_us - s->win_start_us) / 1e6;
	double rps = s->win_count / secs, mbps = s->win_bytes / secs / (1024.0 * 1024.0);

	printf("%" PRId64 " records sent, %.1f records/sec (%.2f MB/sec), %.1f ms avg latency, "
	       "%.1f ms max latency.\n",
	       s->win_count, rps, mbps, s->win_count ? s->win_lat_us / 1000.0 / s->win_count : 0.0,
	       s->win_max_us / 1000.0);
	fflush(stdout);
	s->win_start_us = now_us;
	s->win_count = s->win_bytes = s->win_lat_us = s->win_max_us = 0;
}

static void pperf_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	perf_stats_t *s = opaque;
	int64_t now = admin_mono_us();
	int64_t lat = now - (int64_t)(intptr_t)m->_private;

	if (m->err && s->failed++ < 5)
		fprintf(stderr, "ERROR Error when sending message to topic %s: %s\n",
			rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
	s->count++;
	s->bytes += (int64_t)m->len;
	s->total_lat_us += lat;
	s->max_lat_us = lat > s->max_lat_us ? lat : s->max_lat_us;
	s->win_count++;
	s->win_bytes += (int64_t)m->len;
	s->win_lat_us += lat;
	s->win_max_us = lat > s->win_max_us ? lat : s->win_max_us;
	if (s->iteration++ % s->sampling == 0 && s->nsamples < PERF_MAX_SAMPLES)
		s->samples[s->nsamples++] = lat / 1000;
	if (now - s->win_start_us >= PERF_REPORT_MS * 1000)
		perf_window_report(s, now);
}

static int64_t percentile(const perf_stats_t *s, double p)
{
	if (s->nsamples == 0)
		return 0;
	int64_t i = (int64_t)(p * (double)s->nsamples);
	return s->samples[i < s->nsamples ? i : s->nsamples - 1];
}

static void perf_final_report(perf_stats_t *s)
{
	double secs = (double)(admin_mono_us() - s->start_us) / 1e6;
	double rps = s->count / secs, mbps = s->bytes / secs / (1024.0 * 1024.0);

	keel_qsort(s->samples, (size_t)s->nsamples, sizeof(int64_t), admin_cmp_i64);
	printf("%" PRId64 " records sent, %f records/sec (%.2f MB/sec), %.2f ms avg latency, %.2f ms max "
	       "latency, %" PRId64 " ms 50th, %" PRId64 " ms 95th, %" PRId64 " ms 99th, %" PRId64
	       " ms 99.9th.\n",
	       s->count, rps, mbps, s->count ? s->total_lat_us / 1000.0 / s->count : 0.0,
	       s->max_lat_us / 1000.0, percentile(s, 0.5), percentile(s, 0.95), percentile(s, 0.99),
	       percentile(s, 0.999));
}

static int pperf_parse(pperf_opts_t *o, int argc, char **argv)
{
	const admin_cmd_t *c = &admin_cmd_producer_perf;
	admin_parser_t p;
	const char *val;
	int id;

	admin_parser_init(&p, c, argc, argv);
	while ((id = admin_getopt(&p, g_pperf_opts, &val)) > 0) {
		int bad = 0;
		switch (id) {
		case PP_TOPIC: o->topic = val; break;
		case PP_BOOTSTRAP: o->bootstrap = val; break;
		case PP_HELP: o->help = true; return 0;
		case PP_NUM: bad = admin_parse_int(val, 0, INT64_MAX, &o->num); break;
		case PP_SIZE: bad = admin_parse_int(val, 0, INT32_MAX, &o->size); break;
		case PP_THROUGHPUT: bad = admin_parse_int(val, INT64_MIN, INT64_MAX, &o->throughput); break;
		case PP_PROPS: bad = admin_kv_add(&o->props, val); break;
		case PP_CONFIG:
			if (admin_kv_load_file(&o->props, val) < 0)
				return admin_error(c, "cannot read %s: %s", val, strerror(errno));
			break;
		}
		if (bad)
			return admin_usage_error(c, "invalid value '%s'", val);
	}
	if (id == ADMIN_OPT_ERROR)
		return 1;
	if (!o->topic)
		return admin_usage_error(c, "--topic is required");
	if (o->num < 0)
		return admin_usage_error(c, "--num-records is required");
	if (o->size < 0)
		return admin_usage_error(c, "--record-size is required");
	if (o->throughput == INT64_MIN)
		return admin_usage_error(c, "--throughput is required");
	if (!admin_has_bootstrap(o->bootstrap, &o->props))
		return admin_usage_error(c, "--producer-props bootstrap.servers=HOST:PORT (or "
					    "--producer.config or --bootstrap-server) is required");
	return 0;
}

/* Sleep (serving delivery reports) while ahead of --throughput. */
static void pperf_throttle(rd_kafka_t *rk, int64_t sent, int64_t throughput, int64_t start_us)
{
	if (throughput <= 0)
		return;
	int64_t due_us = start_us + sent * 1000000 / throughput;
	for (int64_t ahead_us; (ahead_us = due_us - admin_mono_us()) > 0 && !admin_stop;) {
		if (ahead_us >= 1000)
			rd_kafka_poll(rk, (int)(ahead_us / 1000));
		else
			usleep((useconds_t)ahead_us);
	}
}

static int pperf_send(rd_kafka_t *rk, const pperf_opts_t *o, const char *payload, perf_stats_t *s)
{
	for (int64_t i = 0; i < o->num && !admin_stop; i++) {
		rd_kafka_resp_err_t err;
		do {
			err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(o->topic),
						RD_KAFKA_V_VALUE((void *)payload, (size_t)o->size),
						RD_KAFKA_V_OPAQUE((void *)(intptr_t)admin_mono_us()),
						RD_KAFKA_V_END);
			if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
				rd_kafka_poll(rk, 1);
		} while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && !admin_stop);
		if (err && err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			fprintf(stderr, "ERROR Error when sending message to topic %s: %s\n", o->topic,
				rd_kafka_err2str(err));
			return 1;
		}
		rd_kafka_poll(rk, 0);
		pperf_throttle(rk, i + 1, o->throughput, s->start_us);
	}
	admin_produce_drain(rk);
	return 0;
}

static int pperf_run(int argc, char **argv)
{
	pperf_opts_t o = {.num = -1, .size = -1, .throughput = INT64_MIN};
	perf_stats_t s = {0};
	int rc = 1;

	if (pperf_parse(&o, argc, argv) != 0)
		goto out;
	if (o.help) {
		rc = admin_help(&admin_cmd_producer_perf);
		goto out;
	}
	rd_kafka_conf_t *conf = admin_rk_conf(&admin_cmd_producer_perf, o.bootstrap, &o.props);
	if (!conf)
		goto out;
	rd_kafka_conf_set_opaque(conf, &s);
	rd_kafka_conf_set_dr_msg_cb(conf, pperf_dr_cb);
	admin_install_signals();
	rd_kafka_t *rk = admin_rk_new(&admin_cmd_producer_perf, RD_KAFKA_PRODUCER, conf);
	if (!rk)
		goto out;
	char *payload = malloc((size_t)o.size + 1);
	for (int64_t i = 0; i < o.size; i++)
		payload[i] = (char)('A' + random() % 26);
	s.sampling = o.num > PERF_MAX_SAMPLES ? o.num / PERF_MAX_SAMPLES : 1;
	s.samples = calloc(PERF_MAX_SAMPLES, sizeof(int64_t));
	s.start_us = s.win_start_us = admin_mono_us();
	rc = pperf_send(rk, &o, payload, &s);
	perf_final_report(&s);
	rd_kafka_destroy(rk);
	free(payload);
	free(s.samples);
	if (s.failed || s.count < o.num)
		rc = 1;
out:
	admin_kv_free(&o.props);
	return rc;
}

const admin_cmd_t admin_cmd_producer_perf = {
	.name = "producer-perf",
	.script = "keel-producer-perf-test.sh",
	.usage = g_pperf_usage,
	.run = pperf_run,
};

/* ======================= consumer-perf (keel-consumer-perf-test.sh) ======================= */

static const char g_cperf_usage[] =
	"Usage: keel-consumer-perf-test.sh --bootstrap-server HOST:PORT --topic TOPIC --messages N\n"
	"                                  [OPTIONS]\n"
	"Consume N records from all partitions of a topic and report the throughput.\n"
	"  --bootstrap-server HOST:PORT  brokers to connect to (also --broker-list)\n"
	"  --topic TOPIC               topic to consume\n"
	"  --messages N                number of records to consume\n"
	"  --timeout MS                give up after MS milliseconds without a record (10000)\n"
	"  --from-latest               start at the end instead of the beginning\n"
	"  --fetch-size BYTES          bytes fetched per partition per request (1048576)\n"
	"  --consumer.config FILE      consumer properties file\n"
	"  --hide-header               do not print the CSV header\n"
	"  --help                      print this help\n";

enum {
	CP_BOOTSTRAP = 1, CP_TOPIC, CP_MESSAGES, CP_TIMEOUT, CP_FROM_LATEST, CP_FETCH_SIZE, CP_CONFIG,
	CP_HIDE_HEADER, CP_HELP,
};

static const admin_opt_t g_cperf_opts[] = {
	{"bootstrap-server", ADMIN_ARG_ONE, CP_BOOTSTRAP},
	{"broker-list", ADMIN_ARG_ONE, CP_BOOTSTRAP},
	{"topic", ADMIN_ARG_ONE, CP_TOPIC},
	{"messages", ADMIN_ARG_ONE, CP_MESSAGES},
	{"timeout", ADMIN_ARG_ONE, CP_TIMEOUT},
	{"from-latest", ADMIN_ARG_NONE, CP_FROM_LATEST},
	{"fetch-size", ADMIN_ARG_ONE, CP_FETCH_SIZE},
	{"consumer.config", ADMIN_ARG_ONE, CP_CONFIG},
	{"hide-header", ADMIN_ARG_NONE, CP_HIDE_HEADER},
	{"help", ADMIN_ARG_NONE, CP_HELP},
	{NULL, 0, 0},
};

typedef struct {
	const char *bootstrap, *topic;
	int64_t messages, timeout_ms;
	bool from_latest, hide_header, help;
	admin_kv_t client;
} cperf_opts_t;

static int cperf_parse(cperf_opts_t *o, int argc, char **argv)
{
	const admin_cmd_t *c = &admin_cmd_consumer_perf;
	admin_parser_t p;
	const char *val;
	int id;

	admin_parser_init(&p, c, argc, argv);
	while ((id = admin_getopt(&p, g_cperf_opts, &val)) > 0) {
		int bad = 0;
		switch (id) {
		case CP_BOOTSTRAP: o->bootstrap = val; break;
		case CP_TOPIC: o->topic = val; break;
		case CP_MESSAGES: bad = admin_parse_int(val, 1, INT64_MAX, &o->messages); break;
		case CP_TIMEOUT: bad = admin_parse_int(val, 1, INT64_MAX, &o->timeout_ms); break;
		case CP_FROM_LATEST: o->from_latest = true; break;
		case CP_HIDE_HEADER: o->hide_header = true; break;
		case CP_FETCH_SIZE: admin_kv_put(&o->client, "max.partition.fetch.bytes", val); break;
		case CP_HELP: o->help = true; return 0;
		case CP_CONFIG:
			if (admin_kv_load_file(&o->client, val) < 0)
				return admin_error(c, "cannot read %s: %s", val, strerror(errno));
			break;
		}
		if (bad)
			return admin_usage_error(c, "invalid value '%s'", val);
	}
	if (id == ADMIN_OPT_ERROR)
		return 1;
	if (!admin_has_bootstrap(o->bootstrap, &o->client))
		return admin_usage_error(c, "--bootstrap-server is required");
	if (!o->topic)
		return admin_usage_error(c, "--topic is required");
	if (o->messages <= 0)
		return admin_usage_error(c, "--messages is required");
	return 0;
}

/* Kafka's date format for the perf tools: yyyy-MM-dd HH:mm:ss:SSS (local time). */
static void fmt_ms(int64_t ms, char *buf, size_t len)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	char tmp[32];

	localtime_r(&secs, &tm);
	strftime(tmp, sizeof(tmp), "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(buf, len, "%s:%03d", tmp, (int)(ms % 1000));
}

static void cperf_report(bool header, int64_t start_ms, int64_t end_ms, int64_t bytes, int64_t n)
{
	char s[64], e[64];
	double secs = (double)(end_ms - start_ms) / 1000.0;
	double mb = (double)bytes / (1024.0 * 1024.0);

	if (secs <= 0)
		secs = 0.001;
	fmt_ms(start_ms, s, sizeof(s));
	fmt_ms(end_ms, e, sizeof(e));
	if (header)
		printf("start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, "
		       "nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec\n");
	printf("%s, %s, %.4f, %.4f, %" PRId64 ", %.4f, 0, %" PRId64 ", %.4f, %.4f\n", s, e, mb, mb / secs,
	       n, n / secs, end_ms - start_ms, mb / secs, n / secs);
}

static int cperf_run(int argc, char **argv)
{
	cperf_opts_t o = {.timeout_ms = 10000};
	int64_t n = 0, bytes = 0;
	int rc = 1;

	if (cperf_parse(&o, argc, argv) != 0)
		goto out;
	if (o.help) {
		rc = admin_help(&admin_cmd_consumer_perf);
		goto out;
	}
	admin_install_signals();
	rd_kafka_t *rk = admin_consume_client(&admin_cmd_consumer_perf, o.bootstrap, &o.client, false, false);
	if (!rk)
		goto out;
	int64_t start_ms = keel_now_ms(), last = keel_mono_ms(), end_ms = start_ms;
	rc = admin_consume_assign(rk, o.topic, -1, o.from_latest ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING,
				  o.timeout_ms);
	/* drain the consumer queue in batches: per-message polling costs the client more than
	 * the broker spends serving the data */
	rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);
	rd_kafka_message_t *msgs[4096];
	while (rc == 0 && n < o.messages && !admin_stop) {
		ssize_t cnt = rd_kafka_consume_batch_queue(q, 100, msgs, KEEL_ARRAY_LEN(msgs));
		if (cnt <= 0) {
			if (keel_mono_ms() - last >= o.timeout_ms) {
				fprintf(stderr, "WARNING: Exiting before consuming the expected number of "
						"messages: timeout (%" PRId64 " ms) exceeded. You can use the "
						"--timeout option to increase the timeout.\n", o.timeout_ms);
				break;
			}
			continue;
		}
		for (ssize_t i = 0; i < cnt; i++) {
			rd_kafka_message_t *m = msgs[i];
			if (!m->err && n < o.messages) {
				n++;
				bytes += (int64_t)(m->len + m->key_len);
			} else if (m->err && admin_consume_fatal(m->err)) {
				fprintf(stderr, "ERROR %s\n", rd_kafka_message_errstr(m));
				rc = 1;
			}
			rd_kafka_message_destroy(m);
		}
		last = keel_mono_ms();
		end_ms = keel_now_ms();
	}
	rd_kafka_queue_destroy(q);
	cperf_report(!o.hide_header, start_ms, end_ms, bytes, n);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
out:
	admin_kv_free(&o.client);
	return rc;
}

const admin_cmd_t admin_cmd_consumer_perf = {
	.name = "consumer-perf",
	.script = "keel-consumer-perf-test.sh",
	.usage = g_cperf_usage,
	.run = cperf_run,
};
