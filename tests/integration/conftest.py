"""tests/integration/conftest.py: fixtures: one ZooKeeper per session, a fresh chroot per test, and
a factory for brokers that are always stopped when the test ends."""
import os
import sys
import uuid

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from keelharness import Broker, ZooKeeper, zk_client  # noqa: E402


@pytest.fixture(scope="session")
def zk():
    z = ZooKeeper()
    yield z
    z.close()


@pytest.fixture
def chroot(zk):
    """A chroot of our own, so tests sharing the ZooKeeper never see each other's znodes."""
    return "/keel-" + uuid.uuid4().hex[:12]


@pytest.fixture
def zkc(zk, chroot):
    root = zk_client(zk.connect)
    root.ensure_path(chroot)
    root.stop()
    root.close()
    c = zk_client(zk.connect + chroot)
    yield c
    c.stop()
    c.close()


@pytest.fixture
def cluster(zk, chroot, request):
    """cluster(n, extra={}) starts n brokers with ids 1..n against the test's chroot."""
    made = []

    def make(n=1, extra=None, start=True, first_id=1):
        # consumer groups: an offsets topic the cluster can hold, small enough to create fast,
        # and no initial rebalance delay (as Kafka's own test configs); tests may override
        conf = {"offsets.topic.replication.factor": str(min(3, n)),
                "offsets.topic.num.partitions": "5", "group.initial.rebalance.delay.ms": "0"}
        conf.update(extra or {})
        bs = [Broker(zk.connect + chroot, first_id + i, conf) for i in range(n)]
        made.extend(bs)
        if start:
            for b in bs:
                b.start()
        return bs

    yield make
    failed = getattr(request.node, "rep_call", None)
    tail = int(os.environ.get("KEEL_TEST_LOG_TAIL", "4000"))  # characters of each log shown on failure
    for b in made:
        if failed is not None and failed.failed:
            sys.stderr.write("---- keeld %d log ----\n%s\n" % (b.id, b.log()[-tail:]))
        b.close()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
