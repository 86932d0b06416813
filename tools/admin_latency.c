/* tools/admin_latency.c: `keel-admin e2e-latency` (keel-e2e-latency.sh), Kafka's
 * EndToEndLatency tool: the time from handing a record to the producer until a consumer of the
 * same topic receives it. By default one record at a time, as Kafka's tool does; with --rate,
 * records go out on a fixed schedule while a second thread consumes, so the figure includes
 * the queueing a steady load meets. The consumer joins no group (librdkafka would look up, and
 * keel then create, the offsets topic; Kafka's tool never touches it): it reads every
 * partition through one queue from its high watermark. Both clients live in this process and share its monotonic
 * clock; the value carries the run's id, a sequence number and the send time. */
#include "admin.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "keel.h"

#define LAT_HDR 24            /* run id, sequence (-1: warm-up), send time */
#define LAT_WAIT_MS 30000     /* for the warm-up and for the last records to arrive */

static const char g_lat_usage[] =
	"Usage: keel-e2e-latency.sh --bootstrap-server HOST:PORT --topic TOPIC [OPTIONS]\n"
	"Measure produce-to-consume latency on an existing topic.\n"
	"  --bootstrap-server HOST:PORT  brokers to connect to (also --broker-list)\n"
	"  --topic TOPIC               topic to use (records go to every partition)\n"
	"  --num-records N             records to time (10000)\n"
	"  --record-size BYTES         value size, at least 24 (100)\n"
	"  --acks ACKS                 producer acks: all, -1, 1 or 0 (all)\n"
	"  --rate RPS                  send RPS records a second on a fixed schedule; without it,\n"
	"                              each record is sent once the previous one arrived\n"
	"  --command-config FILE       properties for both the producer and the consumer\n"
	"  --help                      print this help\n";

enum { EL_BOOTSTRAP = 1, EL_TOPIC, EL_NUM, EL_SIZE, EL_ACKS, EL_RATE, EL_CONFIG, EL_HELP };

static const admin_opt_t g_lat_opts[] = {
	{"bootstrap-server", ADMIN_ARG_ONE, EL_BOOTSTRAP},
	{"broker-list", ADMIN_ARG_ONE, EL_BOOTSTRAP},
	{"topic", ADMIN_ARG_ONE, EL_TOPIC},
	{"num-records", ADMIN_ARG_ONE, EL_NUM},
	{"record-size", ADMIN_ARG_ONE, EL_SIZE},
	{"acks", ADMIN_ARG_ONE, EL_ACKS},
	{"rate", ADMIN_ARG_ONE, EL_RATE},
	{"command-config", ADMIN_ARG_ONE, EL_CONFIG},
	{"help", ADMIN_ARG_NONE, EL_HELP},
	{NULL, 0, 0},
};

typedef struct {
	const char *bootstrap, *topic, *acks;
	int64_t num, size, rate;
	admin_kv_t props;
	bool help;
} lat_opts_t;

/* What the consumer thread shares with the sender. */
typedef struct {
	rd_kafka_t *consumer;
	rd_kafka_topic_t *rkt;
	rd_kafka_queue_t *queue;  /* every partition's messages */
	int32_t nstarted;         /* partitions started on the queue */
	uint64_t run;
	int64_t want;            /* timed records expected */
	int64_t *lat_ns;         /* one per timed record received, in arrival order */
	atomic_int_fast64_t got; /* timed records received */
	atomic_int warm;         /* warm-up records received */
	atomic_bool stop, failed;
	pthread_mutex_t mu;
	pthread_cond_t cv;       /* signalled on every record (the one-at-a-time mode waits on it) */
} lat_shared_t;

