"""tests/integration/test_tour.py: the issue's user tour with stock tools: kcat metadata, topic
create through keel-topics.sh, keyed produce and read-back with headers, delete via ZooKeeper."""
import glob
import json
import os
import subprocess

from keelharness import KEEL_ADMIN, SRCDIR, wait_for

SCRIPTS = os.path.join(SRCDIR, "scripts")


def kcat(*args, input=None, timeout=30):
    r = subprocess.run(["kcat"] + list(args), input=input, capture_output=True, timeout=timeout)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return r.stdout.decode()


def script(name, *args, check=True, input=None):
    r = subprocess.run([os.path.join(SCRIPTS, name)] + list(args), capture_output=True, input=input,
                       timeout=60, env=dict(os.environ, KEEL_ADMIN=KEEL_ADMIN))
    if check:
        assert r.returncode == 0, (r.stdout + r.stderr).decode(errors="replace")
    return r


def test_kcat_metadata_lists_brokers_and_controller(cluster):
    bs = cluster(3)
    out = wait_for(lambda: (lambda o: o if "3 brokers" in o else None)(kcat("-b", bs[0].bootstrap, "-L")),
                   20, "all three brokers in metadata")
    for b in bs:
        assert "broker %d at 127.0.0.1:%d" % (b.id, b.port) in out
    assert out.count("(controller)") == 1


def test_create_produce_consume_delete(cluster, zk, chroot, zkc):
    b = cluster(1)[0]
    script("keel-topics.sh", "--bootstrap-server", b.bootstrap, "--create", "--topic", "t",
           "--partitions", "6", "--replication-factor", "1")
    data, _ = zkc.get("/brokers/topics/t")
    topic = json.loads(data)
    assert sorted(topic["partitions"]) == [str(i) for i in range(6)]
    assert all(v == [b.id] for v in topic["partitions"].values())
    state = json.loads(zkc.get("/brokers/topics/t/partitions/0/state")[0])
    assert state["leader"] == b.id and state["isr"] == [b.id] and state["leader_epoch"] == 0

    lines = "".join("k%d:value-%d\n" % (i, i) for i in range(200))
    kcat("-b", b.bootstrap, "-P", "-t", "t", "-K:", "-H", "h1=v1", input=lines.encode())
    out = kcat("-b", b.bootstrap, "-C", "-t", "t", "-e", "-f", "%k %s %h\n")
    got = sorted(out.splitlines())
    want = sorted("k%d value-%d h1=v1" % (i, i) for i in range(200))
    assert got == want

    script("keel-topics.sh", "--zookeeper", zk.connect + chroot, "--delete", "--topic", "t")
    wait_for(lambda: not zkc.exists("/brokers/topics/t"), 30, "topic znode removal")
    wait_for(lambda: not zkc.exists("/admin/delete_topics/t"), 30, "delete_topics znode removal")
    wait_for(lambda: not any(n.startswith("t-") and not n.endswith("-delete")
                             for n in os.listdir(b.logdir)), 30, "log directories deleted")
    out = kcat("-b", b.bootstrap, "-L", "-t", "t")
    assert "Local: Unknown topic" in out or "0 partitions" in out or "Broker: Unknown topic" in out


def test_topics_script_create_via_zookeeper_and_describe(cluster, zk, chroot):
    b = cluster(1)[0]
    script("keel-topics.sh", "--zookeeper", zk.connect + chroot, "--create", "--topic", "zt",
           "--partitions", "3", "--replication-factor", "1")
    # until the controller has seen the znode, --describe fails (no such topic): keep asking
    wait_for(lambda: "Leader: %d" % b.id in script("keel-topics.sh", "--bootstrap-server", b.bootstrap,
                                                    "--describe", "--topic", "zt", check=False).stdout.decode(),
             30, "leaders for a topic created through ZooKeeper")
    out = script("keel-topics.sh", "--bootstrap-server", b.bootstrap, "--list").stdout.decode()
    assert "zt" in out.split()


def test_replication_factor_above_live_brokers_is_refused(cluster):
    b = cluster(1)[0]
    r = script("keel-topics.sh", "--bootstrap-server", b.bootstrap, "--create", "--topic", "big",
               "--partitions", "1", "--replication-factor", "3", check=False)
    assert r.returncode != 0
    assert b"larger than available brokers" in r.stderr + r.stdout


def test_delete_disabled(cluster):
    b = cluster(1, {"delete.topic.enable": "false"})[0]
    script("keel-topics.sh", "--bootstrap-server", b.bootstrap, "--create", "--topic", "keep",
           "--partitions", "1", "--replication-factor", "1")
    r = script("keel-topics.sh", "--bootstrap-server", b.bootstrap, "--delete", "--topic", "keep",
               check=False)
    assert r.returncode != 0
    assert b"TOPIC_DELETION_DISABLED" in r.stderr + r.stdout or b"disabled" in (r.stderr + r.stdout).lower()


