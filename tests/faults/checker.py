"""tests/faults/checker.py: what every fault case shares: topic creation, a background producer
that records every acknowledged (partition, offset) -> value, a watcher thread sampling the
partition state znodes, and the final check of the cluster:
  (a) every acknowledged record is at its acknowledged offset on the current leader;
  (b) every in-sync replica holds the same batches, byte for byte, up to the leader's HW;
  (c) no state sample ever showed a leader outside the ISR (leader -1 is allowed)."""
import json
import os
import struct
import threading
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from kazoo.exceptions import KazooException

from keelharness import wait_for

# short timers as in tests/integration/test_replication.py, and a 6 s ZooKeeper session
FAST = {"replica.lag.time.max.ms": "3000", "replica.fetch.wait.max.ms": "200",
        "replica.fetch.backoff.ms": "200", "replica.high.watermark.checkpoint.interval.ms": "500",
        "zookeeper.session.timeout.ms": "6000"}


# ---------------------------------------------------------------- ZooKeeper reads

def state(zkc, topic, p):
    return json.loads(zkc.get("/brokers/topics/%s/partitions/%d/state" % (topic, p))[0])


def try_state(zkc, topic, p):
    """The state, or None while ZooKeeper is unreachable or the znode is missing."""
    try:
        return state(zkc, topic, p)
    except KazooException:
        return None


def try_states(zkc, topic, nparts):
    sts = [try_state(zkc, topic, p) for p in range(nparts)]
    return None if any(s is None for s in sts) else sts


def broker_czxid(zkc, broker_id):
    """czxid of /brokers/ids/<id> (the broker epoch), None if it is not registered."""
    try:
        st = zkc.exists("/brokers/ids/%d" % broker_id)
    except KazooException:
        return False  # unknown
    return st.czxid if st else None


def controller_id(zkc):
    try:
        return json.loads(zkc.get("/controller")[0])["brokerid"]
    except KazooException:
        return None


def wait_converged(zkc, topic, nparts, ids, timeout=60):
    """Every partition has a live leader and the full ISR."""
    want = sorted(ids)

    def ok():
        sts = try_states(zkc, topic, nparts)
        return sts is not None and all(s["leader"] in ids and sorted(s["isr"]) == want for s in sts)
    wait_for(ok, timeout, "every partition of %s to have a leader and ISR %s (now %s)"
             % (topic, want, try_states(zkc, topic, nparts)), 0.1)


def wait_new_leader(zkc, topic, p, old, timeout=40):
    """A leader other than `old` (and other than -1) for partition p; returns it."""
    def ok():
        s = try_state(zkc, topic, p)
        return s is not None and s["leader"] not in (old, -1) and s["leader"]
    return wait_for(ok, timeout, "a new leader of %s-%d (old %d)" % (topic, p, old), 0.1)


# ---------------------------------------------------------------- topic

def bootstrap(brokers):
    return ",".join(b.bootstrap for b in brokers)


def create_topic(brokers, topic, partitions=3, assignment=None, min_isr=2):
    """RF=3 (or the given replica assignment) with min.insync.replicas; waits for leaders."""
    admin = AdminClient({"bootstrap.servers": bootstrap(brokers)})
    cfg = {"min.insync.replicas": str(min_isr)}
    if assignment:
        nt = NewTopic(topic, len(assignment), replica_assignment=assignment, config=cfg)
    else:
        nt = NewTopic(topic, partitions, 3, config=cfg)
    admin.create_topics([nt], operation_timeout=30)[topic].result(30)
    n = len(assignment) if assignment else partitions

    def leaders():
        parts = admin.list_topics(topic, timeout=5).topics[topic].partitions
        return len(parts) == n and all(p.leader >= 0 for p in parts.values())
    wait_for(leaders, 30, "leaders of " + topic)


# ---------------------------------------------------------------- background producer

