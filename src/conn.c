/* src/conn.c: connection life cycle, request framing (size checked before allocation),
 * requests taken in order (produce pipelined, see keel_deferred_t), and output with writev and
 * sendfile. */
#include "conn.h"
#include "batch.h"
#include "logger.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define RBUF_INITIAL 16384
#define OUT_PAUSE_BYTES (8u << 20) /* stop taking requests while this much output waits */

static void conn_io(keel_loop_t *loop, int fd, uint32_t events, void *arg);
static void conn_process(keel_conn_t *c);
int keel_dispatch(keel_conn_t *c, const uint8_t *frame, size_t len); /* api.c */


/* Waiting for a parked request or for deferred responses: take no more requests for now. */
static bool conn_blocked(const keel_conn_t *c)
{
	return c->busy || c->defer_wait;
}

/* The connection's epoll interest, changed only when it must be. Input is wanted unless the
 * connection is blocked (conn_blocked), closing, or has a long output queue. Blocked only, it
 * keeps EPOLLIN until input actually arrives (conn_io sets input_waiting): a client seldom sends
 * anything while its long poll is parked, so a fetch costs no epoll_ctl either way. Output is
 * watched only after a write stopped short: new output puts the connection on the dirty list,
 * which is flushed before the loop sleeps (conn_flush decides at its end). */
static void conn_set_events(keel_conn_t *c)
{
	uint32_t ev = 0;
	if (c->dead)
		return;
	if (!conn_blocked(c))
		c->input_waiting = false;
	if (!c->closing && c->out_bytes < OUT_PAUSE_BYTES &&
	    (!conn_blocked(c) || ((c->events & EPOLLIN) && !c->input_waiting)))
		ev |= EPOLLIN;
	if (c->out_head && !c->in_dirty && !c->flushing)
		ev |= EPOLLOUT;
	if (ev != c->events) {
		keel_loop_mod(c->broker->loop, c->fd, ev);
		c->events = ev;
	}
}

/* Has the address in host ("/<address>") its most connections already (max.connections.per.ip
 * and its overrides)? Then a new one is refused, as Kafka's acceptor does. */
static bool over_ip_limit(keel_broker_t *b, const char *host)
{
	int max = keel_config_max_connections(b->cfg, host + 1), n = 0;
	if (max == INT32_MAX)
		return false;
	for (keel_conn_t *c = b->conns; c && n < max; c = c->next)
		n += strcmp(c->peer_host, host) == 0;
	if (n < max)
		return false;
	klog_info("net", "refused a connection from %s: it has the maximum of %d connections already "
		  "(max.connections.per.ip)", host + 1, max);
	return true;
}

#define ACCEPT_RETRY_MS 100 /* after running out of file descriptors */

/* May listener i take another connection under max.connections? As Kafka's connection quotas:
 * the inter-broker listener, when there are others, is never held back. */
static bool slot_free(const keel_broker_t *b, int i)
{
	const keel_config_t *cfg = b->cfg;
	if (cfg->nlisteners > 1 && cfg->inter_broker_listener_name &&
	    strcmp(cfg->listeners[i].name, cfg->inter_broker_listener_name) == 0)
		return true;
	return b->nconns < cfg->max_connections;
}

/* Stop watching listening socket i: connections wait in its backlog (as Kafka's acceptor
 * waits for a connection slot) until keel_conns_resume_accept. */
static void pause_listener(keel_broker_t *b, int i)
{
	if (!b->listen_paused[i]) {
		b->listen_paused[i] = true;
		keel_loop_mod(b->loop, b->listen_fds[i], 0);
	}
}

void keel_conns_resume_accept(keel_broker_t *b)
{
	for (int i = 0; i < b->nlisten; i++)
		if (b->listen_paused[i]) {
			b->listen_paused[i] = false;
			keel_loop_mod(b->loop, b->listen_fds[i], EPOLLIN); /* accept re-checks */
		}
}

static void accept_retry(keel_loop_t *loop, keel_timer_t *t)
{
	(void)loop;
	keel_conns_resume_accept((keel_broker_t *)((char *)t - offsetof(keel_broker_t, accept_timer)));
}

