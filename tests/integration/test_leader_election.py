"""tests/integration/test_leader_election.py: preferred leader election, Kafka's way: after a
broker restarts, keel-leader-election.sh, the /admin/preferred_replica_election znode and the auto
rebalance each give its partitions back to it; bad input and unclean elections."""
import json
import os
import tempfile

import pytest

from keelharness import wait_for
from test_clients import consume_all
from test_replication import FAST, create_rf3, produce, state
from test_tour import script

TOPIC = "le"
NPART = 6
NO_AUTO = {"auto.leader.rebalance.enable": "false"}


def elect(*args, check=False):
    return script("keel-leader-election.sh", *args, check=check)


def preferred(zkc, topic=TOPIC):
    parts = json.loads(zkc.get("/brokers/topics/%s" % topic)[0])["partitions"]
    return {int(p): r[0] for p, r in parts.items()}


def controller(zkc):
    return json.loads(zkc.get("/controller")[0])["brokerid"]


def full_isr(zkc):
    return all(sorted(state(zkc, TOPIC, p)["isr"]) == [1, 2, 3] for p in range(NPART))


def skew(cluster, zkc, extra):
    """Three brokers, an RF=3 topic; restart a non-controller broker so that the partitions
    preferring it are led by others. Returns (brokers, the restarted one, preferred map)."""
    conf = dict(FAST, **{"controlled.shutdown.retry.backoff.ms": "500"})
    conf.update(extra)
    bs = cluster(3, conf)
    create_rf3(bs[0], TOPIC, NPART)
    wait_for(lambda: full_isr(zkc), 30, "full ISRs")
    pref = preferred(zkc)
    ctl = controller(zkc)
    x = next(b for b in bs if b.id != ctl and b.id in pref.values())
    assert x.stop(timeout=60) == 0
    mine = [p for p in range(NPART) if pref[p] == x.id]
    for p in mine:
        assert state(zkc, TOPIC, p)["leader"] not in (x.id, -1)
    x.start()
    wait_for(lambda: full_isr(zkc), 40, "broker %d back in every ISR" % x.id)
    for p in mine:  # without the auto rebalance, nothing moves them back on its own
        assert extra.get("auto.leader.rebalance.enable") == "true" or \
            state(zkc, TOPIC, p)["leader"] != x.id
    return bs, x, pref


def all_preferred(zkc, pref):
    return all(state(zkc, TOPIC, p)["leader"] == pref[p] for p in range(NPART))


def test_tool_moves_leadership_back(cluster, zkc):
    bs, x, pref = skew(cluster, zkc, NO_AUTO)
    before = {p: state(zkc, TOPIC, p) for p in range(NPART)}
    moved = sorted(p for p in range(NPART) if before[p]["leader"] != pref[p])
    assert moved
    other = next(b for b in bs if b.id != controller(zkc))  # it finds the controller itself
    r = elect("--bootstrap-server", other.bootstrap, "--election-type", "preferred",
              "--all-topic-partitions")
    out = r.stdout.decode()
    assert r.returncode == 0, out + r.stderr.decode()
    assert out.startswith("Successfully completed leader election (PREFERRED) for partitions "), out
    assert sorted(out.strip().split("partitions ")[1].split(", ")) == sorted(
        "%s-%d" % (TOPIC, p) for p in moved), out
    for p in range(NPART):
        st = state(zkc, TOPIC, p)
        assert st["leader"] == pref[p]
        assert st["isr"] == before[p]["isr"]  # unchanged
        assert st["leader_epoch"] == before[p]["leader_epoch"] + (1 if p in moved else 0)
    # again: with all partitions nothing is reported (Kafka leaves out ELECTION_NOT_NEEDED) ...
    r = elect("--bootstrap-server", x.bootstrap, "--election-type", "PREFERRED", "--all-topic-partitions")
    assert r.returncode == 0 and r.stdout.decode() == "", r.stdout + r.stderr
    # ... while named partitions are
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"partitions": [{"topic": TOPIC, "partition": p} for p in range(NPART)]}, f)
    try:
        r = elect("--bootstrap-server", x.bootstrap, "--election-type", "preferred",
                  "--path-to-json-file", f.name)
    finally:
        os.unlink(f.name)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.decode() == "Valid replica already elected for partitions %s\n" % ", ".join(
        "%s-%d" % (TOPIC, p) for p in range(NPART))
    r = elect("--bootstrap-server", x.bootstrap, "--election-type", "preferred", "--topic", TOPIC,
              "--partition", "0")
    assert r.returncode == 0 and r.stdout.decode() == \
        "Valid replica already elected for partitions %s-0\n" % TOPIC
    for p in range(NPART):
        assert state(zkc, TOPIC, p)["leader_epoch"] == before[p]["leader_epoch"] + (p in moved)
    # the brokers follow: the new leaders take acks=all writes, and they read back
    acked, errors = produce(",".join(b.bootstrap for b in bs), TOPIC, [b"v%d" % i for i in range(300)])
    assert not errors and len(acked) == 300, errors[:3]
    got = consume_all(x.bootstrap, TOPIC, 300, NPART)
    assert {pos: v[1] for pos, v in got.items()} == acked


