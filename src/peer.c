/* src/peer.c: outbound broker-to-broker connections (see peer.h). Loop thread only. */
#include "peer.h"
#include "batch.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void peer_io(keel_loop_t *loop, int fd, uint32_t events, void *arg);
static void peer_fail(keel_peer_t *p, const char *why);

#define PEER_READ_FIRST 16384 /* the first read of a response: most arrive whole in one */

/* Watch the socket for ev, with an epoll_ctl only when that changes. */
static void peer_set_events(keel_peer_t *p, uint32_t ev)
{
	if (p->fd >= 0 && ev != p->events) {
		keel_loop_mod(p->loop, p->fd, ev);
		p->events = ev;
	}
}

static void peer_timeout(keel_loop_t *loop, keel_timer_t *t)
{
	keel_peer_t *p = (keel_peer_t *)t;
	char why[64];
	(void)loop;
	snprintf(why, sizeof(why), "no response within %d ms", p->timeout_ms);
	peer_fail(p, why);
}

void keel_peer_init(keel_peer_t *p, keel_loop_t *loop, const char *host, int32_t port,
		    size_t max_response, int32_t timeout_ms, const keel_peer_ops_t *ops, void *arg)
{
	memset(p, 0, sizeof(*p));
	keel_timer_init(&p->timer, peer_timeout);
	p->timeout_ms = timeout_ms;
	p->loop = loop;
	p->ops = ops;
	p->arg = arg;
	snprintf(p->host, sizeof(p->host), "%s", host ? host : "");
	p->port = port;
	p->max_response = max_response;
	p->fd = -1;
}

void keel_peer_close(keel_peer_t *p)
{
	keel_timer_cancel(p->loop, &p->timer);
	if (p->fd >= 0) {
		keel_loop_del(p->loop, p->fd);
		close(p->fd);
		p->fd = -1;
	}
	kw_free(&p->out);
	free(p->in);
	p->in = NULL;
	p->in_len = p->in_need = p->in_cap = 0;
	p->state = KEEL_PEER_IDLE;
}

static void peer_fail(keel_peer_t *p, const char *why)
{
	keel_peer_close(p);
	p->ops->on_failure(p, why);
}

void keel_peer_begin(keel_peer_t *p, int16_t api_key, int16_t version, int32_t correlation_id,
		     const char *client_id, bool flex)
{
	kw_free(&p->out);
	kw_init(&p->out, 1024, false);
	kw_i32(&p->out, 0); /* size, patched at send */
	kw_i16(&p->out, api_key);
	kw_i16(&p->out, version);
	kw_i32(&p->out, correlation_id);
	kw_str(&p->out, client_id); /* an int16-length string even in header v2 */
	p->out.flex = flex;
	kw_tags(&p->out);           /* header v2's tags (nothing when not flex) */
}

static int peer_connect(keel_peer_t *p)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
	char port[16];
	snprintf(port, sizeof(port), "%d", p->port);
	if (getaddrinfo(p->host, port, &hints, &ai) != 0) {
		errno = EHOSTUNREACH;
		return -1;
	}
	p->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd >= 0) /* small requests must not wait for the previous one's ACK (Nagle) */
		setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
	if (p->fd < 0 || (connect(p->fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS)) {
		int e = errno;
		freeaddrinfo(ai);
		if (p->fd >= 0)
			close(p->fd);
		p->fd = -1;
		errno = e;
		return -1;
	}
	freeaddrinfo(ai);
	if (keel_loop_add(p->loop, p->fd, EPOLLOUT, peer_io, p) < 0) {
		close(p->fd);
		p->fd = -1;
		return -1;
	}
	p->events = EPOLLOUT;
	p->state = KEEL_PEER_CONNECTING;
	return 0;
}

static void peer_write(keel_peer_t *p, bool direct);

/* The request is written at once when the socket takes it (nearly always): a request and its
 * response cost no epoll_ctl then, the socket staying watched for input. */
static void peer_start_write(keel_peer_t *p)
{
	p->out_off = 0;
	p->state = KEEL_PEER_SENDING;
	peer_write(p, true);
}

