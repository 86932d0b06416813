"""tests/integration/test_reassign_tool.py: keel-reassign-partitions.sh. With real ZooKeeper and
brokers: --generate (its output and the proposal's shape) both ways, --zookeeper --execute (the
exact znode it writes, the refusal while one exists), --zookeeper --verify, bad files and usage
errors. The --bootstrap-server path of --execute/--verify/--cancel/--list runs against a fake
controller written here from Kafka's message specs, which also checks the bytes the tool sends."""
import json
import signal
import socket
import socketserver
import struct
import threading

import pytest

from keelharness import wait_for
from test_tour import script

TOPIC = "mv"
# partition 0 on 1,2; 1 on 2,3; 2 on 3,1; 3 on 1,3
ASSIGN = [[1, 2], [2, 3], [3, 1], [1, 3]]
SAVE = "Save this to use as the --reassignment-json-file option during rollback"
CANNOT = ("Cannot execute because there is an existing partition assignment.  Use --additional to "
          "override this and create a new partition assignment in addition to the existing one. "
          "The --additional flag can also be used to change the throttle by resubmitting the "
          "current reassignment.")
PREFIX = "keel-reassign-partitions.sh: "


def reassign(*args):
    return script("keel-reassign-partitions.sh", *args, check=False)


def out_err(r):
    return r.stdout.decode(), r.stderr.decode()


def write(tmp_path, name, obj):
    p = tmp_path / name
    p.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return str(p)


def kafka_file(parts):
    """Kafka's formatAsReassignmentJson: compact, sorted, log_dirs "any" per replica."""
    return json.dumps({"version": 1, "partitions": [
        {"topic": t, "partition": p, "replicas": r, "log_dirs": ["any"] * len(r)}
        for t, p, r in sorted(parts)]}, separators=(",", ":"))


def rack_unaware(brokers, nparts, rf, start, shift):
    """Kafka's AdminUtils.assignReplicasToBrokersRackUnaware with a given start and shift."""
    n, out = len(brokers), []
    for p in range(nparts):
        if p > 0 and p % n == 0:
            shift += 1
        first = (p + start) % n
        out.append([brokers[first]] + [brokers[(first + 1 + (shift + j) % (n - 1)) % n]
                                       for j in range(rf - 1)])
    return out


def assert_kafka_proposal(proposed, brokers, nparts, rf):
    candidates = [rack_unaware(brokers, nparts, rf, s, h)
                  for s in range(len(brokers)) for h in range(len(brokers))]
    assert proposed in candidates, (proposed, brokers)


@pytest.fixture
def topic_cluster(cluster, zk, chroot, zkc):
    """Three brokers and TOPIC with the ASSIGN replicas; returns (brokers, --zookeeper value)."""
    bs = cluster(3)
    zkarg = zk.connect + chroot
    script("keel-topics.sh", "--zookeeper", zkarg, "--create", "--topic", TOPIC,
           "--replica-assignment", ",".join(":".join(map(str, r)) for r in ASSIGN))
    wait_for(lambda: all(zkc.exists("/brokers/topics/%s/partitions/%d/state" % (TOPIC, p))
                         for p in range(len(ASSIGN))), 30, "partition states")
    return bs, zkarg


# ------------------------------------------------------------------ --generate

def check_generate(r, brokers):
    out, err = out_err(r)
    assert r.returncode == 0, out + err
    lines = out.split("\n")
    assert lines[0] == "Current partition replica assignment"
    assert lines[1] == kafka_file([(TOPIC, p, rs) for p, rs in enumerate(ASSIGN)])
    assert lines[2] == ""
    assert lines[3] == "Proposed partition reassignment configuration"
    assert lines[5:] == [""]
    prop = json.loads(lines[4])
    assert lines[4] == kafka_file([(e["topic"], e["partition"], e["replicas"])
                                   for e in prop["partitions"]])
    assert [(e["topic"], e["partition"]) for e in prop["partitions"]] == \
        [(TOPIC, p) for p in range(len(ASSIGN))]
    assert_kafka_proposal([e["replicas"] for e in prop["partitions"]], brokers, len(ASSIGN), 2)