/* accept failed for want of file descriptors or memory: accepting again at once would fail
 * the same way, in a busy loop. Pause every listener for a while (or until a connection
 * closes), with one warning. */
static void accept_starved(keel_broker_t *b, int err)
{
	klog_warn("net", "accept: %s; not accepting connections for %d ms", strerror(err), ACCEPT_RETRY_MS);
	for (int i = 0; i < b->nlisten; i++)
		pause_listener(b, i);
	keel_timer_arm(b->loop, &b->accept_timer, ACCEPT_RETRY_MS);
}

void keel_conns_init(keel_broker_t *b)
{
	keel_timer_init(&b->accept_timer, accept_retry);
}

void keel_conn_accept(keel_loop_t *loop, int lfd, uint32_t events, void *arg)
{
	keel_broker_t *b = arg;
	int li = 0;
	while (li < b->nlisten - 1 && b->listen_fds[li] != lfd)
		li++;
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		if (!slot_free(b, li)) {
			klog_info("net", "%d connections open (max.connections): connections to %s wait", b->nconns,
				  b->cfg->listeners[li].name);
			pause_listener(b, li);
			return;
		}
		int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				accept_starved(b, errno);
			else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				klog_warn("net", "accept: %s", strerror(errno));
			return;
		}
		keel_conn_t *c = calloc(1, sizeof(*c));
		int one = 1;
		if (!c) {
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
		if (b->cfg->socket_send_buffer_bytes >= 0)
			setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &b->cfg->socket_send_buffer_bytes, sizeof(int));
		c->broker = b;
		c->fd = fd;
		c->id = ++b->next_conn_id;
		c->listener = b->cfg->listeners[li].name;
		c->events = EPOLLIN;
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
			char h[INET6_ADDRSTRLEN];
			inet_ntop(AF_INET6, &s6->sin6_addr, h, sizeof(h));
			snprintf(c->peer, sizeof(c->peer), "[%s]:%u", h, ntohs(s6->sin6_port));
			snprintf(c->peer_host, sizeof(c->peer_host), "/%s", h);
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
			char h[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, &s4->sin_addr, h, sizeof(h));
			snprintf(c->peer, sizeof(c->peer), "%s:%u", h, ntohs(s4->sin_port));
			snprintf(c->peer_host, sizeof(c->peer_host), "/%s", h);
		}
		if (over_ip_limit(b, c->peer_host)) {
			close(fd);
			free(c);
			continue;
		}
		c->last_active_ms = keel_mono_ms();
		if (keel_loop_add(loop, fd, EPOLLIN, conn_io, c) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->next = b->conns;
		if (b->conns)
			b->conns->prev = c;
		b->conns = c;
		b->nconns++;
		klog_debug("net", "connection %llu from %s", (unsigned long long)c->id, c->peer);
	}
}

void keel_conn_mark_dirty(keel_conn_t *c)
{
	if (!c->in_dirty && !c->dead) {
		c->in_dirty = true;
		c->dirty_next = c->broker->dirty;
		c->broker->dirty = c;
	}
}

static void out_append(keel_conn_t *c, keel_outbuf_t *o)
{
	o->next = NULL;
	if (c->out_tail)
		c->out_tail->next = o;
	else
		c->out_head = o;
	c->out_tail = o;
	c->out_bytes += o->len;
	keel_conn_mark_dirty(c);
}

void keel_conn_queue_mem(keel_conn_t *c, uint8_t *mem, size_t len)
{
	keel_outbuf_t *o = calloc(1, sizeof(*o));
	if (!o || c->dead) {
		free(o);
		free(mem);
		return;
	}
	o->mem = mem;
	o->len = len;
	o->fd = -1;
	out_append(c, o);
}

void keel_conn_queue_file(keel_conn_t *c, int fd, off_t pos, size_t len)
{
	keel_outbuf_t *o = calloc(1, sizeof(*o));
	if (!o || c->dead) {
		free(o);
		close(fd);
		return;
	}
	o->fd = fd;
	o->pos = pos;
	o->len = len;
	out_append(c, o);
}

