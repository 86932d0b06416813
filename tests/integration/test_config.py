"""tests/integration/test_config.py: a bad configuration value names the key and keeld refuses to
start; an unknown key is only a warning; --override wins over the file."""
import os
import subprocess

from keelharness import KEELD, Broker, wait_for


def run_keeld(args, timeout=20):
    return subprocess.run([KEELD] + args, capture_output=True, timeout=timeout)


def test_bad_value_names_key(zk, chroot, tmp_path):
    for key, value in [("log.segment.bytes", "abc"), ("num.partitions", "-3"),
                       ("auto.create.topics.enable", "maybe"), ("listeners", "PLAINTEXT://:notaport"),
                       ("message.max.bytes", "99999999999999"), ("max.connections.per.ip", "0"),
                       ("max.connections.per.ip.overrides", "127.0.0.1"),
                       ("replica.socket.timeout.ms", "100")]:
        b = Broker(zk.connect + chroot, 1, {key: value})
        try:
            r = run_keeld([b.config])
            assert r.returncode != 0, key
            assert key.encode() in r.stderr, (key, r.stderr)
        finally:
            b.close()


def test_missing_zookeeper_connect(tmp_path):
    cfg = tmp_path / "s.properties"
    cfg.write_text("broker.id=1\n")
    r = run_keeld([str(cfg)])
    assert r.returncode != 0 and b"zookeeper.connect" in r.stderr


def test_unknown_key_warns_and_override_applies(zk, chroot, cluster):
    b = cluster(1, {"no.such.key": "1"}, start=False)[0]
    b.start(args=["--override", "num.partitions=4"])
    assert "no.such.key" in b.log()
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient
    p = Producer({"bootstrap.servers": b.bootstrap})
    p.produce("ov", value=b"x")
    assert p.flush(30) == 0
    md = AdminClient({"bootstrap.servers": b.bootstrap}).list_topics("ov", timeout=10)
    assert len(md.topics["ov"].partitions) == 4


def test_help_and_version():
    assert b"usage" in run_keeld(["--help"]).stdout
    assert run_keeld(["--version"]).stdout.startswith(b"keeld ")


def find_coordinator(port, group):
    """FindCoordinator v0 over a raw socket: (error, node id, host, port)."""
    import struct
    from kwire import classic_call
    key = group.encode()
    r = classic_call(port, 10, 0, struct.pack(">h", len(key)) + key)
    err, node, hlen = struct.unpack_from(">hih", r, 0)
    return err, node, r[8:8 + hlen].decode(), struct.unpack_from(">i", r, 8 + hlen)[0]


def test_clients_get_the_endpoints_of_the_listener_they_came_in_on(cluster, zkc):
    """Two listeners: brokers replicate over INTERNAL (inter.broker.listener.name) and a client
    that came in on EXTERNAL is told every broker's EXTERNAL endpoint (its advertised host and
    port), in Metadata and FindCoordinator, as Kafka answers per listener; broker.rack is in
    the registration."""
    import json
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic
    from keelharness import free_port, wait_for
    bs = cluster(2, {"listener.security.protocol.map": "INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT",
                     "inter.broker.listener.name": "INTERNAL", "broker.rack": "r1"}, start=False)
    for b in bs:
        b.ext = free_port()
        lines = [l for l in open(b.config).read().splitlines() if not l.startswith("listeners=")]
        lines += ["listeners=INTERNAL://127.0.0.1:%d,EXTERNAL://127.0.0.1:%d" % (b.port, b.ext),
                  "advertised.listeners=INTERNAL://127.0.0.1:%d,EXTERNAL://localhost:%d" % (b.port, b.ext)]
        open(b.config, "w").write("\n".join(lines) + "\n")
        b.start()
    internal = AdminClient({"bootstrap.servers": bs[0].bootstrap})
    external = AdminClient({"bootstrap.servers": "localhost:%d" % bs[0].ext})
    assert sorted((m.id, m.host, m.port) for m in internal.list_topics(timeout=10).brokers.values()) == \
        sorted((b.id, "127.0.0.1", b.port) for b in bs)
    assert sorted((m.id, m.host, m.port) for m in external.list_topics(timeout=10).brokers.values()) == \
        sorted((b.id, "localhost", b.ext) for b in bs)
    reg = json.loads(zkc.get("/brokers/ids/%d" % bs[0].id)[0])
    assert reg["rack"] == "r1" and reg["endpoints"] == ["INTERNAL://127.0.0.1:%d" % bs[0].port,
                                                        "EXTERNAL://localhost:%d" % bs[0].ext]
    external.create_topics([NewTopic("two", 2, 2)])["two"].result(30)
    wait_for(lambda: all(p.leader >= 0 and len(p.isrs) == 2 for p in
                         external.list_topics("two", timeout=5).topics["two"].partitions.values()), 30, "ISRs")
    p = Producer({"bootstrap.servers": "localhost:%d" % bs[1].ext, "acks": "all"})
    for i in range(20):
        p.produce("two", value=b"v%d" % i, partition=i % 2)
    assert p.flush(30) == 0
    c = Consumer({"bootstrap.servers": "localhost:%d" % bs[1].ext, "group.id": "g", "enable.partition.eof": False})
    c.assign([TopicPartition("two", 0, 0), TopicPartition("two", 1, 0)])
    got = []
    wait_for(lambda: got.extend(m.value() for m in c.consume(20, 0.5) if not m.error()) or len(got) >= 20, 30, "records")
    c.close()
    assert sorted(got) == sorted(b"v%d" % i for i in range(20))
    coord = wait_for(lambda: (lambda r: r if r[0] == 0 else None)(find_coordinator(bs[0].ext, "g")), 30, "a coordinator")
    ext_of = {b.id: b.ext for b in bs}
    assert coord[2:] == ("localhost", ext_of[coord[1]])
    coord = find_coordinator(bs[0].port, "g")
    assert coord[0] == 0 and coord[2:] == ("127.0.0.1", next(b.port for b in bs if b.id == coord[1]))