def test_generate(topic_cluster, tmp_path):
    bs, zkarg = topic_cluster
    topics = write(tmp_path, "topics.json", {"version": 1, "topics": [{"topic": TOPIC}]})
    for server in (("--zookeeper", zkarg), ("--bootstrap-server", bs[1].bootstrap)):
        # the broker learns of the topic a moment after its znodes exist
        r = wait_for(lambda: (lambda r: r if r.returncode == 0 else None)(reassign(
            *server, "--generate", "--topics-to-move-json-file", topics, "--broker-list", "1,2,3")),
            20, "generate with %s" % server[0])
        check_generate(r, [1, 2, 3])
        # onto two of them; a broker that is not alive is left out, as Kafka does
        for blist in ("3,1", "1,3,9"):
            r = reassign(*server, "--generate", "--topics-to-move-json-file", topics,
                         "--broker-list", blist)
            check_generate(r, [1, 3])
        # too few brokers, a duplicate, an unknown topic: errors naming the problem
        r = reassign(*server, "--generate", "--topics-to-move-json-file", topics, "--broker-list", "2")
        assert r.returncode == 1 and out_err(r) == (
            "", PREFIX + "Replication factor: 2 larger than available brokers: 1.\n")
        r = reassign(*server, "--generate", "--topics-to-move-json-file", topics,
                     "--broker-list", "1,2,1")
        assert r.returncode == 1 and out_err(r)[1] == \
            PREFIX + "Broker list contains duplicate entries: 1\n"
        nope = write(tmp_path, "nope.json", {"topics": [{"topic": TOPIC}, {"topic": "nope"}]})
        r = reassign(*server, "--generate", "--topics-to-move-json-file", nope, "--broker-list", "1,2")
        assert r.returncode == 1 and out_err(r) == ("", PREFIX + "Topic 'nope' does not exist\n")
        dup = write(tmp_path, "dup.json", {"topics": [{"topic": TOPIC}, {"topic": TOPIC}]})
        r = reassign(*server, "--generate", "--topics-to-move-json-file", dup, "--broker-list", "1,2")
        assert r.returncode == 1 and out_err(r)[1] == \
            PREFIX + "List of topics to reassign contains duplicate entries: %s\n" % TOPIC


# ------------------------------------------------------------------ --zookeeper --execute, --verify

def assignment(zkc):
    return {int(p): r for p, r in json.loads(zkc.get("/brokers/topics/%s" % TOPIC)[0])["partitions"].items()}


