"""tests/faults/test_faults.py: three brokers, RF=3, min.insync.replicas=2, an acks=all producer
running through each fault; every case ends with checker.check_cluster (acknowledged records
kept, in-sync replicas byte-identical up to the HW, leader always in the ISR)."""
import signal
import time

from checker import (FAST, BackgroundProducer, StateWatcher, broker_czxid, check_cluster,
                     controller_id, create_topic, state, try_state, wait_converged, wait_new_leader)
from keelharness import wait_for

NP = 3


def by_id(bs, i):
    return next(b for b in bs if b.id == i)


def test_kill9_leader_three_rounds(cluster, zkc):
    """kill -9 the leader of a partition while producing, three times, restarting it each time."""
    bs = cluster(3, FAST)
    ids = [b.id for b in bs]
    create_topic(bs, "k9", NP)
    watcher = StateWatcher(zkc, "k9", NP)
    prod = BackgroundProducer(bs, "k9", NP)
    prod.start()
    prod.wait_acked_since(0, 300, what="(warm-up)")
    for rnd in range(3):
        p = rnd % NP
        before = state(zkc, "k9", p)
        victim = by_id(bs, before["leader"])
        victim.kill()
        t = time.monotonic()
        new = wait_new_leader(zkc, "k9", p, victim.id)
        assert new in before["isr"]
        assert state(zkc, "k9", p)["leader_epoch"] > before["leader_epoch"]
        prod.wait_acked_since(t, 100, partition=p, what="(round %d: kill -9 of leader %d)" % (rnd, victim.id))
        wait_for(lambda: broker_czxid(zkc, victim.id) is None, 30, "broker %d's znode to go" % victim.id)
        victim.start()
        wait_converged(zkc, "k9", NP, ids)
    prod.stop()
    check_cluster(zkc, bs, "k9", NP, prod, watcher)


def test_kill9_controller_then_leader(cluster, zkc):
    """kill -9 the controller: another is elected and handles the dead broker's partitions; with
    the old controller back, killing a leader is still handled by the new controller."""
    bs = cluster(3, FAST)
    ids = [b.id for b in bs]
    create_topic(bs, "kc", NP)
    watcher = StateWatcher(zkc, "kc", NP)
    prod = BackgroundProducer(bs, "kc", NP)
    prod.start()
    prod.wait_acked_since(0, 300, what="(warm-up)")

    old_ctl = controller_id(zkc)
    victim = by_id(bs, old_ctl)
    led = [p for p in range(NP) if state(zkc, "kc", p)["leader"] == old_ctl]
    victim.kill()
    t = time.monotonic()
    new_ctl = wait_for(lambda: controller_id(zkc) not in (None, old_ctl) and controller_id(zkc), 40,
                       "a new controller")
    assert new_ctl in ids
    for p in led:
        wait_new_leader(zkc, "kc", p, old_ctl)
    prod.wait_acked_since(t, 100 * NP, what="(kill -9 of controller %d)" % old_ctl)
    for p in range(NP):
        prod.wait_acked_since(t, 50, partition=p, what="(kill -9 of controller %d)" % old_ctl)
    wait_for(lambda: broker_czxid(zkc, victim.id) is None, 30, "broker %d's znode to go" % victim.id)
    victim.start()
    wait_converged(zkc, "kc", NP, ids)
    assert controller_id(zkc) == new_ctl

    # a leader that is not the new controller, else any leader
    leaders = {p: state(zkc, "kc", p)["leader"] for p in range(NP)}
    p = next((p for p in range(NP) if leaders[p] != new_ctl), 0)
    before = state(zkc, "kc", p)
    victim2 = by_id(bs, before["leader"])
    victim2.kill()
    t = time.monotonic()
    wait_new_leader(zkc, "kc", p, victim2.id)
    assert state(zkc, "kc", p)["leader_epoch"] > before["leader_epoch"]
    prod.wait_acked_since(t, 100, partition=p, what="(kill -9 of leader %d)" % victim2.id)
    wait_for(lambda: broker_czxid(zkc, victim2.id) is None, 30, "broker %d's znode to go" % victim2.id)
    victim2.start()
    wait_converged(zkc, "kc", NP, ids)
    prod.stop()
    check_cluster(zkc, bs, "kc", NP, prod, watcher)


