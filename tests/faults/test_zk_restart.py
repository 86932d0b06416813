"""tests/faults/test_zk_restart.py: ZooKeeper itself is killed and restarted (same port, same
data dir) under an acks=all load; the brokers ride it out and the cluster converges. Also a
broker that loses ZooKeeper while it registers, and a leader whose ISR writes fail meanwhile.
This module has a ZooKeeper of its own, so the restart cannot disturb the other tests'
ZooKeeper."""
import signal
import time

import pytest

from confluent_kafka import Producer

from checker import (FAST, BackgroundProducer, StateWatcher, broker_czxid, check_cluster,
                     controller_id, create_topic, state, try_state, wait_converged)
from keelharness import ZooKeeper, wait_for

NP = 3


@pytest.fixture
def zk():
    z = ZooKeeper()
    yield z
    z.close()


def test_zookeeper_restart_under_load(zk, cluster, zkc):
    bs = cluster(3, FAST)
    ids = [b.id for b in bs]
    create_topic(bs, "zr", NP)
    watcher = StateWatcher(zkc, "zr", NP)
    prod = BackgroundProducer(bs, "zr", NP)
    prod.start()
    prod.wait_acked_since(0, 300, what="(warm-up)")

    zk.kill()  # SIGKILL
    down = time.monotonic()
    prod.wait_acked_since(down, 200, timeout=10, what="(ZooKeeper is down)")  # no ISR change needed
    time.sleep(max(0.0, 2.0 - (time.monotonic() - down)))
    zk.start()  # same port, same data dir
    up = time.monotonic()

    wait_for(lambda: all(broker_czxid(zkc, i) for i in ids), 40, "every broker registered")
    wait_for(lambda: controller_id(zkc) in ids, 40, "a controller")
    wait_converged(zkc, "zr", NP, ids)
    for p in range(NP):
        prod.wait_acked_since(up, 100, partition=p, what="(ZooKeeper restarted)")
    prod.stop()
    check_cluster(zkc, bs, "zr", NP, prod, watcher)
    # (nobody fences the brokers while ZooKeeper is down: no broker restarts, no process exits)
    assert all(b.running() for b in bs)


def test_zookeeper_lost_while_a_broker_registers(zk, cluster, zkc):
    """A broker restarted right after kill -9 waits for its old session's znode to go away. If
    ZooKeeper stops answering meanwhile (SIGSTOP past the client's read timeout: its request
    in flight fails), the lost connection must not end the broker's start-up (it exited with
    "cannot register /brokers/ids/1: connection loss"): it registers once ZooKeeper is back,
    as Kafka's client retries until it is connected again."""
    b = cluster(1)[0]
    first = broker_czxid(zkc, b.id)
    b.kill()
    b.start(wait=False)
    wait_for(lambda: "waiting up to" in b.log(), 30, "the broker to wait for its old session", 0.02)
    zk.signal(signal.SIGSTOP)
    time.sleep(5.0)  # the client gives up on a silent server after 2/3 of the 6 s session timeout
    zk.signal(signal.SIGCONT)
    # (the registration can meet a znode of its own lost request's session too, and wait for
    # that to expire: the log says when it registered for good)

    def registered():
        return ("registered broker %d" % b.id in b.log().split("waiting up to", 1)[1] and
                broker_czxid(zkc, b.id) not in (None, False, first))
    wait_for(lambda: not b.running() or registered(), 60, "the broker registered in a new session", 0.1)
    after = b.log().split("waiting up to", 1)[1]
    assert b.running(), after
    assert "; retrying" in after and "registered broker %d" % b.id in after, after


def test_isr_expansion_pauses_between_tries_while_zookeeper_is_down(zk, cluster, zkc):
    """A leader wants a caught-up follower back in the ISR while ZooKeeper is down: each failed
    write is tried again after a pause, not on every fetch of the follower (hundreds a second
    under load), and once ZooKeeper is back the follower rejoins."""
    leader, follower = cluster(2, dict(FAST, **{"replica.lag.time.max.ms": "1500"}))
    create_topic([leader, follower], "ie", assignment=[[leader.id, follower.id]], min_isr=1)
    p = Producer({"bootstrap.servers": leader.bootstrap, "acks": 1, "linger.ms": 0})

    def produce_for(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            p.produce("ie", b"x" * 100, partition=0)
            p.poll(0)
            time.sleep(0.002)
        assert p.flush(30) == 0

    follower.signal(signal.SIGSTOP)
    try:
        produce_for(0.5)
        wait_for(lambda: state(zkc, "ie", 0)["isr"] == [leader.id], 20,
                 "the stopped follower to leave the ISR")
        zk.kill()
    finally:
        follower.signal(signal.SIGCONT)
    produce_for(5)  # the follower catches up and keeps fetching
    tries = leader.log().count("ie-0: ISR change not written")
    assert 1 <= tries <= 8, "%d failed ISR writes in 5 s" % tries
    zk.start()
    both = sorted([leader.id, follower.id])
    wait_for(lambda: sorted((try_state(zkc, "ie", 0) or {"isr": []})["isr"]) == both, 40,
             "the follower back in the ISR")