def test_zookeeper_execute_and_verify(topic_cluster, zkc, tmp_path):
    bs, zkarg = topic_cluster
    target = [(TOPIC, 2, [2, 3]), (TOPIC, 0, [3, 1, 2])]  # out of order on purpose
    plan = write(tmp_path, "plan.json", {"version": 1, "partitions": [
        {"topic": t, "partition": p, "replicas": r} for t, p, r in target]})
    r = reassign("--zookeeper", zkarg, "--execute", "--reassignment-json-file", plan,
                 "--throttle", "1000")
    out, err = out_err(r)
    assert r.returncode == 0, out + err
    assert out == "Current partition replica assignment\n\n%s\n\n%s\n" \
        "Successfully started partition reassignments for %s-0,%s-2\n" % (
            kafka_file([(TOPIC, 0, ASSIGN[0]), (TOPIC, 2, ASSIGN[2])]), SAVE, TOPIC, TOPIC)
    assert err == PREFIX + "warning: keel has no replication quotas; --throttle is ignored\n"
    # the controller carries both out and removes the znode when they are done
    wait_for(lambda: zkc.exists("/admin/reassign_partitions") is None and
             assignment(zkc)[0] == [3, 1, 2] and assignment(zkc)[2] == [2, 3], 40,
             "the controller to finish the reassignment")
    r = reassign("--zookeeper", zkarg, "--verify", "--reassignment-json-file", plan)
    assert r.returncode == 0 and out_err(r) == (
        "Status of partition reassignment:\n"
        "Reassignment of partition %s-0 is complete.\n"
        "Reassignment of partition %s-2 is complete.\n" % (TOPIC, TOPIC), "")

    # a new replica that cannot catch up (stopped) keeps the reassignment, and the znode, in
    # flight: a second --execute is refused and the znode left alone; --verify says so
    ctl = json.loads(zkc.get("/controller")[0])["brokerid"]
    cur = assignment(zkc)
    p, x = next((p, b) for p in sorted(cur) for b in bs if b.id != ctl and b.id not in cur[p])
    q = next(q for q in sorted(cur) if q != p)
    slow = write(tmp_path, "slow.json", {"partitions": [{"topic": TOPIC, "partition": p,
                                                         "replicas": cur[p] + [x.id]}]})
    other = write(tmp_path, "other.json", {"partitions": [{"topic": TOPIC, "partition": q,
                                                           "replicas": cur[q][::-1]}]})
    x.signal(signal.SIGSTOP)
    try:
        r = reassign("--zookeeper", zkarg, "--execute", "--reassignment-json-file", slow)
        assert r.returncode == 0, out_err(r)
        znode = ('{"version":1,"partitions":[{"topic":"%s","partition":%d,"replicas":[%s]}]}'
                 % (TOPIC, p, ",".join(map(str, cur[p] + [x.id]))))
        wait_for(lambda: json.loads(zkc.get("/brokers/topics/%s" % TOPIC)[0])["adding_replicas"],
                 20, "the reassignment to start")
        assert zkc.get("/admin/reassign_partitions")[0].decode() == znode
        r = reassign("--zookeeper", zkarg, "--execute", "--reassignment-json-file", other)
        assert r.returncode == 1 and out_err(r) == ("", PREFIX + CANNOT + "\n")
        assert zkc.get("/admin/reassign_partitions")[0].decode() == znode
        r = reassign("--zookeeper", zkarg, "--verify", "--reassignment-json-file", slow)
        assert r.returncode == 0 and out_err(r) == (
            "Status of partition reassignment:\n"
            "Reassignment of partition %s-%d is still in progress.\n" % (TOPIC, p), "")
    finally:
        x.signal(signal.SIGCONT)
    wait_for(lambda: zkc.exists("/admin/reassign_partitions") is None, 40,
             "the slow reassignment to finish")

    # once the znode lists a partition no more, its replicas decide
    cur = assignment(zkc)
    mixed = write(tmp_path, "mixed.json", {"partitions": [
        {"topic": TOPIC, "partition": p, "replicas": cur[p], "log_dirs": ["any"] * len(cur[p])},
        {"topic": TOPIC, "partition": q, "replicas": cur[q][::-1]},
        {"topic": TOPIC, "partition": 9, "replicas": [1]}]})
    r = reassign("--zookeeper", zkarg, "--verify", "--reassignment-json-file", mixed)
    lines = {
        p: "Reassignment of partition %s-%d is complete.\n" % (TOPIC, p),
        q: "There is no active reassignment of partition %s-%d, but replica set is %s rather "
           "than %s.\n" % (TOPIC, q, ",".join(map(str, cur[q])), ",".join(map(str, cur[q][::-1]))),
    }
    assert r.returncode == 0 and out_err(r) == (
        "Status of partition reassignment:\n" + lines[min(p, q)] + lines[max(p, q)] +
        "There is no active reassignment of partition %s-9, but replica set is  rather than "
        "1.\n" % TOPIC, "")

    # with the znode gone a new one starts
    r = reassign("--zookeeper", zkarg, "--execute", "--reassignment-json-file", other)
    assert r.returncode == 0, out_err(r)
    assert out_err(r)[0].endswith("Successfully started partition reassignment for %s-%d\n" % (TOPIC, q))
    wait_for(lambda: assignment(zkc)[q] == cur[q][::-1], 40, "the last reassignment")