class BackgroundProducer(threading.Thread):
    """acks=all, retries, no idempotence; partition i % nparts for record i; bounded by count and
    time, or stopped by stop(). acked maps (partition, offset) -> value."""

    def __init__(self, brokers, topic, nparts, max_count=200000, max_seconds=100, rate=1000, **conf):
        super().__init__(daemon=True)
        self.topic, self.nparts = topic, nparts
        self.max_count, self.max_seconds, self.rate = max_count, max_seconds, rate
        self.conf = dict({"bootstrap.servers": bootstrap(brokers), "acks": "all",
                          "enable.idempotence": False, "retries": 1000000, "retry.backoff.ms": 100,
                          "message.timeout.ms": 60000, "request.timeout.ms": 10000,
                          "linger.ms": 5,
                          # librdkafka times produce requests out only at message.timeout.ms, and a
                          # SIGSTOPped broker keeps its connections up: refresh metadata often so
                          # that records move to a partition's new leader
                          "topic.metadata.refresh.interval.ms": 1000}, **conf)
        self.lock = threading.Lock()
        self.acked = {}
        self.ack_log = []        # (monotonic time, partition) per acknowledgement
        self.errors = []
        self.conflicts = []      # one offset acknowledged for two different values
        self.sent = 0
        self.unflushed = None
        self.exc = None
        self._halt = threading.Event()

    def _cb(self, err, msg):
        now = time.monotonic()
        with self.lock:
            if err is not None:
                self.errors.append(err)
                return
            pos = (msg.partition(), msg.offset())
            old = self.acked.get(pos)
            if old is not None and old != msg.value():
                self.conflicts.append((pos, old, msg.value()))
            self.acked[pos] = msg.value()
            self.ack_log.append((now, msg.partition()))

    def run(self):
        try:
            p = Producer(self.conf)
            t0 = time.monotonic()
            deadline = t0 + self.max_seconds
            while not self._halt.is_set() and self.sent < self.max_count and time.monotonic() < deadline:
                ahead = self.sent - (time.monotonic() - t0) * self.rate
                if ahead > 0:
                    p.poll(min(ahead / self.rate, 0.05))
                    continue
                try:
                    p.produce(self.topic, value=b"rec-%09d" % self.sent + b"." * 50,
                              partition=self.sent % self.nparts, on_delivery=self._cb)
                    self.sent += 1
                except BufferError:
                    p.poll(0.1)
                p.poll(0)
            self.unflushed = p.flush(75)
        except Exception as e:  # noqa: BLE001  (reported by the test)
            self.exc = e

    def stop(self, timeout=90):
        """Stop producing, wait for every outstanding record's delivery report."""
        self._halt.set()
        self.join(timeout)
        assert not self.is_alive(), "the producer did not finish flushing"
        if self.exc:
            raise self.exc

    def _alive_check(self):
        if self.exc:
            raise self.exc

    def acked_since(self, t, partition=None):
        with self.lock:
            return sum(1 for at, p in self.ack_log if at >= t and (partition is None or p == partition))

    def wait_acked_since(self, t, n=50, partition=None, timeout=40, what=""):
        """Produce goes on: n records acknowledged after monotonic time t (on partition)."""
        def ok():
            self._alive_check()
            return self.acked_since(t, partition) >= n
        wait_for(ok, timeout, "%d acknowledgements%s after the fault %s" %
                 (n, "" if partition is None else " on partition %d" % partition, what), 0.1)


# ---------------------------------------------------------------- state watcher

class StateWatcher(threading.Thread):
    """Samples every partition's state znode every 100 ms; a sample whose leader is neither -1 nor
    in the ISR is a violation. Samples that cannot be read (ZooKeeper down) are counted."""

    def __init__(self, zkc, topic, nparts, interval=0.1):
        super().__init__(daemon=True)
        self.zkc, self.topic, self.nparts, self.interval = zkc, topic, nparts, interval
        self.samples = []        # (monotonic time, partition, leader, isr, leader_epoch)
        self.violations = []
        self.unreadable = 0
        self._halt = threading.Event()
        self.start()

    def run(self):
        while not self._halt.is_set():
            for p in range(self.nparts):
                try:
                    raw, stat = self.zkc.get("/brokers/topics/%s/partitions/%d/state" % (self.topic, p))
                    s = json.loads(raw)
                except Exception:  # noqa: BLE001  (ZooKeeper unreachable, restarting, ...)
                    self.unreadable += 1
                    continue
                sample = (time.monotonic(), p, s["leader"], list(s["isr"]), s["leader_epoch"], stat.version)
                self.samples.append(sample)
                if s["leader"] != -1 and s["leader"] not in s["isr"]:
                    self.violations.append(sample)
            self._halt.wait(self.interval)

    def stop(self):
        self._halt.set()
        self.join(30)

    def leaders_after(self, t, p):
        return {s[2] for s in self.samples if s[0] >= t and s[1] == p}


# ---------------------------------------------------------------- on-disk batches

def read_batches(partition_dir):
    """Every complete record batch of the partition's .log segments, in offset order, as
    (baseOffset, lastOffset, bytes). A torn batch at a segment's end stops that segment."""
    out = []
    try:
        names = sorted(f for f in os.listdir(partition_dir) if f.endswith(".log"))
    except FileNotFoundError:
        return out
    for name in names:
        with open(os.path.join(partition_dir, name), "rb") as f:
            data = f.read()
        pos = 0
        while pos + 27 <= len(data):
            base, length = struct.unpack_from(">qi", data, pos)
            if length <= 0 or pos + 12 + length > len(data):
                break
            (last_delta,) = struct.unpack_from(">i", data, pos + 23)
            out.append((base, base + last_delta, data[pos:pos + 12 + length]))
            pos += 12 + length
    return out


