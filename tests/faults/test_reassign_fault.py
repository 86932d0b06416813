"""tests/faults/test_reassign_fault.py: case 7 of the replication issue: with a fourth broker,
reassign every partition from brokers {1,2,3} to {1,2,4} under an acks=all load (one of them led
by broker 3, so leadership must move too); then the usual check over the new replica set."""
import json
import os
import time

from checker import FAST, BackgroundProducer, StateWatcher, check_cluster, create_topic, state
from keelharness import wait_for
from test_reassign import alter, list_reassignments

NP = 3
OLD = [[1, 2, 3], [2, 3, 1], [3, 1, 2]]
NEW = [[1, 2, 4], [2, 4, 1], [4, 1, 2]]


def test_reassign_under_load(cluster, zkc):
    bs = cluster(4, FAST)
    by = {b.id: b for b in bs}
    create_topic(bs[:3], "ra", assignment=OLD)
    assert state(zkc, "ra", 2)["leader"] == 3
    watcher = StateWatcher(zkc, "ra", NP)
    prod = BackgroundProducer(bs[:3], "ra", NP)
    prod.start()
    prod.wait_acked_since(0, 600, what="(warm-up)")

    ctl = by[json.loads(zkc.get("/controller")[0])["brokerid"]]
    t = time.monotonic()
    top, res = alter(ctl, {("ra", p): NEW[p] for p in range(NP)})
    assert top == 0 and all(res[("ra", p)] == (0, None) for p in range(NP)), res

    def finished():
        a = json.loads(zkc.get("/brokers/topics/ra")[0])
        return (all(a["partitions"][str(p)] == NEW[p] for p in range(NP)) and
                not a["adding_replicas"] and not a["removing_replicas"])
    wait_for(finished, 60, "the reassignment of every partition")
    assert list_reassignments(ctl) == (0, {})
    for p in range(NP):
        assert 3 not in state(zkc, "ra", p)["isr"]
    assert state(zkc, "ra", 2)["leader"] in (4, 1, 2)
    for p in range(NP):  # the producer goes on past the move
        prod.wait_acked_since(time.monotonic(), 50, partition=p, what="(after the reassignment)")
    wait_for(lambda: not any(os.path.isdir(os.path.join(by[3].logdir, "ra-%d" % p)) for p in range(NP)),
             30, "broker 3 to delete its copies")
    assert time.monotonic() - t < 60
    prod.stop()
    check_cluster(zkc, [by[1], by[2], by[4]], "ra", NP, prod, watcher)