BAD_FILES = [
    ("{", "partition reassignment data is not"),
    ('{"version":2,"partitions":[{"topic":"mv","partition":0,"replicas":[1]}]}',
     "partition reassignment data is not"),
    ('{"partitions":[{"topic":"mv","partition":0,"replicas":["1"]}]}',
     "partition reassignment data is not"),
    ('{"partitions":[{"topic":"mv","replicas":[1]}]}', "partition reassignment data is not"),
    ('{"version":1}', "Partition reassignment list cannot be empty"),
    ('{"partitions":[]}', "Partition reassignment list cannot be empty"),
    ('{"partitions":[{"topic":"mv","partition":0,"replicas":[]}]}',
     "Partition replica list cannot be empty"),
    ('{"partitions":[{"topic":"mv","partition":1,"replicas":[1]},{"topic":"mv","partition":0,'
     '"replicas":[2]},{"topic":"mv","partition":1,"replicas":[3]},{"topic":"mv","partition":1,'
     '"replicas":[2]},{"topic":"mv","partition":0,"replicas":[3]}]}',
     "Partition reassignment contains duplicate topic partitions: mv-0,mv-1"),
    ('{"partitions":[{"topic":"mv","partition":0,"replicas":[1,2,1,2,3]},'
     '{"topic":"mv","partition":1,"replicas":[3,3]}]}',
     "Partition replica lists may not contain duplicate entries: mv-0 contains multiple entries "
     "for 1,2. mv-1 contains multiple entries for 3"),
    ('{"partitions":[{"topic":"mv","partition":7,"replicas":[1]},{"topic":"nope","partition":0,'
     '"replicas":[1]},{"topic":"mv","partition":0,"replicas":[1]}]}',
     "The proposed assignment contains non-existent partitions: mv-7,nope-0"),
    ('{"partitions":[{"topic":"mv","partition":0,"replicas":[1,9,8]},'
     '{"topic":"mv","partition":1,"replicas":[9]}]}',
     "The proposed assignment contains non-existent brokerIDs: 9,8"),
    ('{"partitions":[{"topic":"mv","partition":0,"replicas":[1,2],"log_dirs":["any","/data"]}]}',
     'log directory "/data" for replica 2 of partition mv-0: keel cannot move replicas between '
     'log directories; only "any" is supported'),
    ('{"partitions":[{"topic":"mv","partition":0,"replicas":[1,2],"log_dirs":["any"]}]}',
     "Size of replicas list [1,2] is different from size of log dirs list [any] for partition mv-0"),
]


def test_bad_files_refused(topic_cluster, zkc, tmp_path):
    bs, zkarg = topic_cluster
    for i, (text, msg) in enumerate(BAD_FILES):
        f = write(tmp_path, "bad%d.json" % i, text)
        r = reassign("--zookeeper", zkarg, "--execute", "--reassignment-json-file", f)
        out, err = out_err(r)
        assert r.returncode == 1, (text, out, err)
        assert out == "", (text, out)
        assert err.startswith(PREFIX) and msg in err and err.count("\n") == 1, (text, err)
        assert zkc.exists("/admin/reassign_partitions") is None, text
    r = reassign("--zookeeper", zkarg, "--execute", "--reassignment-json-file",
                 str(tmp_path / "missing.json"))
    assert r.returncode == 1 and "missing.json: No such file or directory" in out_err(r)[1]
    # --verify reads the file the same way
    f = write(tmp_path, "broken.json", "not json")
    r = reassign("--zookeeper", zkarg, "--verify", "--reassignment-json-file", f)
    assert r.returncode == 1 and "partition reassignment data is not" in out_err(r)[1]


def test_help_and_usage_errors(tmp_path):
    r = reassign("--help")
    assert r.returncode == 0 and r.stdout.decode().startswith("Usage: keel-reassign-partitions.sh")
    f = write(tmp_path, "f.json", {"partitions": []})
    cases = [
        ((), "Command must include exactly one action: --generate, --execute, --verify, --cancel, "
             "--list"),
        (("--zookeeper", "h:1", "--execute", "--verify", "--reassignment-json-file", f),
         "Command must include exactly one action"),
        (("--execute", "--reassignment-json-file", f), "Please specify --bootstrap-server"),
        (("--zookeeper", "h:1", "--execute"), 'Missing required argument "[reassignment-json-file]"'),
        (("--zookeeper", "h:1", "--generate", "--topics-to-move-json-file", f),
         'Missing required argument "[broker-list]"'),
        (("--zookeeper", "h:1", "--list"), 'Option "[zookeeper]" can\'t be used with action "[list]"'),
        (("--zookeeper", "h:1", "--cancel", "--reassignment-json-file", f),
         'Option "[zookeeper]" can\'t be used with action "[cancel]"'),
        (("--bootstrap-server", "h:1", "--verify", "--reassignment-json-file", f, "--throttle", "5"),
         'Option "[throttle]" can\'t be used with action "[verify]"'),
        (("--zookeeper", "h:1", "--execute", "--reassignment-json-file", f, "--additional"),
         'You must specify --bootstrap-server when using "[additional]"'),
        (("--bootstrap-server", "h:1", "--execute", "--reassignment-json-file", f, "--throttle", "x"),
         "--throttle: 'x' is not a number"),
        (("--bootstrap-server", "h:1", "--list", "--frobnicate"), "'--frobnicate' is not a recognized"),
    ]
    for args, msg in cases:
        r = reassign(*args)
        out, err = out_err(r)
        assert r.returncode == 1 and out == "", (args, out, err)
        assert err.startswith(PREFIX + msg) and "Usage: keel-reassign-partitions.sh" in err, (args, err)