static uint64_t get_u64(const char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static int lat_parse(lat_opts_t *o, int argc, char **argv)
{
	const admin_cmd_t *c = &admin_cmd_e2e_latency;
	admin_parser_t p;
	const char *val;
	int id;

	admin_parser_init(&p, c, argc, argv);
	while ((id = admin_getopt(&p, g_lat_opts, &val)) > 0) {
		int bad = 0;
		switch (id) {
		case EL_BOOTSTRAP: o->bootstrap = val; break;
		case EL_TOPIC: o->topic = val; break;
		case EL_NUM: bad = admin_parse_int(val, 1, 100000000, &o->num); break;
		case EL_SIZE: bad = admin_parse_int(val, LAT_HDR, 100000000, &o->size); break;
		case EL_RATE: bad = admin_parse_int(val, 1, 10000000, &o->rate); break;
		case EL_ACKS:
			bad = strcmp(val, "all") && strcmp(val, "-1") && strcmp(val, "1") && strcmp(val, "0");
			o->acks = val;
			break;
		case EL_CONFIG:
			if (admin_kv_load_file(&o->props, val) < 0)
				return admin_error(c, "cannot read %s: %s", val, strerror(errno));
			break;
		case EL_HELP: o->help = true; return 0;
		}
		if (bad)
			return admin_usage_error(c, "invalid value '%s'", val);
	}
	if (id == ADMIN_OPT_ERROR)
		return 1;
	if (!o->bootstrap && !admin_kv_get(&o->props, "bootstrap.servers"))
		return admin_usage_error(c, "--bootstrap-server is required");
	if (!o->topic)
		return admin_usage_error(c, "--topic is required");
	return 0;
}

static void lat_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	(void)opaque;
	if (m->err) {
		int64_t *failed = m->_private;
		if (*failed == 0)
			fprintf(stderr, "keel-e2e-latency.sh: delivery failed: %s\n", rd_kafka_err2str(m->err));
		(*failed)++;
	}
}

/* A client with low-latency defaults (no linger, Nagle off, as the Java client always has it)
 * under the user's properties. */
static rd_kafka_t *lat_client(const lat_opts_t *o, rd_kafka_type_t type)
{
	const admin_cmd_t *c = &admin_cmd_e2e_latency;
	admin_kv_t defaults = {0};

	admin_kv_put(&defaults, "socket.nagle.disable", "true");
	if (type == RD_KAFKA_PRODUCER) {
		admin_kv_put(&defaults, "acks", o->acks);
		admin_kv_put(&defaults, "linger.ms", "0");
	} else {
		admin_kv_put(&defaults, "enable.auto.commit", "false");
		admin_kv_put(&defaults, "enable.auto.offset.store", "false");
		admin_kv_put(&defaults, "enable.partition.eof", "false");
	}
	rd_kafka_conf_t *conf = admin_rk_conf(c, o->bootstrap, &defaults);
	admin_kv_free(&defaults);
	for (int i = 0; conf && i < o->props.n; i++)
		if (admin_rk_set(c, conf, o->props.keys[i], o->props.values[i]) < 0) {
			rd_kafka_conf_destroy(conf);
			conf = NULL;
		}
	if (conf && type == RD_KAFKA_PRODUCER)
		rd_kafka_conf_set_dr_msg_cb(conf, lat_dr);
	return conf ? admin_rk_new(c, type, conf) : NULL;
}

static void lat_record(lat_shared_t *s, const rd_kafka_message_t *m, int64_t now)
{
	const char *v = m->payload;

	if (m->len < LAT_HDR || get_u64(v) != s->run)
		return;  /* someone else's record */
	if ((int64_t)get_u64(v + 8) < 0) {
		atomic_fetch_add(&s->warm, 1);
	} else {
		int64_t i = atomic_load(&s->got);
		if (i >= s->want)
			return;
		s->lat_ns[i] = now - (int64_t)get_u64(v + 16);
		atomic_store(&s->got, i + 1);
	}
	pthread_mutex_lock(&s->mu);
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static void *lat_consume(void *arg)
{
	lat_shared_t *s = arg;

	while (!atomic_load(&s->stop) && !admin_stop) {
		rd_kafka_message_t *m = rd_kafka_consume_queue(s->queue, 100);
		if (!m)
			continue;
		int64_t now = admin_mono_ns();
		if (!m->err) {
			lat_record(s, m, now);
		} else if (m->err == RD_KAFKA_RESP_ERR__FATAL || m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
			   m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED) { /* others are retried */
			fprintf(stderr, "keel-e2e-latency.sh: consumer: %s\n", rd_kafka_message_errstr(m));
			atomic_store(&s->failed, true);
			pthread_mutex_lock(&s->mu);
			pthread_cond_broadcast(&s->cv);
			pthread_mutex_unlock(&s->mu);
		}
		rd_kafka_message_destroy(m);
	}
	return NULL;
}

/* Wait until the consumer saw `n` records of the counter, a delivery or the consumer failed,
 * or the deadline passed; serves the producer's delivery reports meanwhile. */
static bool lat_wait(lat_shared_t *s, rd_kafka_t *p, const int64_t *failed, bool warm, int64_t n,
		     int64_t deadline_ns)
{
	pthread_mutex_lock(&s->mu);
	for (;;) {
		int64_t have = warm ? atomic_load(&s->warm) : atomic_load(&s->got);
		rd_kafka_poll(p, 0);
		if (have >= n || *failed || atomic_load(&s->failed) || admin_stop || admin_mono_ns() >= deadline_ns)
			break;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 10 * 1000000;  /* re-check the deadline every 10 ms */
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&s->cv, &s->mu, &ts);
	}
	int64_t have = warm ? atomic_load(&s->warm) : atomic_load(&s->got);
	pthread_mutex_unlock(&s->mu);
	return have >= n;
}