def _batches_below(batches, hw):
    return [b for b in batches if b[0] < hw]


def compare_replicas(brokers, topic, p, hw):
    """None if every broker's batches below hw are identical and reach hw; else a description."""
    ref, ref_id = None, None
    for b in brokers:
        mine = _batches_below(read_batches(os.path.join(b.logdir, "%s-%d" % (topic, p))), hw)
        end = mine[-1][1] + 1 if mine else 0
        if end < hw:
            return "broker %d's log of %s-%d ends at %d, below the HW %d" % (b.id, topic, p, end, hw)
        if ref is None:
            ref, ref_id = mine, b.id
            continue
        if len(mine) != len(ref) or any(x[2] != y[2] for x, y in zip(mine, ref)):
            for i, (x, y) in enumerate(zip(mine, ref)):
                if x[2] != y[2]:
                    return ("%s-%d: broker %d and broker %d differ at batch %d: base offsets %d/%d, "
                            "leader epochs %d/%d, lengths %d/%d" %
                            (topic, p, b.id, ref_id, i, x[0], y[0], struct.unpack_from(">i", x[2], 12)[0],
                             struct.unpack_from(">i", y[2], 12)[0], len(x[2]), len(y[2])))
            return "%s-%d: broker %d has %d batches below HW %d, broker %d has %d" % (
                topic, p, b.id, len(mine), hw, ref_id, len(ref))
    return None


# ---------------------------------------------------------------- the final check

def high_watermark(consumer, topic, p):
    try:
        return consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=5, cached=False)[1]
    except KafkaException:
        return None


def check_cluster(zkc, brokers, topic, nparts, producer, watcher, converge_timeout=60):
    """The end of every case: everything has converged, then (a), (b), (c)."""
    assert producer.exc is None, producer.exc
    assert not producer.conflicts, "offsets acknowledged twice with different values: %s" % producer.conflicts[:5]
    assert not producer.errors, "delivery failures: %s" % producer.errors[:5]
    assert producer.unflushed == 0, "%d records never delivered" % producer.unflushed
    assert len(producer.acked) > 0
    ids = [b.id for b in brokers]
    wait_converged(zkc, topic, nparts, ids, converge_timeout)
    watcher.stop()
    by_id = {b.id: b for b in brokers}
    max_acked = {p: -1 for p in range(nparts)}
    for (p, off) in producer.acked:
        max_acked[p] = max(max_acked[p], off)

    c = Consumer({"bootstrap.servers": bootstrap(brokers), "group.id": "fault-checker",
                  "enable.auto.commit": False, "enable.partition.eof": False,
                  "auto.offset.reset": "earliest"})
    try:
        # the leaders' HW, once it covers every acknowledged record
        hws = {}
        for p in range(nparts):
            def hw_past_acked():
                h = high_watermark(c, topic, p)
                return h if h is not None and h > max_acked[p] else None
            hws[p] = wait_for(hw_past_acked, 30, "the HW of %s-%d to pass %d" % (topic, p, max_acked[p]), 0.2)

        # (b) in-sync replicas identical up to the HW, batch by batch
        for p in range(nparts):
            s = state(zkc, topic, p)
            isr = [by_id[i] for i in s["isr"]]
            deadline = time.monotonic() + 30  # followers may still be fetching the last batches
            while True:
                why = compare_replicas(isr, topic, p, hws[p])
                if why is None:
                    break
                assert time.monotonic() < deadline, "(b) %s" % why
                time.sleep(0.2)

        # (a) every acknowledged record at its offset, read from the leader
        got = {}
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(nparts)])
        top = {p: -1 for p in range(nparts)}

        def drain():
            for m in c.consume(1000, 0.2):
                if m.error() is not None:
                    raise AssertionError("consume error: %s" % m.error())
                got[(m.partition(), m.offset())] = m.value()
                top[m.partition()] = max(top[m.partition()], m.offset())
            return all(top[p] >= hws[p] - 1 for p in range(nparts))
        wait_for(drain, 60, "reading %s up to the HW %s" % (topic, hws), 0)
    finally:
        c.close()
    missing = [(pos, v) for pos, v in sorted(producer.acked.items()) if got.get(pos) != v]
    assert not missing, "(a) %d of %d acknowledged records are not at their offset, e.g. %s (found %s)" % (
        len(missing), len(producer.acked), missing[:3], [got.get(pos) for pos, _ in missing[:3]])

    # (c) leader always in the ISR
    assert watcher.samples, "the watcher saw no state"
    assert not watcher.violations, "(c) leader outside the ISR: %s" % watcher.violations[:5]
