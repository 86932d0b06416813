"""tests/faults/test_zk_restart.py: ZooKeeper itself is killed and restarted (same port, same
data dir) under an acks=all load; the brokers ride it out and the cluster converges. This module
has a ZooKeeper of its own, so the restart cannot disturb the other tests' ZooKeeper."""
import time

import pytest

from checker import (FAST, BackgroundProducer, StateWatcher, broker_czxid, check_cluster,
                     controller_id, create_topic, wait_converged)
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
