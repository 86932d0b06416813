/* src/ctlchan.c: the controller's per-broker request queues (see ctlchan.h). */
#include "ctlchan.h"
#include "logger.h"
#include "peer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CTLCHAN_BACKOFF_MS 100          /* Kafka's RequestSendThread backs off 100 ms */
#define CTLCHAN_MAX_RESPONSE (64 << 20)

struct keel_ctlchan {
	keel_timer_t timer;       /* first member: backoff */
	keel_ctlchan_t *next;
	keel_broker_t *b;
	int32_t broker;
	int64_t epoch;
	keel_peer_t peer;
	keel_ctl_send_t **q;      /* FIFO: q[0] is in flight or next */
	int nq, capq;
	int32_t corr;
	bool backoff;
};

static void chan_kick(keel_ctlchan_t *ch);

static void chan_free(keel_ctlchan_t *ch)
{
	keel_timer_cancel(ch->b->loop, &ch->timer);
	keel_peer_close(&ch->peer);
	for (int i = 0; i < ch->nq; i++)
		keel_ctl_send_free(ch->q[i]);
	free(ch->q);
	free(ch);
}

static void chan_on_failure(keel_peer_t *peer, const char *why)
{
	keel_ctlchan_t *ch = peer->arg;
	klog_info("ctlchan", "controller %d -> broker %d (%s:%d): %s; retrying in %d ms", ch->b->id,
		  ch->broker, peer->host, peer->port, why, CTLCHAN_BACKOFF_MS);
	ch->backoff = true;
	keel_timer_arm(ch->b->loop, &ch->timer, CTLCHAN_BACKOFF_MS);
}

static void chan_timer(keel_loop_t *loop, keel_timer_t *t)
{
	keel_ctlchan_t *ch = (keel_ctlchan_t *)t;
	(void)loop;
	ch->backoff = false;
	chan_kick(ch);
}

/* Hand the answer to the coordination thread and move on to the next request. */
static void chan_on_response(keel_peer_t *peer, const uint8_t *buf, size_t len)
{
	keel_ctlchan_t *ch = peer->arg;
	keel_ctl_send_t *s = ch->q[0];
	keel_cmd_t *cmd;
	kr_t r;
	kr_init(&r, buf, len, s->flex);
	if (kr_i32(&r) != ch->corr) {
		keel_peer_close(peer);
		chan_on_failure(peer, "response out of order");
		return;
	}
	kr_tags(&r); /* response header v1 when flexible */
	if (!kr_ok(&r)) {
		keel_peer_close(peer);
		chan_on_failure(peer, "malformed response header");
		return;
	}
	cmd = calloc(1, sizeof(*cmd));
	if (cmd && ch->b->coord) {
		size_t n = kr_remaining(&r);
		cmd->type = KEEL_CMD_CTL_RESPONSE;
		cmd->ctl_send_id = s->id;
		cmd->ctl_broker = ch->broker;
		cmd->ctl_controller_epoch = s->controller_epoch;
		cmd->ctl_api_key = s->api_key;
		cmd->ctl_len = n;
		cmd->ctl_body = malloc(n ? n : 1);
		if (cmd->ctl_body) {
			memcpy(cmd->ctl_body, r.p, n);
			keel_coord_submit(ch->b->coord, cmd);
		} else {
			keel_cmd_free(cmd);
		}
	} else {
		free(cmd);
	}
	keel_ctl_send_free(s);
	memmove(ch->q, ch->q + 1, (size_t)(ch->nq - 1) * sizeof(*ch->q));
	ch->nq--;
	chan_kick(ch);
}

static const keel_peer_ops_t chan_ops = { chan_on_response, chan_on_failure };

/* Send the head of the queue if the connection is free. */
static void chan_kick(keel_ctlchan_t *ch)
{
	char client[64];
	keel_ctl_send_t *s;
	if (ch->backoff || ch->peer.state != KEEL_PEER_IDLE || ch->nq == 0) {
		if (ch->nq == 0)
			keel_peer_quiet(&ch->peer);
		return;
	}
	s = ch->q[0];
	snprintf(client, sizeof(client), "keel-controller-%d", ch->b->id);
	keel_peer_begin(&ch->peer, s->api_key, s->api_version, ++ch->corr, client, s->flex);
	kw_raw(&ch->peer.out, s->body, s->len);
	if (keel_peer_send(&ch->peer) < 0)
		chan_on_failure(&ch->peer, "cannot connect");
}

static keel_ctlchan_t *chan_find(keel_broker_t *b, int32_t broker)
{
	for (keel_ctlchan_t *ch = b->ctlchans; ch; ch = ch->next)
		if (ch->broker == broker)
			return ch;
	return NULL;
}

static void chan_remove(keel_broker_t *b, keel_ctlchan_t *ch)
{
	for (keel_ctlchan_t **pp = &b->ctlchans; *pp; pp = &(*pp)->next)
		if (*pp == ch) {
			*pp = ch->next;
			break;
		}
	chan_free(ch);
}

void keel_ctlchan_send(keel_broker_t *b, keel_ctl_send_t *s)
{
	keel_ctlchan_t *ch = chan_find(b, s->broker);
	if (ch && (ch->epoch != s->broker_epoch || ch->peer.port != s->port ||
		   strcmp(ch->peer.host, s->host ? s->host : ""))) {
		chan_remove(b, ch); /* the broker registered again: its old requests are void */
		ch = NULL;
	}
	if (!ch) {
		if (!(ch = calloc(1, sizeof(*ch)))) {
			keel_ctl_send_free(s);
			return;
		}
		ch->b = b;
		ch->broker = s->broker;
		ch->epoch = s->broker_epoch;
		keel_peer_init(&ch->peer, b->loop, s->host, s->port, CTLCHAN_MAX_RESPONSE,
			       b->cfg->controller_socket_timeout_ms, &chan_ops, ch);
		keel_timer_init(&ch->timer, chan_timer);
		ch->next = b->ctlchans;
		b->ctlchans = ch;
	}
	if (ch->nq == ch->capq) {
		int cap = ch->capq ? 2 * ch->capq : 8;
		keel_ctl_send_t **q = realloc(ch->q, (size_t)cap * sizeof(*q));
		if (!q) {
			keel_ctl_send_free(s);
			return;
		}
		ch->q = q;
		ch->capq = cap;
	}
	ch->q[ch->nq++] = s;
	chan_kick(ch);
}

void keel_ctlchan_reset(keel_broker_t *b)
{
	while (b->ctlchans)
		chan_remove(b, b->ctlchans);
}

void keel_ctlchan_reconcile(keel_broker_t *b)
{
	for (keel_ctlchan_t *ch = b->ctlchans, *nx; ch; ch = nx) {
		const keel_view_broker_t *vb = b->view ? keel_view_broker(b->view, ch->broker) : NULL;
		nx = ch->next;
		if (!vb || vb->epoch != ch->epoch)
			chan_remove(b, ch);
	}
}
