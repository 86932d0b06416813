"""tests/integration/test_config.py: a bad configuration value names the key and keeld refuses to
start; an unknown key is only a warning; --override wins over the file."""
import subprocess

from keelharness import KEELD, Broker


def run_keeld(args, timeout=20):
    return subprocess.run([KEELD] + args, capture_output=True, timeout=timeout)


def test_bad_value_names_key(zk, chroot, tmp_path):
    for key, value in [("log.segment.bytes", "abc"), ("num.partitions", "-3"),
                       ("auto.create.topics.enable", "maybe"), ("listeners", "PLAINTEXT://:notaport"),
                       ("message.max.bytes", "99999999999999")]:
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