/* Send one record; waits out a full queue. 0, or -1 after printing the error. */
static int lat_send(rd_kafka_t *p, const char *topic, int32_t part, char *buf, size_t len, int64_t *failed)
{
	for (;;) {
		rd_kafka_resp_err_t err = rd_kafka_producev(
			p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(part), RD_KAFKA_V_VALUE(buf, len),
			RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(failed), RD_KAFKA_V_END);
		if (!err)
			break;
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			fprintf(stderr, "keel-e2e-latency.sh: produce: %s\n", rd_kafka_err2str(err));
			return -1;
		}
		rd_kafka_poll(p, 1);
	}
	rd_kafka_poll(p, 0);
	return 0;
}

static double pct_ms(const int64_t *sorted, int64_t n, double q)
{
	int64_t i = (int64_t)(q * (double)n);

	return (double)sorted[i < n ? i : n - 1] / 1e6;
}

static void lat_report(const lat_opts_t *o, int64_t *lat, int64_t n)
{
	int64_t sum = 0;

	keel_qsort(lat, (size_t)n, sizeof(*lat), admin_cmp_i64);
	for (int64_t i = 0; i < n; i++)
		sum += lat[i];
	if (o->rate)
		printf("%" PRId64 " records of %" PRId64 " bytes at %" PRId64 "/s, acks=%s\n", n, o->size, o->rate,
		       o->acks);
	else
		printf("%" PRId64 " records of %" PRId64 " bytes one at a time, acks=%s\n", n, o->size, o->acks);
	printf("Avg latency: %.4f ms\n", (double)sum / (double)n / 1e6);
	printf("Percentiles: 50th = %.3f, 99th = %.3f, 99.9th = %.3f, max = %.3f ms\n", pct_ms(lat, n, 0.5),
	       pct_ms(lat, n, 0.99), pct_ms(lat, n, 0.999), (double)lat[n - 1] / 1e6);
}

/* Start every partition at its high watermark on one queue, so nothing sent from now on is
 * missed. */
static int lat_start(lat_shared_t *s, const char *topic, int32_t nparts)
{
	rd_kafka_resp_err_t err = 0;

	if (!(s->queue = rd_kafka_queue_new(s->consumer)) || !(s->rkt = rd_kafka_topic_new(s->consumer, topic, NULL)))
		err = rd_kafka_last_error() ? rd_kafka_last_error() : RD_KAFKA_RESP_ERR__FAIL;
	for (int32_t p = 0; p < nparts && !err; p++) {
		int64_t lo, hi;
		err = rd_kafka_query_watermark_offsets(s->consumer, topic, p, &lo, &hi, LAT_WAIT_MS);
		if (!err && rd_kafka_consume_start_queue(s->rkt, p, hi, s->queue) < 0)
			err = rd_kafka_last_error();
		else if (!err)
			s->nstarted++;
	}
	if (err)
		fprintf(stderr, "keel-e2e-latency.sh: cannot start consuming %s: %s\n", topic, rd_kafka_err2str(err));
	return err ? -1 : 0;
}

/* Timed records: on the schedule of --rate, or each once the previous one arrived. */
static int lat_run_timed(const lat_opts_t *o, rd_kafka_t *p, lat_shared_t *s, char *buf, int64_t *failed)
{
	int64_t start = admin_mono_ns();

	for (int64_t i = 0; i < o->num && !admin_stop && !atomic_load(&s->failed); i++) {
		if (o->rate) {
			int64_t due = start + i * 1000000000 / o->rate;
			struct timespec ts = {.tv_sec = due / 1000000000, .tv_nsec = due % 1000000000};
			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR && !admin_stop)
				;
		} else if (!lat_wait(s, p, failed, false, i, admin_mono_ns() + (int64_t)LAT_WAIT_MS * 1000000)) {
			if (!*failed && !admin_stop)
				fprintf(stderr, "keel-e2e-latency.sh: record %" PRId64 " did not arrive within %d ms\n",
					i - 1, LAT_WAIT_MS);
			return -1;
		}
		uint64_t seq = (uint64_t)i, now = (uint64_t)admin_mono_ns();
		memcpy(buf + 8, &seq, 8);
		memcpy(buf + 16, &now, 8);
		if (lat_send(p, o->topic, RD_KAFKA_PARTITION_UA, buf, (size_t)o->size, failed) < 0)
			return -1;
	}
	rd_kafka_flush(p, LAT_WAIT_MS);
	if (*failed || admin_stop)
		return -1;
	if (!lat_wait(s, p, failed, false, s->want, admin_mono_ns() + (int64_t)LAT_WAIT_MS * 1000000)) {
		if (!*failed && !admin_stop)
			fprintf(stderr, "keel-e2e-latency.sh: %" PRId64 " of %" PRId64 " records arrived\n",
				(int64_t)atomic_load(&s->got), s->want);
		return -1;
	}
	return 0;
}