def test_topic_configs_are_checked_as_kafka_does(cluster, zk, chroot, zkc):
    """An unknown topic config name or a value Kafka would refuse fails CreateTopics with
    INVALID_CONFIG and keel-topics.sh --zookeeper with an error, and creates nothing; a bad
    value written straight into /config/topics/<t> is ignored (the broker's default applies)
    rather than read as 0."""
    import pytest
    from confluent_kafka import KafkaError, KafkaException, Producer
    from confluent_kafka.admin import AdminClient, NewTopic
    from keelharness import KEEL_ADMIN, wait_for
    b = cluster(1)[0]
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    for cfg, words in (({"segment.ms": "1d"}, "segment.ms"), ({"segmnet.bytes": "1"}, "Unknown topic config name"),
                       ({"min.insync.replicas": "0"}, "at least 1")):
        with pytest.raises(KafkaException) as e:
            admin.create_topics([NewTopic("badcfg", 1, 1, config=cfg)])["badcfg"].result(30)
        assert e.value.args[0].code() == KafkaError.INVALID_CONFIG and words in str(e.value), str(e.value)
    r = subprocess.run([KEEL_ADMIN, "topics", "--zookeeper", zk.connect + chroot,
                        "--create", "--topic", "badzk", "--partitions", "1", "--replication-factor", "1",
                        "--config", "max.message.bytes=abc"], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "max.message.bytes" in r.stderr, r.stderr
    assert not zkc.exists("/brokers/topics/badcfg") and not zkc.exists("/brokers/topics/badzk")
    admin.create_topics([NewTopic("direct", 1, 1)])["direct"].result(30)
    wait_for(lambda: admin.list_topics("direct", timeout=5).topics["direct"].partitions[0].leader >= 0, 30, "leader")
    conf = b'{"version":1,"config":{"max.message.bytes":"abc"}}'
    if zkc.exists("/config/topics/direct"):
        zkc.set("/config/topics/direct", conf)
    else:
        zkc.create("/config/topics/direct", conf, makepath=True)
    wait_for(lambda: "max.message.bytes" in b.log() and "ignoring it" in b.log(), 20, "the bad value noticed")
    p = Producer({"bootstrap.servers": b.bootstrap})
    p.produce("direct", value=b"x" * 1000, partition=0)
    assert p.flush(30) == 0


def socket_memory(port, client):
    """The broker's side of the connection from client (a connected socket): ss's socket memory
    line (rb = receive buffer, tb = send buffer) and timer column."""
    cport = client.getsockname()[1]
    out = subprocess.run(["ss", "-tmonH", "state", "established", "( sport = :%d and dport = :%d )" % (port, cport)],
                         capture_output=True, text=True, timeout=10, check=True).stdout
    assert "skmem" in out, out
    return out


def test_socket_buffer_sizes_apply_to_client_connections(cluster):
    import re
    import socket
    from kwire import classic_call
    b = cluster(1, {"socket.receive.buffer.bytes": "50000", "socket.send.buffer.bytes": "40000"})[0]
    with socket.create_connection(("127.0.0.1", b.port)) as s:
        classic_call(b.port, 18, 0, b"")  # the broker answers: it has accepted connections
        out = socket_memory(b.port, s)
    # Linux doubles what SO_RCVBUF and SO_SNDBUF ask for, for its own bookkeeping
    assert int(re.search(r"rb(\d+)", out).group(1)) == 2 * 50000, out
    assert int(re.search(r"tb(\d+)", out).group(1)) == 2 * 40000, out
    assert "keepalive" in out, out


def answers(s):
    """Does the broker answer an ApiVersions v0 on the connected socket s (False: closed)?"""
    import struct
    hdr = struct.pack(">hhih", 18, 0, 5, 4) + b"test"
    try:
        s.sendall(struct.pack(">i", len(hdr)) + hdr)
        size = s.recv(4)
        if len(size) < 4:
            return False
        want, got = struct.unpack(">i", size)[0], b""
        while len(got) < want:
            chunk = s.recv(want - len(got))
            if not chunk:
                return False
            got += chunk
        return struct.unpack_from(">i", got)[0] == 5
    except (ConnectionResetError, BrokenPipeError):
        return False


def test_max_connections_per_ip_refuses_connections_past_the_limit(cluster):
    """max.connections.per.ip.overrides (a name resolved to its addresses) caps the connections
    from 127.0.0.1; those past it are closed at once, the others keep working, and a closed one
    frees its place. (The broker's own controller connection counts too, as in Kafka.)"""
    import socket
    b = cluster(1, {"max.connections.per.ip": "1000", "max.connections.per.ip.overrides": "localhost:4"})[0]
    socks = [socket.create_connection(("127.0.0.1", b.port), timeout=10) for _ in range(5)]
    try:
        ok = [answers(s) for s in socks]
        assert ok.count(True) >= 2 and ok[-1] is False, ok  # the fifth is over 4 whatever else
        assert all(answers(s) for s, good in zip(socks, ok) if good)  # the others still work
        assert "refused a connection from 127.0.0.1" in b.log()
    finally:
        for s in socks:
            s.close()
    wait_for(lambda: answers(socket.create_connection(("127.0.0.1", b.port), timeout=10)), 10,
             "a place freed by closed connections")


def test_idle_connections_are_closed_after_connections_max_idle_ms(cluster):
    import socket
    import time
    b = cluster(1, {"connections.max.idle.ms": "1500"})[0]
    idle = socket.create_connection(("127.0.0.1", b.port), timeout=10)
    busy = socket.create_connection(("127.0.0.1", b.port), timeout=10)
    try:
        assert answers(idle) and answers(busy)
        deadline = time.time() + 4.5
        while time.time() < deadline:  # a request every half second keeps a connection open
            assert answers(busy)
            time.sleep(0.5)
        idle.settimeout(10)
        assert idle.recv(1) == b""  # the broker closed the idle one
        assert answers(busy)
    finally:
        idle.close()
        busy.close()


def test_max_connections_holds_new_connections_until_one_closes(cluster):
    """max.connections: past it the broker stops accepting (as Kafka's acceptor waits for a
    slot); a connection made meanwhile waits in the backlog and is served once another closes."""
    import socket
    b = cluster(1, {"max.connections": "4"})[0]
    # the broker's own controller connection may hold a slot: fill what is left
    socks = []
    try:
        while True:
            s = socket.create_connection(("127.0.0.1", b.port), timeout=1.5)
            socks.append(s)
            try:
                if not answers(s):
                    break
            except socket.timeout:
                break  # waiting in the backlog, unanswered
            assert len(socks) <= 4
        assert len(socks) >= 3, len(socks)  # at most one slot was the broker's own
        waiting = socks.pop()
        assert "connections open (max.connections)" in b.log()
        socks.pop(0).close()
        waiting.settimeout(10)
        size = waiting.recv(4)  # the ApiVersions sent while it waited is answered now
        assert len(size) == 4
        waiting.close()
    finally:
        for s in socks:
            s.close()


def test_running_out_of_file_descriptors_pauses_accepting(cluster):
    """Out of file descriptors, accept fails at once for every pending connection: keeld pauses
    accepting instead of spinning on it (one warning per pause, little CPU), and serves the
    waiting connections once descriptors are free again."""
    import socket
    import time
    b = cluster(1)[0]
    hard = [line.split()[4] for line in open("/proc/%d/limits" % b.pid) if line.startswith("Max open files")][0]
    soft = len(os.listdir("/proc/%d/fd" % b.pid)) + 8  # room for 8 more connections
    subprocess.run(["prlimit", "--pid", str(b.pid), "--nofile=%d:%s" % (soft, hard)], check=True, timeout=10)
    socks = [socket.create_connection(("127.0.0.1", b.port), timeout=10) for _ in range(30)]
    try:
        cpu0, t0 = cpu_seconds(b.pid), time.time()
        time.sleep(2)
        busy = (cpu_seconds(b.pid) - cpu0) / (time.time() - t0)
        assert busy < 0.5, busy  # a busy loop on accept would take a whole CPU
        warnings = b.log().count("not accepting connections for")
        assert 1 <= warnings <= 40, warnings  # about one per 100 ms pause, not one per try
        subprocess.run(["prlimit", "--pid", str(b.pid), "--nofile=%s:%s" % (hard, hard)], check=True, timeout=10)
        for s in socks:
            assert answers(s)
    finally:
        for s in socks:
            s.close()


def cpu_seconds(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