bool keel_conn_idle_output(const keel_conn_t *c)
{
	return !c->dead && !c->out_head;
}

size_t keel_conn_write_now(keel_conn_t *c, const void *buf, size_t len, bool more)
{
	ssize_t n = send(c->fd, buf, len, more ? MSG_MORE : 0);
	if (n <= 0)
		return 0;
	c->last_active_ms = keel_mono_ms();
	return (size_t)n;
}

size_t keel_conn_sendfile_now(keel_conn_t *c, int fd, off_t pos, size_t len)
{
	ssize_t n = sendfile(c->fd, fd, &pos, len);
	if (n <= 0)
		return 0;
	c->last_active_ms = keel_mono_ms();
	return (size_t)n;
}

static void out_pop(keel_conn_t *c)
{
	keel_outbuf_t *o = c->out_head;
	c->out_head = o->next;
	if (!c->out_head)
		c->out_tail = NULL;
	if (o->fd >= 0)
		close(o->fd);
	free(o->mem);
	free(o);
}

/* Write as much queued output as the socket takes. Returns -1 on a fatal socket error. */
static int conn_write(keel_conn_t *c)
{
	while (c->out_head) {
		keel_outbuf_t *o = c->out_head;
		ssize_t n;
		if (o->mem) {
			struct iovec iov[64];
			int cnt = 0;
			for (keel_outbuf_t *x = o; x && x->mem && cnt < 64; x = x->next, cnt++) {
				iov[cnt].iov_base = x->mem + x->off;
				iov[cnt].iov_len = x->len - x->off;
			}
			n = writev(c->fd, iov, cnt);
		} else {
			n = sendfile(c->fd, o->fd, &o->pos, o->len - o->off);
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			return -1;
		}
		if (n == 0 && !o->mem)
			return -1; /* the file shrank under us (truncated log) */
		c->out_bytes -= (size_t)n;
		while (n > 0) {
			o = c->out_head;
			size_t take = o->len - o->off < (size_t)n ? o->len - o->off : (size_t)n;
			o->off += take;
			n -= (ssize_t)take;
			if (o->off == o->len)
				out_pop(c);
		}
	}
	return 0;
}

/* Send the finished deferred responses at the head of the queue, in order. */
static void conn_send_deferred(keel_conn_t *c)
{
	while (!c->dead && c->defer_head && c->defer_head->finished) {
		keel_deferred_t *h = c->defer_head;
		c->defer_head = h->next;
		if (!c->defer_head)
			c->defer_tail = NULL;
		c->ndefer--;
		keel_resp_send(&h->req, &h->resp);
		free(h);
	}
	if (c->defer_wait && (!c->defer_head || c->ndefer < KEEL_DEFER_MAX)) {
		c->defer_wait = false; /* conn_process checks again what the next request may do */
		c->reprocess = true;
	}
}

static void conn_flush(keel_conn_t *c)
{
	bool was_paused;
	if (c->dead)
		return;
	c->flushing = true;
	if (c->resume_pending) {
		c->resume_pending = false;
		keel_conn_resume(c);
		if (c->dead)
			return;
	}
	conn_send_deferred(c);
	if (c->dead)
		return;
	was_paused = c->out_bytes >= OUT_PAUSE_BYTES;
	if (c->out_head)
		c->last_active_ms = keel_mono_ms(); /* writing is activity too */
	if (conn_write(c) < 0) {
		keel_conn_close(c, strerror(errno));
		return;
	}
	if (!c->out_head && c->closing) {
		keel_conn_close(c, "closing");
		return;
	}
	if ((was_paused && c->out_bytes < OUT_PAUSE_BYTES && !conn_blocked(c)) || c->reprocess) {
		c->reprocess = false;
		conn_process(c);
	}
	c->flushing = false;
	conn_set_events(c);
}

void keel_conns_flush(keel_loop_t *loop, void *arg)
{
	keel_broker_t *b = arg;
	while (b->dirty) {
		keel_conn_t *c = b->dirty;
		b->dirty = c->dirty_next;
		c->in_dirty = false;
		conn_flush(c);
	}
	/* free connections closed during this iteration */
	while (b->graveyard) {
		keel_conn_t *c = b->graveyard;
		b->graveyard = c->next;
		free(c);
	}
}