# ------------------------------------------------------------------ --bootstrap-server, faked

class Buf:
    """Kafka's primitives, classic and compact (KIP-482), written from the protocol guide."""

    def __init__(self, data=b""):
        self.data, self.pos = data, 0

    def take(self, n):
        assert self.pos + n <= len(self.data), "short request"
        v = self.data[self.pos:self.pos + n]
        self.pos += n
        return v

    def i16(self):
        return struct.unpack(">h", self.take(2))[0]

    def i32(self):
        return struct.unpack(">i", self.take(4))[0]

    def uvarint(self):
        v = shift = 0
        while True:
            b = self.take(1)[0]
            v |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return v

    def string(self):
        n = self.i16()
        return None if n < 0 else self.take(n).decode()

    def cstring(self):
        n = self.uvarint() - 1
        return None if n < 0 else self.take(n).decode()

    def carray(self, elem):
        n = self.uvarint() - 1
        return None if n < 0 else [elem() for _ in range(n)]

    def tags(self):
        assert self.uvarint() == 0, "unexpected tagged fields"


def uvarint(v):
    out = b""
    while v >= 0x80:
        out += bytes([v & 0x7F | 0x80])
        v >>= 7
    return out + bytes([v])


def cstr(s):
    return uvarint(0) if s is None else uvarint(len(s) + 1) + s.encode()


def carr(items, enc):
    return uvarint(0) if items is None else uvarint(len(items) + 1) + b"".join(enc(x) for x in items)


def cints(v):
    return carr(v, lambda i: struct.pack(">i", i))


def by_topic(parts):
    topics = {}
    for t, p, *rest in sorted(parts):
        topics.setdefault(t, []).append((p, *rest))
    return sorted(topics.items())


class FakeController(socketserver.ThreadingTCPServer):
    """One broker (id 1, the controller) answering Metadata v1 and Alter/ListPartitionReassignments
    v0. Tests set topics, ongoing, alter_errors, not_controller; requests are recorded."""
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), FakeHandler)
        self.port = self.server_address[1]
        self.brokers = [1, 2, 3]
        self.topics = {}          # name -> [replicas of partition 0, 1, ...]
        self.ongoing = []         # (topic, partition, replicas, adding, removing)
        self.alter_errors = {}    # (topic, partition) -> (code, message or None)
        self.not_controller = 0   # answer this many Alter requests with NOT_CONTROLLER first
        self.empty_topics = []    # topic entries without partitions, added to every answer
        self.requests = []        # (api key, decoded body)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def bootstrap(self):
        return "127.0.0.1:%d" % self.port