def test_znode_moves_leadership_back(cluster, zkc):
    bs, x, pref = skew(cluster, zkc, NO_AUTO)
    before = {p: state(zkc, TOPIC, p) for p in range(NPART)}
    body = {"version": 1, "partitions": [{"topic": TOPIC, "partition": p} for p in range(NPART)]
            + [{"topic": "no-such-topic", "partition": 0}]}
    zkc.create("/admin/preferred_replica_election", json.dumps(body).encode())
    wait_for(lambda: zkc.exists("/admin/preferred_replica_election") is None, 20, "the znode deleted")
    wait_for(lambda: all_preferred(zkc, pref), 10, "preferred leaders")
    for p in range(NPART):
        st = state(zkc, TOPIC, p)
        assert st["isr"] == before[p]["isr"]
        bumped = before[p]["leader"] != pref[p]
        assert st["leader_epoch"] == before[p]["leader_epoch"] + bumped
    # it is watched again: a second one is processed (and deleted) too
    zkc.create("/admin/preferred_replica_election", json.dumps(body).encode())
    wait_for(lambda: zkc.exists("/admin/preferred_replica_election") is None, 20, "the znode deleted")


def test_auto_rebalance(cluster, zkc):
    bs, x, pref = skew(cluster, zkc, {"auto.leader.rebalance.enable": "true",
                                      "leader.imbalance.check.interval.seconds": "2"})
    wait_for(lambda: all_preferred(zkc, pref), 20, "the auto rebalance")
    assert "leader imbalance of broker %d" % x.id in next(
        b for b in bs if b.id == controller(zkc)).log()


def test_auto_rebalance_leaves_partitions_being_reassigned_alone(cluster, zkc):
    """Kafka's auto rebalance skips partitions with a reassignment in flight: a preferred
    replica back in the ISR does not take the leadership while the partition is being
    reassigned, and does once the reassignment is done."""
    import signal
    from confluent_kafka.admin import AdminClient, NewTopic
    bs = cluster(3, dict(FAST, **{"auto.leader.rebalance.enable": "true",
                                  "leader.imbalance.check.interval.seconds": "1"}))
    ctl = next(b for b in bs if b.id == controller(zkc))
    x, y = [b for b in bs if b is not ctl]
    admin = AdminClient({"bootstrap.servers": ctl.bootstrap})
    admin.create_topics([NewTopic("rb", 1, replica_assignment=[[x.id, ctl.id]])])["rb"].result(30)
    wait_for(lambda: state(zkc, "rb", 0)["leader"] == x.id and len(state(zkc, "rb", 0)["isr"]) == 2, 30, "ISR")
    assert x.stop(timeout=60) == 0
    wait_for(lambda: state(zkc, "rb", 0)["leader"] == ctl.id, 30, "the leadership moved off x")
    y.signal(signal.SIGSTOP)  # the replica being added cannot catch up: the reassignment waits
    try:
        # (through the znode: the tools refuse a plan naming a broker that is down, as x is)
        zkc.create("/admin/reassign_partitions", json.dumps({"version": 1, "partitions": [
            {"topic": "rb", "partition": 0, "replicas": [x.id, ctl.id, y.id]}]}).encode())
        wait_for(lambda: json.loads(zkc.get("/brokers/topics/rb")[0]).get("adding_replicas", {}).get("0"),
                 30, "the reassignment started")
        x.start()
        wait_for(lambda: sorted(state(zkc, "rb", 0)["isr"]) == sorted([x.id, ctl.id]), 30, "x back in the ISR")
        with pytest.raises(TimeoutError):  # several rebalance checks, one second apart
            wait_for(lambda: state(zkc, "rb", 0)["leader"] == x.id, 5, "a move during the reassignment")
    finally:
        y.signal(signal.SIGCONT)
    wait_for(lambda: zkc.exists("/brokers/topics/rb") and
             json.loads(zkc.get("/brokers/topics/rb")[0]).get("adding_replicas", {}).get("0", []) == [], 60,
             "the reassignment done")
    wait_for(lambda: state(zkc, "rb", 0)["leader"] == x.id, 30, "the rebalance after it")