int keel_peer_send(keel_peer_t *p)
{
	if (p->state != KEEL_PEER_IDLE || p->out.oom)
		return -1;
	kw_patch32(&p->out, 0, (int32_t)(p->out.len - 4));
	if (p->fd < 0 && peer_connect(p) < 0)
		return -1;
	keel_timer_arm(p->loop, &p->timer, p->timeout_ms);
	if (p->state == KEEL_PEER_IDLE)
		peer_start_write(p); /* else written once connected */
	return 0;
}

void keel_peer_quiet(keel_peer_t *p)
{
	if (p->state == KEEL_PEER_IDLE)
		peer_set_events(p, 0);
}

/* Write what the socket takes of the request. direct: called from keel_peer_send, maybe inside
 * the owner's callback, so a socket error is left for the next event (EPOLLOUT reports it at
 * once) rather than calling the owner back from within itself. */
static void peer_write(keel_peer_t *p, bool direct)
{
	while (p->out_off < p->out.len) {
		ssize_t n = write(p->fd, p->out.buf + p->out_off, p->out.len - p->out_off);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR || direct) {
				peer_set_events(p, EPOLLOUT);
				return;
			}
			peer_fail(p, strerror(errno));
			return;
		}
		p->out_off += (size_t)n;
	}
	kw_free(&p->out);
	p->state = KEEL_PEER_WAITING;
	peer_set_events(p, EPOLLIN);
}

/* The whole response is in p->in. The socket stays watched for input while idle: the next
 * request usually follows from the callback. */
static void peer_on_frame(keel_peer_t *p)
{
	uint8_t *buf = p->in;
	size_t len = p->in_need - 4;
	p->in = NULL;
	p->in_len = p->in_need = p->in_cap = 0;
	p->state = KEEL_PEER_IDLE;
	keel_timer_cancel(p->loop, &p->timer);
	p->ops->on_response(p, buf + 4, len); /* may send the next request, or free the owner */
	free(buf);
}

/* Read the response: its size prefix and as much as came with it in the first read, then
 * exactly the rest. With one request in flight nothing may follow the response. */
static void peer_read(keel_peer_t *p)
{
	for (;;) {
		if (!p->in) {
			if (!(p->in = malloc(PEER_READ_FIRST))) {
				peer_fail(p, "out of memory");
				return;
			}
			p->in_cap = PEER_READ_FIRST;
		}
		size_t want = (p->in_need ? p->in_need : p->in_cap) - p->in_len;
		ssize_t n = read(p->fd, p->in + p->in_len, want);
		if (n == 0) {
			peer_fail(p, "the other broker closed the connection");
			return;
		}
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				peer_fail(p, strerror(errno));
			return;
		}
		p->in_len += (size_t)n;
		if (!p->in_need && p->in_len >= 4) {
			int32_t size = kb_get32(p->in);
			if (size < 4 || (size_t)size > p->max_response) {
				peer_fail(p, "bad response size");
				return;
			}
			p->in_need = 4 + (size_t)size;
			if (p->in_len > p->in_need) {
				peer_fail(p, "bytes after the response");
				return;
			}
			if (p->in_need > p->in_cap) {
				uint8_t *b = realloc(p->in, p->in_need);
				if (!b) {
					peer_fail(p, "out of memory");
					return;
				}
				p->in = b;
				p->in_cap = p->in_need;
			}
		}
		if (p->in_need && p->in_len == p->in_need) {
			peer_on_frame(p);
			return;
		}
		if ((size_t)n < want)
			return; /* drained: epoll (level-triggered) says when more comes */
	}
}

static void peer_io(keel_loop_t *loop, int fd, uint32_t events, void *arg)
{
	keel_peer_t *p = arg;
	(void)loop;
	(void)fd;
	if (p->state == KEEL_PEER_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);
		getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err) {
			peer_fail(p, strerror(err));
			return;
		}
		peer_start_write(p);
		return;
	}
	if ((events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLIN)) {
		peer_fail(p, "connection error");
		return;
	}
	if (p->state == KEEL_PEER_SENDING && (events & EPOLLOUT))
		peer_write(p, false);
	else if (p->state == KEEL_PEER_WAITING && (events & EPOLLIN))
		peer_read(p);
	else if (p->state == KEEL_PEER_IDLE && (events & EPOLLIN))
		peer_set_events(p, 0); /* unasked-for input or a close: noticed at the next send */
}