class FakeHandler(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            hdr = self.recv(4)
            if not hdr:
                return
            b = Buf(self.recv(struct.unpack(">i", hdr)[0]))
            key, ver, corr, client = b.i16(), b.i16(), b.i32(), b.string()
            assert client == "keel-admin"
            if key == 3:
                assert ver == 1
                body = self.metadata(b)
                head = struct.pack(">i", corr)
            else:
                assert (key, ver) in ((45, 0), (46, 0)), (key, ver)
                b.tags()  # request header v2
                body = self.alter(b) if key == 45 else self.list(b)
                head = struct.pack(">i", corr) + uvarint(0)  # response header v1
            assert b.pos == len(b.data), "trailing bytes in request %d" % key
            resp = head + body
            self.request.sendall(struct.pack(">i", len(resp)) + resp)

    def recv(self, n):
        data = b""
        while len(data) < n:
            chunk = self.request.recv(n - len(data))
            if not chunk:
                return data
            data += chunk
        return data

    def metadata(self, b):
        n = b.i32()
        names = [b.string() for _ in range(max(n, 0))]
        assert not names, "the tool must never ask for topics by name (auto-creation)"
        srv = self.server
        srv.requests.append((3, n))
        out = struct.pack(">i", len(srv.brokers))
        for i in srv.brokers:
            out += struct.pack(">ih9sih", i, 9, b"127.0.0.1", srv.port, -1)
        out += struct.pack(">i", 1)  # controller
        topics = sorted(srv.topics.items()) if n < 0 else []
        out += struct.pack(">i", len(topics))
        for name, parts in topics:
            out += struct.pack(">hh", 0, len(name)) + name.encode() + b"\0"
            out += struct.pack(">i", len(parts))
            for p, reps in enumerate(parts):
                ints = struct.pack(">i", len(reps)) + b"".join(struct.pack(">i", r) for r in reps)
                out += struct.pack(">hii", 0, p, reps[0]) + ints + ints
        return out

    def list(self, b):
        timeout = b.i32()
        topics = b.carray(lambda: (b.cstring(), b.carray(b.i32), b.tags())[:2])
        b.tags()
        srv = self.server
        srv.requests.append((46, (timeout, topics)))
        want = None if topics is None else {(t, p) for t, ps in topics for p in ps}
        found = [o for o in srv.ongoing if want is None or (o[0], o[1]) in want]
        return struct.pack(">ih", 0, 0) + cstr(None) + carr(self.with_empty(found), lambda t: (
            cstr(t[0]) + carr(t[1], lambda p: (struct.pack(">i", p[0]) + cints(p[1]) + cints(p[2])
                                                + cints(p[3]) + uvarint(0))) + uvarint(0))) + uvarint(0)

    def with_empty(self, parts):
        return by_topic(parts) + [(t, []) for t in self.server.empty_topics]

    def alter(self, b):
        timeout = b.i32()
        topics = b.carray(lambda: (b.cstring(), b.carray(
            lambda: (b.i32(), b.carray(b.i32), b.tags())[:2]), b.tags())[:2])
        b.tags()
        srv = self.server
        srv.requests.append((45, (timeout, topics)))
        if srv.not_controller > 0:
            srv.not_controller -= 1
            return struct.pack(">ih", 0, 41) + cstr(None) + carr([], None) + uvarint(0)
        res = [(t, p) + srv.alter_errors.get((t, p), (0, None)) for t, ps in topics for p, _ in ps]
        return struct.pack(">ih", 0, 0) + cstr(None) + carr(self.with_empty(res), lambda t: (
            cstr(t[0]) + carr(t[1], lambda p: struct.pack(">ih", p[0], p[1]) + cstr(p[2])
                              + uvarint(0)) + uvarint(0))) + uvarint(0)


@pytest.fixture
def fake():
    srv = FakeController()
    srv.topics = {"a": [[1, 2], [2, 3]], "b": [[3]]}
    yield srv
    srv.shutdown()
    srv.server_close()


def sent(fake, key):
    return [body for k, body in fake.requests if k == key]


def test_bootstrap_list(fake):
    r = reassign("--bootstrap-server", fake.bootstrap, "--list")
    assert r.returncode == 0 and out_err(r) == ("No partition reassignments found.\n", "")
    assert sent(fake, 46) == [(30000, None)]  # null: every reassignment
    fake.ongoing = [("b", 0, [3, 1, 2], [1, 2], [3]), ("a", 1, [2, 3, 1], [1], []),
                    ("a", 0, [1, 2], [], [])]
    fake.empty_topics = ["zz"]  # a topic entry without partitions is no error
    r = reassign("--bootstrap-server", fake.bootstrap, "--list")
    assert r.returncode == 0 and out_err(r) == (
        "Current partition reassignments:\n"
        "a-0: replicas: 1,2.\n"
        "a-1: replicas: 2,3,1. adding: 1.\n"
        "b-0: replicas: 3,1,2. adding: 1,2. removing: 3.\n", "")


def test_bootstrap_execute(fake, tmp_path):
    plan = write(tmp_path, "plan.json", {"partitions": [
        {"topic": "b", "partition": 0, "replicas": [1, 2]},
        {"topic": "a", "partition": 1, "replicas": [3, 1], "log_dirs": ["any", "any"]},
        {"topic": "a", "partition": 0, "replicas": [2, 1]}]})
    fake.not_controller = 2  # the controller "moves" twice: the tool must find it again and resend
    fake.empty_topics = ["zz"]
    r = reassign("--bootstrap-server", fake.bootstrap, "--execute", "--reassignment-json-file", plan)
    out, err = out_err(r)
    assert r.returncode == 0, out + err
    assert out == "Current partition replica assignment\n\n%s\n\n%s\n" \
        "Successfully started partition reassignments for a-0,a-1,b-0\n" % (
            kafka_file([("a", 0, [1, 2]), ("a", 1, [2, 3]), ("b", 0, [3])]), SAVE)
    assert err == ""
    want = (30000, [("a", [(0, [2, 1]), (1, [3, 1])]), ("b", [(0, [1, 2])])])
    assert sent(fake, 45) == [want] * 3
    assert sent(fake, 46) == [(30000, None)]

    # the controller refuses one partition: Kafka's report, exit 1
    fake.requests = []
    fake.alter_errors = {("a", 1): (39, None), ("b", 0): (3, "no such partition here")}
    r = reassign("--bootstrap-server", fake.bootstrap, "--execute", "--reassignment-json-file", plan)
    assert r.returncode == 1 and out_err(r)[1] == PREFIX + "Error reassigning partition(s):\n" \
        "a-1: Replica assignment is invalid.\nb-0: no such partition here\n"
    assert "Successfully" not in out_err(r)[0]

    # another reassignment running: refused unless --additional
    fake.alter_errors = {}
    fake.ongoing = [("c", 0, [1], [], [])]
    r = reassign("--bootstrap-server", fake.bootstrap, "--execute", "--reassignment-json-file", plan)
    assert r.returncode == 1 and out_err(r) == ("", PREFIX + CANNOT + "\n")
    r = reassign("--bootstrap-server", fake.bootstrap, "--execute", "--reassignment-json-file", plan,
                 "--additional", "--replica-alter-log-dirs-throttle", "10")
    assert r.returncode == 0, out_err(r)
    assert out_err(r)[1] == PREFIX + "warning: keel has no replication quotas; " \
        "--replica-alter-log-dirs-throttle is ignored\n"

    # replicas must be live brokers, partitions must exist (checked before anything is sent)
    fake.requests = []
    for parts, msg in (([{"topic": "a", "partition": 0, "replicas": [1, 7]}], "Unknown broker id 7"),
                       ([{"topic": "a", "partition": 5, "replicas": [1]}],
                        "The proposed assignment contains non-existent partitions: a-5")):
        f = write(tmp_path, "x.json", {"partitions": parts})
        r = reassign("--bootstrap-server", fake.bootstrap, "--execute", "--additional",
                     "--reassignment-json-file", f)
        assert r.returncode == 1 and out_err(r) == ("", PREFIX + msg + "\n")
    assert sent(fake, 45) == []


def test_bootstrap_verify_and_cancel(fake, tmp_path):
    fake.topics["a"] = [[2, 1], [2, 3, 1]]
    fake.ongoing = [("a", 1, [2, 3, 1], [1], []), ("c", 0, [1, 2], [], [])]
    plan = write(tmp_path, "plan.json", {"partitions": [
        {"topic": "a", "partition": 1, "replicas": [3, 1]},
        {"topic": "b", "partition": 0, "replicas": [1]},
        {"topic": "a", "partition": 0, "replicas": [2, 1]}]})
    r = reassign("--bootstrap-server", fake.bootstrap, "--verify", "--reassignment-json-file", plan)
    assert r.returncode == 0 and out_err(r) == (
        "Status of partition reassignment:\n"
        "Reassignment of partition a-0 is complete.\n"
        "Reassignment of partition a-1 is still in progress.\n"
        "There is no active reassignment of partition b-0, but replica set is 3 rather than 1.\n", "")

    fake.requests = []
    r = reassign("--bootstrap-server", fake.bootstrap, "--cancel", "--reassignment-json-file", plan)
    assert r.returncode == 0 and out_err(r) == (
        "Successfully cancelled partition reassignment for: a-1\n"
        "None of the specified partition moves are active.\n", "")
    # asked only about the file's partitions; cancelled with null replicas
    assert sent(fake, 46) == [(30000, [("a", [0, 1]), ("b", [0])])]
    assert sent(fake, 45) == [(30000, [("a", [(1, None)])])]

    fake.ongoing = []
    r = reassign("--bootstrap-server", fake.bootstrap, "--cancel", "--reassignment-json-file", plan)
    assert r.returncode == 0 and out_err(r) == (
        "None of the specified partition reassignments are active.\n"
        "None of the specified partition moves are active.\n", "")

    fake.ongoing = [("a", 0, [2, 1, 3], [], [3]), ("a", 1, [2, 3, 1], [1], [])]
    fake.alter_errors = {("a", 0): (85, None)}
    r = reassign("--bootstrap-server", fake.bootstrap, "--cancel", "--reassignment-json-file", plan)
    assert r.returncode == 1 and out_err(r) == ("", PREFIX + "Error cancelling partition "
                                                "reassignment for:\na-0: No partition reassignment "
                                                "is in progress.\n")


def test_bootstrap_unreachable(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    f = write(tmp_path, "f.json", {"topics": [{"topic": "a"}]})
    r = reassign("--bootstrap-server", "127.0.0.1:%d" % port, "--generate",
                 "--topics-to-move-json-file", f, "--broker-list", "1")
    assert r.returncode == 1 and out_err(r) == (
        "", PREFIX + "no broker in 127.0.0.1:%d answered a Metadata request\n" % port)


def test_bootstrap_against_the_controller(topic_cluster, zkc, tmp_path):
    """--execute, --list, --verify and --cancel over --bootstrap-server with keel's controller."""
    bs, _ = topic_cluster
    server = ("--bootstrap-server", bs[0].bootstrap)
    cur = assignment(zkc)
    plan = write(tmp_path, "plan.json", {"partitions": [
        {"topic": TOPIC, "partition": 0, "replicas": cur[0][::-1]}]})
    r = reassign(*server, "--execute", "--reassignment-json-file", plan)
    assert r.returncode == 0, out_err(r)
    assert out_err(r)[0].endswith("Successfully started partition reassignment for %s-0\n" % TOPIC)
    wait_for(lambda: assignment(zkc)[0] == cur[0][::-1], 30, "the reorder")
    r = reassign(*server, "--verify", "--reassignment-json-file", plan)
    assert out_err(r) == ("Status of partition reassignment:\n"
                          "Reassignment of partition %s-0 is complete.\n" % TOPIC, "")

    # a move onto a stopped broker stays in flight: listed, then cancelled
    ctl = json.loads(zkc.get("/controller")[0])["brokerid"]
    cur = assignment(zkc)
    p, x = next((p, b) for p in sorted(cur) for b in bs if b.id != ctl and b.id not in cur[p])
    server = ("--bootstrap-server", next(b for b in bs if b is not x).bootstrap)
    slow = write(tmp_path, "slow.json", {"partitions": [
        {"topic": TOPIC, "partition": p, "replicas": [x.id] + cur[p][1:]}]})
    x.signal(signal.SIGSTOP)
    try:
        r = reassign(*server, "--execute", "--reassignment-json-file", slow)
        assert r.returncode == 0, out_err(r)
        r = reassign(*server, "--list")
        rs = [x.id] + cur[p][1:] + [cur[p][0]]
        assert out_err(r) == ("Current partition reassignments:\n%s-%d: replicas: %s. adding: %d. "
                              "removing: %d.\n" % (TOPIC, p, ",".join(map(str, rs)), x.id, cur[p][0]), "")
        r = reassign(*server, "--verify", "--reassignment-json-file", slow)
        assert out_err(r)[0].endswith("Reassignment of partition %s-%d is still in progress.\n" % (TOPIC, p))
        r = reassign(*server, "--cancel", "--reassignment-json-file", slow)
        assert r.returncode == 0 and out_err(r)[0].startswith(
            "Successfully cancelled partition reassignment for: %s-%d\n" % (TOPIC, p)), out_err(r)
        # back to the original replicas, in RS order minus the added one (Kafka's originReplicas)
        assert assignment(zkc)[p] == [r for r in rs if r != x.id]
        assert sorted(assignment(zkc)[p]) == sorted(cur[p])
        r = reassign(*server, "--list")
        assert out_err(r) == ("No partition reassignments found.\n", "")
    finally:
        x.signal(signal.SIGCONT)
