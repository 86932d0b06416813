/* src/peer.h: an outbound Kafka connection from this broker to another one (replica fetchers,
 * the controller's request queues): non-blocking connect, one request in flight, the response
 * frame read whole. The owner decides what to send next and what to do after a failure.
 * Loop thread only. */
#ifndef KEEL_PEER_H
#define KEEL_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "loop.h"

typedef struct keel_peer keel_peer_t;

typedef struct {
	/* A whole response frame (without its size prefix) arrived; buf is the peer's until the
	 * callback returns. The peer is idle again, connected. */
	void (*on_response)(keel_peer_t *p, const uint8_t *buf, size_t len);
	/* Connecting, writing or reading failed, or the other side closed: the connection is
	 * closed and the request in flight is lost. */
	void (*on_failure)(keel_peer_t *p, const char *why);
} keel_peer_ops_t;

typedef enum { KEEL_PEER_IDLE, KEEL_PEER_CONNECTING, KEEL_PEER_SENDING, KEEL_PEER_WAITING } keel_peer_state_t;

struct keel_peer {
	keel_timer_t timer;       /* the request in flight's deadline */
	keel_loop_t *loop;
	const keel_peer_ops_t *ops;
	void *arg;                /* the owner's */
	char host[256];
	int32_t port;
	size_t max_response;      /* larger response frames are a failure */
	int32_t timeout_ms;       /* from send to the whole response: longer is a failure */
	int fd;                   /* -1 when not connected */
	keel_peer_state_t state;
	kw_t out;                 /* the request frame being written */
	size_t out_off;
	uint32_t events;          /* what epoll watches on fd */
	uint8_t *in;              /* the response frame being read, size prefix included */
	size_t in_len, in_need, in_cap; /* read, the whole frame (0: not known yet), allocated */
};

/* timeout_ms bounds each request from keel_peer_send (connecting included) to its whole
 * response; past it the connection is closed and on_failure called. */
void keel_peer_init(keel_peer_t *p, keel_loop_t *loop, const char *host, int32_t port,
		    size_t max_response, int32_t timeout_ms, const keel_peer_ops_t *ops, void *arg);

/* Start a request frame in p->out: the size placeholder and a request header (v1, or v2 with
 * an empty tag section when flex). The caller appends the body, then calls keel_peer_send. */
void keel_peer_begin(keel_peer_t *p, int16_t api_key, int16_t version, int32_t correlation_id,
		     const char *client_id, bool flex);

/* Send the frame built in p->out (connecting first if needed). Only while idle. Returns 0, or
 * -1 if the connection could not even be started (on_failure is not called then). */
int keel_peer_send(keel_peer_t *p);

/* Close the connection (if any) and drop any request in flight or being built. */
void keel_peer_close(keel_peer_t *p);

/* Stop watching the socket while idle between requests (a closed socket is noticed at the
 * next send). */
void keel_peer_quiet(keel_peer_t *p);

#endif