def test_sigstop_follower_leaves_and_rejoins_isr(cluster, zkc):
    """SIGSTOP a follower past replica.lag.time.max.ms but within the ZooKeeper session: it leaves
    the ISR, produce goes on, and after SIGCONT it catches up and rejoins."""
    # A shorter lag than FAST's: a follower must be dropped from the ISR (lag + the leader's 1 s
    # check) well before its session can expire: ZooKeeper counts 6 s from the last ping, which
    # may be up to 2 s before the SIGSTOP.
    bs = cluster(3, dict(FAST, **{"replica.lag.time.max.ms": "1500"}))
    ids = [b.id for b in bs]
    # broker 3 leads nothing: it is last in every assignment
    create_topic(bs, "sf", assignment=[[1, 2, 3], [2, 1, 3], [1, 2, 3]])
    assert all(state(zkc, "sf", p)["leader"] != 3 for p in range(NP))
    watcher = StateWatcher(zkc, "sf", NP)
    prod = BackgroundProducer(bs, "sf", NP)
    prod.start()
    prod.wait_acked_since(0, 300, what="(warm-up)")

    follower = by_id(bs, 3)
    czxid = broker_czxid(zkc, 3)
    follower.signal(signal.SIGSTOP)
    t = time.monotonic()
    try:
        wait_for(lambda: all(3 not in (try_state(zkc, "sf", p) or {"isr": [3]})["isr"] for p in range(NP)),
                 3.5, "broker 3 to leave every ISR", 0.05)
        shrunk = time.monotonic()
        prod.wait_acked_since(shrunk, 20, timeout=2, what="(the follower is stopped)")
    finally:
        follower.signal(signal.SIGCONT)
    stopped_for = time.monotonic() - t
    assert broker_czxid(zkc, 3) == czxid, "the session expired (stopped %.1f s)" % stopped_for
    for p in range(NP):
        prod.wait_acked_since(shrunk, 50, partition=p, what="(the follower left the ISR)")
    wait_converged(zkc, "sf", NP, ids, 30)
    assert broker_czxid(zkc, 3) == czxid
    prod.stop()
    check_cluster(zkc, bs, "sf", NP, prod, watcher)
    # the leader never moved
    assert {s[2] for s in watcher.samples} <= {1, 2}


def test_sigstop_leader_past_session_timeout(cluster, zkc):
    """SIGSTOP the leader of a partition past its ZooKeeper session: its partitions get new
    leaders; after SIGCONT it registers again (a new czxid), follows, truncates as needed and
    rejoins the ISR."""
    bs = cluster(3, FAST)
    ids = [b.id for b in bs]
    create_topic(bs, "sl", NP)
    watcher = StateWatcher(zkc, "sl", NP)
    prod = BackgroundProducer(bs, "sl", NP)
    prod.start()
    prod.wait_acked_since(0, 300, what="(warm-up)")

    before = [state(zkc, "sl", p) for p in range(NP)]
    victim = by_id(bs, before[0]["leader"])
    led = [p for p in range(NP) if before[p]["leader"] == victim.id]
    czxid = broker_czxid(zkc, victim.id)
    victim.signal(signal.SIGSTOP)
    t = time.monotonic()
    try:
        wait_for(lambda: broker_czxid(zkc, victim.id) is None, 30, "broker %d's session to expire" % victim.id)
        for p in led:
            wait_new_leader(zkc, "sl", p, victim.id)
        for p in range(NP):
            prod.wait_acked_since(t, 50, partition=p, what="(leader %d stopped)" % victim.id)
    finally:
        victim.signal(signal.SIGCONT)
    resumed = time.monotonic()
    wait_for(lambda: broker_czxid(zkc, victim.id) not in (None, False, czxid), 30,
             "broker %d to register again" % victim.id)
    for p in led:  # its leaderships moved while it was away
        s = state(zkc, "sl", p)
        assert s["leader_epoch"] > before[p]["leader_epoch"]
        assert watcher.leaders_after(t, p) - {victim.id, -1}
    wait_converged(zkc, "sl", NP, ids)
    prod.wait_acked_since(resumed, 100, what="(after the stopped leader came back)")
    prod.stop()
    check_cluster(zkc, bs, "sl", NP, prod, watcher)
