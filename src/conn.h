/* src/conn.h: client connections: framing with size checks, in-order request processing,
 * output queues of memory buffers and file ranges (writev + sendfile). */
#ifndef KEEL_CONN_H
#define KEEL_CONN_H

#include "api.h"
#include "broker.h"

typedef struct keel_outbuf {
	struct keel_outbuf *next;
	uint8_t *mem;     /* owned, or NULL for a file item */
	size_t len, off;
	int fd;           /* file item: owned dup */
	off_t pos;
} keel_outbuf_t;

/* A response that must leave after the earlier ones of its connection. Produce requests are
 * pipelined: while an acks=all produce waits for replication, the connection goes on appending
 * the produces behind it, and their responses wait here to go out in request order (Kafka
 * takes one request at a time per connection). Any other request waits until this queue is
 * empty. */
typedef struct keel_deferred {
	struct keel_deferred *next;
	keel_request_t req;       /* copy of the header fields (client_id not kept) */
	keel_resp_t resp;         /* the response, once finished */
	bool finished;
	void *state;              /* the handler's, until finished */
	void (*cancel)(struct keel_deferred *d); /* frees state if the connection dies first */
} keel_deferred_t;

#define KEEL_DEFER_MAX 64     /* deferred responses per connection before it stops reading */

struct keel_conn {
	keel_conn_t *next, *prev;
	keel_conn_t *dirty_next;
	bool in_dirty;
	keel_broker_t *broker;
	uint64_t id;
	int fd;
	char peer[64];
	char peer_host[64];          /* "/<address>": Kafka's client host (group members) */
	const char *listener;        /* the name of the listener it came in on (the config's) */
	int64_t last_active_ms;      /* keel_mono_ms() of the last read or write (idle expiry) */
	uint8_t *rbuf;            /* NULL while idle */
	size_t rlen, rcap, rstart;
	keel_request_t req;       /* the request in progress */
	bool busy;                /* a request is parked */
	keel_deferred_t *defer_head, *defer_tail;
	int ndefer;
	bool defer_wait;          /* the next request waits for the deferred responses */
	bool reprocess;           /* take buffered requests again before sleeping */
	bool resume_pending;      /* the parked request finished: resume before sleeping */
	bool input_waiting;       /* input arrived while blocked: EPOLLIN off until unblocked */
	bool flushing;            /* in conn_flush, which sets the events at its end */
	bool closing;             /* close once output drains */
	bool dead;                /* closed; freed after the callback returns */
	keel_outbuf_t *out_head, *out_tail;
	size_t out_bytes;
	uint32_t events;
	keel_cmd_t *pending_cmd;  /* coordination command in flight for this connection */
};

void keel_conn_accept(keel_loop_t *loop, int fd, uint32_t events, void *arg);
/* Queue bytes (ownership of mem moves) or a file range (fd is owned). */
void keel_conn_queue_mem(keel_conn_t *c, uint8_t *mem, size_t len);
void keel_conn_queue_file(keel_conn_t *c, int fd, off_t pos, size_t len);
/* Whether output may be written at once: the connection is open and has nothing queued. */
bool keel_conn_idle_output(const keel_conn_t *c);
/* Write at once (only when keel_conn_idle_output): the bytes the socket took, 0 on EAGAIN or
 * an error, which the caller leaves to the queue (it meets the error again and closes).
 * more: a file range follows, and the bytes wait to leave in the same segments (MSG_MORE). */
size_t keel_conn_write_now(keel_conn_t *c, const void *buf, size_t len, bool more);
size_t keel_conn_sendfile_now(keel_conn_t *c, int fd, off_t pos, size_t len);
/* Flush queued output of all dirty connections (before the loop sleeps). */
void keel_conns_flush(keel_loop_t *loop, void *arg);
void keel_conn_close(keel_conn_t *c, const char *why);
/* Continue with the next buffered request after a parked one finished. */
void keel_conn_resume(keel_conn_t *c);
void keel_conns_init(keel_broker_t *b);
void keel_conns_close_all(keel_broker_t *b);
/* Watch the listening sockets paused for max.connections or a lack of file descriptors
 * again. */
void keel_conns_resume_accept(keel_broker_t *b);
/* Close connections idle (nothing read or written, no request in progress, no output
 * waiting) for more than connections.max.idle.ms, as Kafka's processors do. */
void keel_conns_close_idle(keel_broker_t *b, int64_t now_mono_ms);
/* A new unfinished deferred response behind the connection's others, or NULL without memory. */
keel_deferred_t *keel_conn_defer(keel_conn_t *c, const keel_request_t *req);
/* d's response is built in d->resp: it goes out, after the ones before it, before the loop
 * sleeps. */
void keel_deferred_finish(keel_deferred_t *d);
/* Put c on the list handled before the loop sleeps (output, resumption). */
void keel_conn_mark_dirty(keel_conn_t *c);

#endif
