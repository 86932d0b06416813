/* src/ctlchan.h: the controller's request queues, one per live broker (Kafka's
 * ControllerChannelManager): requests leave in order, one at a time, and are retried over
 * reconnects until answered or the broker is gone. The coordination thread encodes them
 * (KEEL_MSG_CTL_SEND) and gets the answers back (KEEL_CMD_CTL_RESPONSE). Loop thread only. */
#ifndef KEEL_CTLCHAN_H
#define KEEL_CTLCHAN_H

#include "broker.h"

/* Queue s for its broker (takes ownership). A new broker epoch drops what the old one had. */
void keel_ctlchan_send(keel_broker_t *b, keel_ctl_send_t *s);
/* No longer controller: drop every queue. */
void keel_ctlchan_reset(keel_broker_t *b);
/* After a view: drop the queues of brokers that are gone or registered again. */
void keel_ctlchan_reconcile(keel_broker_t *b);

#endif