def test_bad_input(cluster, zkc):
    bs = cluster(3, NO_AUTO)
    create_rf3(bs[0], TOPIC, 2)
    b = bs[0].bootstrap
    for args in (("--topic", "nope", "--partition", "0"), ("--topic", TOPIC, "--partition", "9")):
        r = elect("--bootstrap-server", b, "--election-type", "preferred", *args)
        out, err = r.stdout.decode(), r.stderr.decode()
        assert r.returncode != 0
        assert ("Error completing leader election (PREFERRED) for partition: %s-%s: "
                "org.apache.kafka.common.errors.UnknownTopicOrPartitionException: "
                "The partition does not exist." % (args[1], args[3])) in out, out
        assert "UNKNOWN_TOPIC_OR_PARTITION" in err, err
    # usage errors
    for args in ((), ("--all-topic-partitions", "--topic", TOPIC, "--partition", "0"),
                 ("--topic", TOPIC), ("--all-topic-partitions", "--election-type", "sideways")):
        r = elect("--bootstrap-server", b, *(("--election-type", "preferred") if "--election-type"
                                               not in args else ()), *args)
        assert r.returncode == 1 and r.stderr.decode().startswith("keel-leader-election.sh: "), args
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        f.write('{"partitions":[{"topic":"le","partition":0},{"topic":"le","partition":0}]}')
    try:
        r = elect("--bootstrap-server", b, "--election-type", "preferred", "--path-to-json-file", f.name)
    finally:
        os.unlink(f.name)
    assert r.returncode == 1 and "duplicate partitions: le-0" in r.stderr.decode()


def test_unclean_election(cluster, zkc):
    """A partition whose only in-sync replica is down gets a leader from outside the ISR."""
    bs = cluster(3, dict(FAST, **NO_AUTO, **{"controlled.shutdown.max.retries": "1",
                                             "controlled.shutdown.retry.backoff.ms": "200"}))
    ctl = controller(zkc)
    a, c = [b for b in bs if b.id != ctl]
    script("keel-topics.sh", "--bootstrap-server", bs[0].bootstrap, "--create", "--topic", "u",
           "--replica-assignment", "%d:%d" % (a.id, c.id))
    wait_for(lambda: zkc.exists("/brokers/topics/u/partitions/0/state") and
             sorted(json.loads(zkc.get("/brokers/topics/u/partitions/0/state")[0])["isr"]) ==
             sorted([a.id, c.id]), 30, "u-0 fully in sync")
    assert c.stop(timeout=60) == 0  # a follower: leaves the ISR
    wait_for(lambda: state(zkc, "u", 0)["isr"] == [a.id], 20, "ISR [a]")
    r = elect("--bootstrap-server", bs[0].bootstrap, "--election-type", "unclean", "--topic", "u",
              "--partition", "0")
    assert r.returncode == 0 and r.stdout.decode() == "Valid replica already elected for partitions u-0\n"
    a.stop(timeout=60)
    wait_for(lambda: state(zkc, "u", 0)["leader"] == -1, 30, "u-0 offline")
    c.start()
    before = state(zkc, "u", 0)
    assert before["leader"] == -1 and before["isr"] == [a.id]  # not elected cleanly
    r = elect("--bootstrap-server", bs[0].bootstrap, "--election-type", "preferred", "--topic", "u",
              "--partition", "0")
    assert r.returncode == 1 and "PreferredLeaderNotAvailableException" in r.stdout.decode()
    # until the controller has seen c register, nobody is eligible
    r = wait_for(lambda: (lambda r: r if r.returncode == 0 or b"ELIGIBLE" not in r.stderr else None)(
        elect("--bootstrap-server", bs[0].bootstrap, "--election-type", "unclean", "--topic", "u",
              "--partition", "0")), 20, "the unclean election", 0.2)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.decode() == "Successfully completed leader election (UNCLEAN) for partitions u-0\n"
    st = state(zkc, "u", 0)
    assert st["leader"] == c.id and st["isr"] == [c.id]
    assert st["leader_epoch"] == before["leader_epoch"] + 1