void keel_conn_close(keel_conn_t *c, const char *why)
{
	keel_broker_t *b = c->broker;
	if (c->dead)
		return;
	klog_debug("net", "closing connection %llu from %s: %s", (unsigned long long)c->id, c->peer, why);
	c->dead = true;
	if (c->busy && c->req.cancel)
		c->req.cancel(&c->req);
	while (c->defer_head) {
		keel_deferred_t *d = c->defer_head;
		c->defer_head = d->next;
		if (d->finished)
			keel_resp_free(&d->resp);
		else if (d->cancel)
			d->cancel(d);
		free(d);
	}
	c->defer_tail = NULL;
	c->ndefer = 0;
	if (c->pending_cmd)
		c->pending_cmd->ctx = NULL;
	keel_loop_del(b->loop, c->fd);
	close(c->fd);
	while (c->out_head)
		out_pop(c);
	free(c->rbuf);
	c->rbuf = NULL;
	/* unlink from the live list; the dirty list skips dead connections */
	if (c->prev)
		c->prev->next = c->next;
	else
		b->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->in_dirty) {
		keel_conn_t **pp = &b->dirty;
		while (*pp && *pp != c)
			pp = &(*pp)->dirty_next;
		if (*pp)
			*pp = c->dirty_next;
		c->in_dirty = false;
	}
	c->next = b->graveyard;
	b->graveyard = c;
	b->nconns--;
	keel_conns_resume_accept(b); /* a slot, and a file descriptor, are free again */
}

void keel_conns_close_idle(keel_broker_t *b, int64_t now)
{
	int64_t max = b->cfg->connections_max_idle_ms;
	if (max < 0)
		return;
	for (keel_conn_t *c = b->conns, *next; c; c = next) {
		next = c->next;
		if (now - c->last_active_ms > max && !c->busy && !c->defer_head && !c->out_head &&
		    !c->pending_cmd)
			keel_conn_close(c, "idle longer than connections.max.idle.ms");
	}
}

void keel_conns_close_all(keel_broker_t *b)
{
	while (b->conns)
		keel_conn_close(b->conns, "shutdown");
	keel_conns_flush(b->loop, b);
}

/* Make room for `need` bytes of the frame starting at rstart. */
static bool rbuf_reserve(keel_conn_t *c, size_t need)
{
	if (c->rstart > 0 && c->rstart + need > c->rcap) {
		memmove(c->rbuf, c->rbuf + c->rstart, c->rlen - c->rstart);
		c->rlen -= c->rstart;
		c->rstart = 0;
	}
	if (need > c->rcap) {
		uint8_t *nb = realloc(c->rbuf, need);
		if (!nb)
			return false;
		c->rbuf = nb;
		c->rcap = need;
	}
	return true;
}

/* A frame size outside [8, socket.request.max.bytes] closes the connection, before anything
 * is allocated for it. Returns false then. */
static bool frame_size_ok(keel_conn_t *c, int32_t size)
{
	int32_t max = c->broker->cfg->socket_request_max_bytes;
	if (size >= 8 && size <= max)
		return true;
	klog_warn("net", "connection from %s: request size %d outside [8, %d] (socket.request.max.bytes); closing",
		  c->peer, size, max);
	keel_conn_close(c, "bad frame size");
	return false;
}

