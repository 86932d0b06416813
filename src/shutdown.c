/* src/shutdown.c: controlled shutdown, broker side (Kafka's KafkaServer.controlledShutdown):
 * stop following, send ControlledShutdown v2 to the controller until it reports no remaining
 * leaderships or controlled.shutdown.max.retries runs out, then stop the loop. The request is
 * blocking I/O on a short-lived thread so the loop keeps serving (it may be the controller). */
#include "shutdown.h"
#include "batch.h"
#include "codec.h"
#include "fetcher.h"
#include "logger.h"

#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

typedef struct {
	keel_mq_t *mq;
	char host[256];
	int32_t port;
	int32_t broker_id;
	int64_t broker_epoch;
	int timeout_ms;
} cs_args_t;

static bool io_all(int fd, void *buf, size_t n, bool writing)
{
	for (size_t off = 0; off < n;) {
		ssize_t r = writing ? write(fd, (char *)buf + off, n - off) : read(fd, (char *)buf + off, n - off);
		if (r <= 0)
			return false;
		off += (size_t)r;
	}
	return true;
}

static int cs_connect(const cs_args_t *a)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
	struct timeval tv = {a->timeout_ms / 1000, (a->timeout_ms % 1000) * 1000};
	char port[16];
	int fd;
	snprintf(port, sizeof(port), "%d", a->port);
	if (getaddrinfo(a->host, port, &hints, &ai) != 0)
		return -1;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	return fd;
}

/* One ControlledShutdown v2 round trip; fills r. */
static void cs_request(const cs_args_t *a, keel_shutdown_result_t *r)
{
	kw_t w;
	uint8_t hdr[4], *body = NULL;
	int fd = cs_connect(a);
	r->error = -1;
	r->remaining = -1;
	if (fd < 0)
		return;
	kw_init(&w, 64, false);
	kw_i32(&w, 0);
	kw_i16(&w, 7); /* ControlledShutdown */
	kw_i16(&w, 2);
	kw_i32(&w, 1);
	kw_str(&w, "keel-controlled-shutdown");
	kw_i32(&w, a->broker_id);
	kw_i64(&w, a->broker_epoch);
	kw_patch32(&w, 0, (int32_t)(w.len - 4));
	if (!w.oom && io_all(fd, w.buf, w.len, true) && io_all(fd, hdr, 4, false)) {
		int32_t size = kb_get32(hdr);
		if (size >= 10 && size < (1 << 24) && (body = malloc((size_t)size)) && io_all(fd, body, (size_t)size, false)) {
			kr_t rd;
			kr_init(&rd, body, (size_t)size, false);
			(void)kr_i32(&rd); /* correlation id */
			int16_t err = kr_i16(&rd);
			int32_t n = kr_array(&rd, 6);
			if (kr_ok(&rd)) {
				r->error = err;
				r->remaining = n;
			}
		}
	}
	free(body);
	kw_free(&w);
	close(fd);
}

static void *cs_thread(void *arg)
{
	cs_args_t *a = arg;
	keel_shutdown_result_t *r = malloc(sizeof(*r));
	if (r) {
		cs_request(a, r);
		keel_mq_post(a->mq, KEEL_MSG_SHUTDOWN_RESULT, r);
	}
	free(a);
	return NULL;
}

static void shutdown_stop(keel_broker_t *b, const char *why)
{
	klog_info("shutdown", "broker %d: %s; stopping", b->id, why);
	keel_loop_stop(b->loop);
}

/* Send one attempt to the current controller (from the view). */
static void shutdown_attempt(keel_broker_t *b)
{
	const keel_view_broker_t *cb = b->view ? keel_view_broker(b->view, b->view->controller_id) : NULL;
	const keel_view_broker_t *me = b->view ? keel_view_broker(b->view, b->id) : NULL;
	cs_args_t *a = calloc(1, sizeof(*a));
	b->shutdown_attempts++;
	if (!a || !cb || !cb->host) {
		free(a);
		keel_timer_arm(b->loop, &b->shutdown_timer, b->cfg->controlled_shutdown_retry_backoff_ms);
		return;
	}
	a->mq = b->mq;
	snprintf(a->host, sizeof(a->host), "%s", cb->host);
	a->port = cb->port;
	a->broker_id = b->id;
	a->broker_epoch = me ? me->epoch : -1;
	a->timeout_ms = b->cfg->controller_socket_timeout_ms;
	klog_info("shutdown", "broker %d: controlled shutdown, attempt %d, via controller %d", b->id,
		  b->shutdown_attempts, cb->id);
	if (pthread_create(&b->shutdown_thread, NULL, cs_thread, a) != 0) {
		free(a);
		shutdown_stop(b, "cannot start the controlled shutdown thread");
		return;
	}
	b->shutdown_thread_live = true;
}

void keel_shutdown_join(keel_broker_t *b)
{
	if (b->shutdown_thread_live) {
		pthread_join(b->shutdown_thread, NULL); /* bounded by controller.socket.timeout.ms */
		b->shutdown_thread_live = false;
	}
}

static void shutdown_retry(keel_loop_t *loop, keel_timer_t *t)
{
	keel_broker_t *b = (keel_broker_t *)((char *)t - offsetof(keel_broker_t, shutdown_timer));
	if (b->shutdown_attempts > b->cfg->controlled_shutdown_max_retries)
		shutdown_stop(b, "controlled shutdown did not complete within controlled.shutdown.max.retries");
	else
		shutdown_attempt(b);
}

void keel_shutdown_begin(keel_broker_t *b)
{
	if (b->controlled_shutdown || !b->cfg->controlled_shutdown_enable || !b->coord) {
		shutdown_stop(b, b->controlled_shutdown ? "second signal" : "shutting down");
		return;
	}
	b->controlled_shutdown = true;
	keel_fetcher_reconcile(b); /* stop following: we must not rejoin any ISR */
	b->shutdown_timer.fn = shutdown_retry;
	shutdown_attempt(b);
}

void keel_shutdown_on_result(keel_broker_t *b, keel_shutdown_result_t *r)
{
	keel_shutdown_join(b); /* it has posted: the join is immediate */
	if (r->error == 0 && r->remaining == 0) {
		free(r);
		shutdown_stop(b, "controlled shutdown succeeded");
		return;
	}
	klog_warn("shutdown", "broker %d: controlled shutdown attempt %d: %s%d (%d partition(s) still led)",
		  b->id, b->shutdown_attempts, r->error < 0 ? "controller unreachable " : "error ",
		  r->error, r->remaining);
	free(r);
	if (b->shutdown_attempts > b->cfg->controlled_shutdown_max_retries)
		shutdown_stop(b, "controlled shutdown failed; shutting down uncleanly");
	else
		keel_timer_arm(b->loop, &b->shutdown_timer, b->cfg->controlled_shutdown_retry_backoff_ms);
}