def test_delete_disabled_through_zookeeper_keeps_every_replica(cluster, zkc):
    """With delete.topic.enable=false a deletion requested through ZooKeeper
    (/admin/delete_topics/<t>, as keel-topics.sh --zookeeper --delete writes it) is dropped by
    the controller, and no broker deletes its replica of the topic either: the records stay
    readable from every replica."""
    bs = cluster(3, {"delete.topic.enable": "false"})
    script("keel-topics.sh", "--bootstrap-server", bs[0].bootstrap, "--create", "--topic", "kept",
           "--partitions", "1", "--replication-factor", "3")
    kcat("-b", bs[0].bootstrap, "-P", "-t", "kept", "-p", "0", "-X", "acks=all", input=b"one\ntwo\n")
    zkc.create("/admin/delete_topics/kept", b"", makepath=True)
    wait_for(lambda: not zkc.exists("/admin/delete_topics/kept"), 30, "the controller to drop the request")
    for b in bs:
        wait_for(lambda: os.path.isdir(os.path.join(b.logdir, "kept-0")), 5, "kept-0 on broker %d" % b.id)
    assert zkc.exists("/brokers/topics/kept")
    leader = json.loads(zkc.get("/brokers/topics/kept/partitions/0/state")[0])["leader"]
    lb = [b for b in bs if b.id == leader][0]
    assert kcat("-b", lb.bootstrap, "-C", "-t", "kept", "-p", "0", "-o", "beginning", "-e") == "one\ntwo\n"
    assert all(sum(os.path.getsize(f) for f in glob.glob(os.path.join(b.logdir, "kept-0", "*.log"))) > 0
               for b in bs)


def test_console_producer_and_consumer_scripts(cluster):
    b = cluster(1)[0]
    script("keel-topics.sh", "--bootstrap-server", b.bootstrap, "--create", "--topic", "cs",
           "--partitions", "1", "--replication-factor", "1")
    lines = "".join("key%d:line %d\n" % (i, i) for i in range(10)).encode()
    script("keel-console-producer.sh", "--bootstrap-server", b.bootstrap, "--topic", "cs",
           "--property", "parse.key=true", "--property", "key.separator=:", input=lines)
    r = script("keel-console-consumer.sh", "--bootstrap-server", b.bootstrap, "--topic", "cs",
               "--from-beginning", "--max-messages", "10", "--property", "print.key=true",
               "--property", "key.separator=:")
    assert r.stdout.decode().splitlines() == ["key%d:line %d" % (i, i) for i in range(10)]
    assert b"Processed a total of 10 messages" in r.stderr


def test_scripts_help_and_bad_usage():
    for name in ["keel-topics.sh", "keel-console-producer.sh", "keel-console-consumer.sh",
                 "keel-server-start.sh", "keel-server-stop.sh", "keel-zookeeper-start.sh",
                 "keel-zookeeper-stop.sh", "keel-producer-perf-test.sh", "keel-consumer-perf-test.sh",
                 "keel-quickstart.sh", "keel-test.sh", "keel-consumer-groups.sh", "keel-e2e-latency.sh"]:
        r = script(name, "--help")
        assert b"usage" in (r.stdout + r.stderr).lower(), name
    r = script("keel-topics.sh", "--bootstrap-server", "127.0.0.1:1", "--create", check=False)
    assert r.returncode != 0 and b"--topic" in r.stderr


def test_server_start_daemon_with_overrides_and_stop(zk, chroot, zkc, tmp_path):
    """keel-server-start.sh -daemon CONFIG --override k=v starts keeld in the background (pid
    file and output in LOG_DIR, returning once it listens) with the overrides over the file;
    a second start of the same broker is refused; keel-server-stop.sh CONFIG stops it cleanly
    (its registration goes at once) and removes the pid file."""
    from keelharness import free_port
    port = free_port()
    cfg = tmp_path / "server.properties"
    cfg.write_text("broker.id=1\nlisteners=PLAINTEXT://127.0.0.1:1\nlog.dirs=%s\nzookeeper.connect=%s\n"
                   "zookeeper.session.timeout.ms=30000\n" % (tmp_path / "logs", zk.connect + chroot))
    env = dict(os.environ, KEEL_ADMIN=KEEL_ADMIN, LOG_DIR=str(tmp_path / "out"))
    run = lambda *a: subprocess.run([os.path.join(SCRIPTS, a[0])] + list(a[1:]), capture_output=True,
                                    timeout=60, env=env)
    r = run("keel-server-start.sh", "-daemon", str(cfg), "--override", "broker.id=7",
            "--override", "listeners=PLAINTEXT://127.0.0.1:%d" % port)
    try:
        assert r.returncode == 0, r.stderr.decode(errors="replace")
        pidfile = tmp_path / "out" / "keeld-7.pid"
        pid = int(pidfile.read_text())
        assert os.path.exists("/proc/%d" % pid)
        wait_for(lambda: zkc.exists("/brokers/ids/7"), 30, "broker 7 registered")
        assert json.loads(zkc.get("/brokers/ids/7")[0])["port"] == port
        assert "broker 7 at 127.0.0.1:%d" % port in kcat("-b", "127.0.0.1:%d" % port, "-L")
        again = run("keel-server-start.sh", "-daemon", str(cfg), "--override", "broker.id=7",
                    "--override", "listeners=PLAINTEXT://127.0.0.1:%d" % port)
        assert again.returncode != 0 and b"already running" in again.stderr
        r = run("keel-server-stop.sh", str(cfg))
        assert r.returncode == 0, r.stderr.decode(errors="replace")
        assert not os.path.exists("/proc/%d" % pid) or open("/proc/%d/stat" % pid).read().split()[2] == "Z"
        assert not zkc.exists("/brokers/ids/7")  # a clean shutdown closed the session
        assert not pidfile.exists()
        assert b"keeld stopped" in (tmp_path / "out" / "keeld-7.out").read_bytes()
        r = run("keel-server-stop.sh", str(cfg))
        assert r.returncode == 1 and b"no keeld to stop" in r.stderr
    finally:
        subprocess.run(["pkill", "-KILL", "-f", str(cfg)])