/* Handle complete frames in the buffer, in order, until one parks or the buffer runs dry. */
static void conn_process(keel_conn_t *c)
{
	while (!conn_blocked(c) && !c->dead && !c->closing && c->out_bytes < OUT_PAUSE_BYTES) {
		size_t avail = c->rlen - c->rstart;
		if (avail < 4)
			break;
		int32_t size = kb_get32(c->rbuf + c->rstart);
		if (!frame_size_ok(c, size))
			return;
		if (avail < 4 + (size_t)size) {
			if (!rbuf_reserve(c, 4 + (size_t)size))
				keel_conn_close(c, "out of memory");
			return;
		}
		if (c->defer_head && (c->ndefer >= KEEL_DEFER_MAX ||
				      kb_get16(c->rbuf + c->rstart + 4) != KAPI_PRODUCE)) {
			c->defer_wait = true; /* after the deferred responses (keel_deferred_finish) */
			break;
		}
		int rc = keel_dispatch(c, c->rbuf + c->rstart + 4, (size_t)size);
		if (rc == KEEL_CLOSE) {
			keel_conn_close(c, "malformed request");
			return;
		}
		if (rc == KEEL_PARKED) {
			c->busy = true;
			break;
		}
		c->rstart += 4 + (size_t)size;
	}
	if (!conn_blocked(c) && !c->dead && c->rstart == c->rlen) {
		free(c->rbuf); /* idle connections hold no read buffer */
		c->rbuf = NULL;
		c->rcap = c->rlen = c->rstart = 0;
	}
	conn_set_events(c);
}

keel_deferred_t *keel_conn_defer(keel_conn_t *c, const keel_request_t *req)
{
	keel_deferred_t *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->req = *req;
	d->req.client_id = (keel_slice_t){0};
	d->req.body = (kr_t){0};
	if (c->defer_tail)
		c->defer_tail->next = d;
	else
		c->defer_head = d;
	c->defer_tail = d;
	c->ndefer++;
	return d;
}

void keel_deferred_finish(keel_deferred_t *d)
{
	d->finished = true;
	d->state = NULL;
	d->cancel = NULL;
	keel_conn_mark_dirty(d->req.conn); /* sent by conn_flush, never from inside a wake-up */
}

void keel_conn_resume(keel_conn_t *c)
{
	const uint8_t *frame = c->rbuf + c->rstart;
	c->busy = false;
	c->rstart += 4 + (size_t)kb_get32(frame);
	memset(&c->req, 0, sizeof(c->req));
	conn_process(c);
}

static void conn_read(keel_conn_t *c)
{
	/* (paused by a long output queue as in conn_set_events: conn_process stopped short of
	 * checking the next frame, so nothing may be reserved for it here) */
	for (int rounds = 0; rounds < 16 && !conn_blocked(c) && !c->dead && !c->closing &&
			     c->out_bytes < OUT_PAUSE_BYTES; rounds++) {
		if (!c->rbuf && !rbuf_reserve(c, RBUF_INITIAL)) {
			keel_conn_close(c, "out of memory");
			return;
		}
		if (c->rlen == c->rcap) {
			/* buffer full without a complete frame: the header said how much to reserve */
			size_t avail = c->rlen - c->rstart;
			if (avail >= 4 && !frame_size_ok(c, kb_get32(c->rbuf + c->rstart)))
				return;
			size_t want = avail >= 4 ? 4 + (size_t)(uint32_t)kb_get32(c->rbuf + c->rstart) : 4;
			if (want <= avail) {
				conn_process(c);
				continue;
			}
			if (!rbuf_reserve(c, want > c->rcap ? want : c->rcap * 2)) {
				keel_conn_close(c, "out of memory");
				return;
			}
		}
		ssize_t n = read(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen);
		if (n == 0) {
			keel_conn_close(c, "peer closed");
			return;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			keel_conn_close(c, strerror(errno));
			return;
		}
		c->rlen += (size_t)n;
		bool drained = c->rlen < c->rcap; /* a short read emptied the socket */
		conn_process(c);
		if (drained)
			break; /* (more input wakes the loop again: epoll is level-triggered) */
	}
}

static void conn_io(keel_loop_t *loop, int fd, uint32_t events, void *arg)
{
	keel_conn_t *c = arg;
	c->last_active_ms = keel_mono_ms();
	if (events & EPOLLOUT)
		conn_flush(c);
	if (!c->dead && (events & EPOLLIN)) {
		if (conn_blocked(c)) {
			c->input_waiting = true; /* read once the parked request is done */
			conn_set_events(c);
		} else {
			conn_read(c);
		}
	}
	if (!c->dead && (events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLIN))
		keel_conn_close(c, "socket error");
}