static int lat_run(int argc, char **argv)
{
	const admin_cmd_t *c = &admin_cmd_e2e_latency;
	lat_opts_t o = {.num = 10000, .size = 100, .acks = "all"};
	lat_shared_t s = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	rd_kafka_t *p = NULL;
	const struct rd_kafka_metadata *md = NULL;
	pthread_t th;
	bool started = false;
	int64_t failed = 0;
	char *buf = NULL;
	int rc = 1;

	if (lat_parse(&o, argc, argv) != 0)
		goto out;
	if (o.help) {
		rc = admin_help(c);
		goto out;
	}
	admin_install_signals();
	if (!(p = lat_client(&o, RD_KAFKA_PRODUCER)) || !(s.consumer = lat_client(&o, RD_KAFKA_CONSUMER)))
		goto out;
	rd_kafka_resp_err_t err = admin_metadata(p, LAT_WAIT_MS, &md);
	const rd_kafka_metadata_topic_t *t = err ? NULL : admin_md_topic(md, o.topic);
	if (!t || t->err || t->partition_cnt <= 0) {
		admin_error(c, "topic %s: %s", o.topic,
			    err ? rd_kafka_err2str(err) : t && t->err ? rd_kafka_err2str(t->err) : "does not exist");
		goto out;
	}
	int32_t nparts = t->partition_cnt;
	s.want = o.num;
	s.lat_ns = calloc((size_t)o.num, sizeof(*s.lat_ns));
	buf = malloc((size_t)o.size);
	if (!s.lat_ns || !buf || getrandom(&s.run, sizeof(s.run), 0) != sizeof(s.run)) {
		admin_error(c, "out of memory");
		goto out;
	}
	memset(buf, 'x', (size_t)o.size);
	memcpy(buf, &s.run, 8);
	if (lat_start(&s, o.topic, nparts) < 0 || pthread_create(&th, NULL, lat_consume, &s) != 0)
		goto out;
	started = true;
	/* warm-up: a record to every partition, so every connection and fetch session is up */
	uint64_t warm = UINT64_MAX;
	memcpy(buf + 8, &warm, 8);
	for (int32_t i = 0; i < nparts; i++)
		if (lat_send(p, o.topic, i, buf, (size_t)o.size, &failed) < 0)
			goto out;
	rd_kafka_flush(p, LAT_WAIT_MS);
	if (failed || !lat_wait(&s, p, &failed, true, nparts, admin_mono_ns() + (int64_t)LAT_WAIT_MS * 1000000)) {
		if (!failed && !admin_stop)
			admin_error(c, "the warm-up records did not come back within %d ms", LAT_WAIT_MS);
		goto out;
	}
	if (lat_run_timed(&o, p, &s, buf, &failed) == 0 && !admin_stop) {
		lat_report(&o, s.lat_ns, s.want);
		rc = 0;
	}
out:
	if (started) {
		atomic_store(&s.stop, true);
		pthread_join(th, NULL);
	}
	if (md)
		rd_kafka_metadata_destroy(md);
	for (int32_t i = 0; i < s.nstarted; i++)
		rd_kafka_consume_stop(s.rkt, i);
	if (s.rkt)
		rd_kafka_topic_destroy(s.rkt);
	if (s.queue)
		rd_kafka_queue_destroy(s.queue);
	if (s.consumer)
		rd_kafka_destroy(s.consumer);
	if (p)
		rd_kafka_destroy(p);
	free(s.lat_ns);
	free(buf);
	admin_kv_free(&o.props);
	return rc;
}

const admin_cmd_t admin_cmd_e2e_latency = {
	.name = "e2e-latency",
	.script = "keel-e2e-latency.sh",
	.usage = g_lat_usage,
	.run = lat_run,
};
