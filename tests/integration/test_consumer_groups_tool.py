"""tests/integration/test_consumer_groups_tool.py: keel-consumer-groups.sh (Kafka 2.8's
kafka-consumer-groups.sh). The usage checks need no broker. Everything else runs real ZooKeeper,
keeld and confluent-kafka consumers that join groups and commit offsets, and checks the tool's
output byte for byte against Kafka's formats: --list [--state], --describe (offsets and lag,
--members [--verbose], --state), --reset-offsets with every scenario, dry run, --execute,
--export and --from-file, --delete and --delete-offsets, against keel's group coordinator."""
import re
import subprocess
import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from keelharness import KEEL_ADMIN, wait_for
from test_tour import script

PREFIX = "keel-consumer-groups.sh: "
# single-broker settings for the offsets topic and quick first rebalances
GROUP_CONF = {"offsets.topic.replication.factor": "1", "offsets.topic.num.partitions": "5",
              "group.initial.rebalance.delay.ms": "0"}
# OffsetCommit, OffsetFetch, FindCoordinator, JoinGroup, Heartbeat, LeaveGroup, SyncGroup,
# DescribeGroups, ListGroups, DeleteGroups, OffsetDelete
NO_EXECUTE = ("WARN: No action will be performed as the --execute option is missing.In a future "
              "major release, the default behavior of this command will be to prompt the user "
              "before executing the reset rather than doing a dry run. You should add the "
              "--dry-run option explicitly if you are scripting this command and want to keep the "
              "current default behavior without prompting.\n")
OFFSETS_HEAD = ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG",
                "CONSUMER-ID", "HOST", "CLIENT-ID"]


def cg(*args):
    return script("keel-consumer-groups.sh", *args, check=False)


def out_err(r):
    return r.stdout.decode(), r.stderr.decode()


# ------------------------------------------------------------------ Kafka's table formats

def row(widths, cells):
    """Java's "%-Ns" columns joined by one space; width 0 is not padded."""
    return " ".join(str(c).ljust(w) if w else str(c) for c, w in zip(cells, widths))


def width(values, least=15):
    return max([least] + [len(v) for v in values])


def offsets_table(rows):
    """printOffsets: GROUP, TOPIC, CONSUMER-ID and HOST grow with their values."""
    w = [width(r[0] for r in rows), width(r[1] for r in rows), 10, 15, 15, 15,
         width(r[6] for r in rows), width(r[7] for r in rows), 0]
    return "\n" + "".join(row(w, r) + "\n" for r in [OFFSETS_HEAD] + rows)


def members_table(rows, verbose=False):
    """printMembers without GROUP-INSTANCE-ID: #PARTITIONS padded to 15 and a space, always."""
    w = [width(r[0] for r in rows), width(r[1] for r in rows), width(r[2] for r in rows),
         width(r[3] for r in rows), 15, 0]
    head = ["GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS", "ASSIGNMENT" if verbose else ""]
    return "\n" + "".join(row(w, r) + "\n" for r in [head] + rows)


def state_table(group, coordinator, assignor, state, members):
    """printStates: the GROUP column takes the coordinator column's width (Kafka's quirk)."""
    w = [max(25, len(coordinator)), 25, 20, 15, 0]
    return "\n" + row(w, ["GROUP", "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY", "STATE", "#MEMBERS"]) + \
        "\n" + row(w, [group, coordinator, assignor, state, members]) + "\n"


def reset_table(rows):
    w = [30, 30, 10, 15]
    return "\n" + "".join(row(w, r) + "\n" for r in [["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"]] + rows)


def sorted_body(text):
    """A table's lines with the data lines sorted: Kafka lists partitions nobody is assigned in
    hash-map order."""
    lines = text.split("\n")
    return lines[:2] + sorted(lines[2:])


# ------------------------------------------------------------------ the usage checks (no broker)

BS = ["--bootstrap-server", "127.0.0.1:1"]
USAGE_ERRORS = [
    ([], 'Missing required argument "[bootstrap-server]"'),
    (["--list"], 'Missing required argument "[bootstrap-server]"'),
    (BS, "Command must include exactly one action: --list, --describe, --delete, --reset-offsets, "
         "--delete-offsets"),
    (BS + ["--list", "--delete", "--group", "g"],
     'Option "[group]" can\'t be used with option "[list]"'),
    (BS + ["--describe", "--delete", "--group", "g"],
     "Command must include exactly one action: --list, --describe, --delete, --reset-offsets, "
     "--delete-offsets"),
    (BS + ["--describe"], "Option [describe] takes one of these options: [group], [all-groups]"),
    (BS + ["--describe", "--group", "g", "--members", "--state"],
     "Option [describe] takes at most one of these options: [members], [offsets], [state]"),
    (BS + ["--describe", "--group", "g", "--state", "Stable"],
     "Option [describe] does not take a value for [state]"),
    (BS + ["--list", "--members"],
     "Option(s) [members] are unavailable given other options on the command line"),
    (BS + ["--delete", "--group", "g", "--verbose", "--state"],
     "Option(s) [verbose, state] are unavailable given other options on the command line"),
    (BS + ["--delete"], "Option [delete] takes one of these options: [group], [all-groups]"),
    (BS + ["--delete", "--group", "g", "--topic", "t"],
     "The consumer does not support topic-specific offset deletion from a consumer group."),
    (BS + ["--delete-offsets", "--group", "g"],
     "Option [delete-offsets] takes the following options: [group], [topic]"),
    (BS + ["--reset-offsets", "--group", "g", "--to-earliest", "--dry-run", "--execute"],
     "Option [reset-offsets] only accepts one of [execute] and [dry-run]"),
    (BS + ["--reset-offsets", "--to-earliest", "--dry-run"],
     "Option [reset-offsets] takes one of these options: [group], [all-groups]"),
    (BS + ["--reset-offsets", "--group", "g", "--all-topics", "--to-latest", "--to-earliest", "--dry-run"],
     'Option "[to-earliest]" can\'t be used with option "[to-latest]"'),
    (BS + ["--reset-offsets", "--group", "g", "--all-topics", "--to-offset", "1", "--shift-by", "1",
           "--dry-run"], 'Option "[to-offset]" can\'t be used with option "[shift-by]"'),
    (BS + ["--describe", "--group", "g", "--all-groups"],
     'Option "[group]" can\'t be used with option "[all-groups]"'),
    (BS + ["--describe", "--group", "g", "--topic", "t"],
     'Option "[topic]" can\'t be used with option "[describe]"'),
    (BS + ["--reset-offsets", "--group", "g", "--to-offset", "ten"],
     "Cannot parse argument 'ten' of option to-offset"),
    (BS + ["--list", "--nope"], "'--nope' is not a recognized option"),
    # checked when the groups are listed, before anything is sent
    (BS + ["--list", "--state", "stable"],
     "Invalid state list 'stable'. Valid states are: PreparingRebalance, CompletingRebalance, "
     "Stable, Dead, Empty"),
]


@pytest.mark.parametrize("args,message", USAGE_ERRORS)
def test_usage_errors(args, message):
    r = cg(*args)
    out, err = out_err(r)
    assert r.returncode == 1, out + err
    assert out == ""
    err = err[len(NO_EXECUTE):] if err.startswith(NO_EXECUTE) else err
    assert err.startswith(PREFIX + message + "\nUsage: keel-consumer-groups.sh"), err


def test_help_and_reset_warning():
    r = cg("--help")
    out, err = out_err(r)
    assert r.returncode == 0 and err == ""
    assert out.startswith("Usage: keel-consumer-groups.sh --bootstrap-server HOST:PORT\n")
    for flag in ("--list", "--describe", "--delete", "--reset-offsets", "--delete-offsets",
                 "--to-datetime", "--by-duration", "--from-file", "--export", "--members",
                 "--verbose", "--state", "--all-topics", "--all-groups", "--command-config"):
        assert flag in out, flag
    # a reset without --dry-run or --execute warns first, as Kafka's does
    r = cg(*BS, "--reset-offsets", "--to-earliest")
    assert out_err(r)[1].startswith(NO_EXECUTE + PREFIX + "Option [reset-offsets] takes one")
    # keel-admin lists the command
    r = subprocess.run([KEEL_ADMIN, "--help"], capture_output=True, timeout=30)
    assert r.returncode == 0 and b"consumer-groups" in r.stdout


# ------------------------------------------------------------------ a cluster with groups

@pytest.fixture
def broker(cluster):
    return cluster(1, GROUP_CONF)[0]


def create_topic(b, name, partitions):
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    admin.create_topics([NewTopic(name, partitions, 1)], operation_timeout=30)[name].result(30)
    wait_for(lambda: all(p.leader >= 0 for p in
                         admin.list_topics(name, timeout=5).topics[name].partitions.values()),
             30, "leaders of " + name)


def produce(b, topic, counts, timestamps=None):
    """counts[p] records to partition p; timestamps[p][i] as record i's time, if given."""
    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 5})
    for part, n in counts.items():
        for i in range(n):
            kw = {"timestamp": timestamps[part][i]} if timestamps else {}
            p.produce(topic, value=b"v%d" % i, partition=part, **kw)
    assert p.flush(30) == 0


class Member:
    """A consumer in a group, subscribed to topics; it keeps every record it has read."""

    def __init__(self, b, group, topics, others=(), **conf):
        self.c = Consumer(dict({"bootstrap.servers": b.bootstrap, "group.id": group,
                                "auto.offset.reset": "earliest", "enable.auto.commit": False,
                                "enable.partition.eof": False}, **conf))
        self.got = []
        self.c.subscribe(topics)
        # the members already in the group must poll too, or they never rejoin for the
        # rebalance this one starts (librdkafka serves rebalances from poll)
        wait_for(lambda: [o.poll() for o in others] and False or self.poll() or self.c.assignment(),
                 60, "an assignment in " + group, 0)

    def poll(self):
        self.got.extend(m for m in self.c.consume(100, 0.1) if m.error() is None)
        return False

    def read(self, n):
        """Read until n records in all, then commit what was read."""
        wait_for(lambda: self.poll() or len(self.got) >= n, 60, "%d records" % n, 0)
        self.c.commit(asynchronous=False)

    def close(self):
        self.c.close()


def group_with_commits(b, group, topic, partitions, per_partition):
    """group has consumed and committed per_partition records of each partition, and left."""
    create_topic(b, topic, partitions)
    produce(b, topic, {p: per_partition for p in range(partitions)})
    m = Member(b, group, [topic])
    m.read(partitions * per_partition)
    m.close()
    assert committed(b, group, topic, partitions) == [per_partition] * partitions


def committed(b, group, topic, partitions):
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": group})
    got = c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=30)
    c.close()
    return [tp.offset for tp in got]


def member(b, group):
    """The one member of group, from ListGroups/DescribeGroups as confluent-kafka reads them."""
    g = AdminClient({"bootstrap.servers": b.bootstrap}).list_groups(group, timeout=30)[0]
    assert len(g.members) == 1
    return g.members[0]


# ------------------------------------------------------------------ --list, --describe

def test_list_and_describe(broker):
    b = broker
    create_topic(b, "cg", 3)
    produce(b, "cg", {0: 10, 1: 10, 2: 10})
    c = Member(b, "g1", ["cg"])
    c.read(30)
    m = member(b, "g1")
    assert re.fullmatch(r"rdkafka-[0-9a-f-]{36}", m.id) and m.client_host == "/127.0.0.1"
    produce(b, "cg", {0: 5, 2: 2})

    r = cg("--bootstrap-server", b.bootstrap, "--list")
    assert out_err(r) == ("g1\n", "") and r.returncode == 0
    r = cg("--bootstrap-server", b.bootstrap, "--list", "--state")
    assert out_err(r) == ("GROUP           STATE\ng1              Stable\n", "")
    r = cg("--bootstrap-server", b.bootstrap, "--list", "--state", "Empty,Dead")
    assert out_err(r) == ("GROUP           STATE\n", "")

    want = offsets_table([["g1", "cg", str(p), "10", str(leo), str(leo - 10), m.id, "/127.0.0.1", "rdkafka"]
                          for p, leo in ((0, 15), (1, 10), (2, 12))])
    for extra in ([], ["--offsets"]):
        r = cg("--bootstrap-server", b.bootstrap, "--describe", "--group", "g1", *extra)
        assert out_err(r) == (want, "") and r.returncode == 0
    r = cg("--bootstrap-server", b.bootstrap, "--describe", "--all-groups")
    assert out_err(r) == (want, "")

    r = cg("--bootstrap-server", b.bootstrap, "--describe", "--group", "g1", "--members")
    assert out_err(r) == (members_table([["g1", m.id, "/127.0.0.1", "rdkafka", "3", ""]]), "")
    r = cg("--bootstrap-server", b.bootstrap, "--describe", "--group", "g1", "--members", "--verbose")
    assert out_err(r) == (members_table([["g1", m.id, "/127.0.0.1", "rdkafka", "3", "cg(0,1,2)"]],
                                        True), "")
    r = cg("--bootstrap-server", b.bootstrap, "--describe", "--group", "g1", "--state")
    coordinator = "127.0.0.1:%d (%d)" % (b.port, b.id)
    assert out_err(r) == (state_table("g1", coordinator, "range", "Stable", 1), "")

    # once the consumer has left: no members, the committed offsets remain
    c.close()
    r = cg("--bootstrap-server", b.bootstrap, "--describe", "--group", "g1")
    out, err = out_err(r)
    assert err == "\nConsumer group 'g1' has no active members.\n"
    assert sorted_body(out) == sorted_body(offsets_table(
        [["g1", "cg", str(p), "10", str(leo), str(leo - 10), "-", "-", "-"]
         for p, leo in ((0, 15), (1, 10), (2, 12))]))
    r = cg("--bootstrap-server", b.bootstrap, "--describe", "--group", "g1", "--members")
    assert out_err(r) == ("", "\nConsumer group 'g1' has no active members.\n")
    r = cg("--bootstrap-server", b.bootstrap, "--describe", "--group", "g1", "--state")
    assert out_err(r) == (state_table("g1", coordinator, "", "Empty", 0),
                          "\nConsumer group 'g1' has no active members.\n")
    r = cg("--bootstrap-server", b.bootstrap, "--list", "--state")
    assert out_err(r) == ("GROUP           STATE\ng1              Empty\n", "")

    # a group nobody has used: Dead, "does not exist" (Kafka exits 0 here; keel exits 1)
    for extra in ([], ["--members"], ["--state"]):
        r = cg("--bootstrap-server", b.bootstrap, "--describe", "--group", "nope", *extra)
        assert out_err(r) == ("\nError: Consumer group 'nope' does not exist.\n", "")
        assert r.returncode == 1


def test_describe_long_names_and_two_members(broker):
    b = broker
    group, topic = "a-consumer-group-with-a-long-name", "a-topic-with-a-long-name"
    create_topic(b, topic, 4)
    c1 = Member(b, group, [topic], **{"client.id": "first-client"})
    c2 = Member(b, group, [topic], others=[c1], **{"client.id": "second-client"})
    # both members hold two partitions once the rebalance settles
    wait_for(lambda: c1.poll() or c2.poll() or len(c1.c.assignment()) == 2 == len(c2.c.assignment()),
             60, "two partitions each", 0)
    r = cg("--bootstrap-server", b.bootstrap, "--describe", "--group", group, "--members", "--verbose")
    out, err = out_err(r)
    assert err == ""
    members = AdminClient({"bootstrap.servers": b.bootstrap}).list_groups(group, timeout=30)[0].members
    rows = []
    for mem in members:
        mine = c1 if mem.client_id == "first-client" else c2
        parts = ",".join(str(tp.partition) for tp in sorted(mine.c.assignment(), key=lambda tp: tp.partition))
        rows.append([group, mem.id, mem.client_host, mem.client_id, "2", "%s(%s)" % (topic, parts)])
    assert out == members_table(rows, True)
    # no committed offsets: CURRENT-OFFSET and LAG are "-"
    r = cg("--bootstrap-server", b.bootstrap, "--describe", "--group", group)
    out, err = out_err(r)
    assert err == ""
    for line in out.split("\n")[2:-1]:
        cells = line.split()
        assert cells[0] == group and cells[1] == topic and cells[3:6] == ["-", "0", "-"], line
    c1.close()
    c2.close()


# ------------------------------------------------------------------ --reset-offsets

def reset(b, *args):
    return cg("--bootstrap-server", b.bootstrap, "--reset-offsets", *args)


def test_reset_offsets_scenarios(broker):
    b = broker
    group_with_commits(b, "g2", "rs", 2, 10)

    # dry run: the plan, nothing committed; without --dry-run Kafka's warning comes first
    want = reset_table([["g2", "rs", "0", "0"], ["g2", "rs", "1", "0"]])
    r = reset(b, "--group", "g2", "--topic", "rs", "--to-earliest", "--dry-run")
    assert out_err(r) == (want, "") and r.returncode == 0
    r = reset(b, "--group", "g2", "--topic", "rs", "--to-earliest")
    assert out_err(r) == (want, NO_EXECUTE)
    assert committed(b, "g2", "rs", 2) == [10, 10]

    r = reset(b, "--group", "g2", "--all-topics", "--to-offset", "3", "--execute")
    assert out_err(r) == (reset_table([["g2", "rs", "0", "3"], ["g2", "rs", "1", "3"]]), "")
    assert committed(b, "g2", "rs", 2) == [3, 3]

    # --to-offset, --shift-by: kept within the log, with a warning
    r = reset(b, "--group", "g2", "--topic", "rs:1", "--to-offset", "100", "--execute")
    assert out_err(r) == (reset_table([["g2", "rs", "1", "10"]]),
                          "WARN New offset (100) is higher than latest offset for topic partition "
                          "rs-1. Value will be set to 10\n")
    r = reset(b, "--group", "g2", "--topic", "rs:0", "--shift-by", "-5", "--execute")
    assert out_err(r) == (reset_table([["g2", "rs", "0", "0"]]),
                          "WARN New offset (-2) is lower than earliest offset for topic partition "
                          "rs-0. Value will be set to 0\n")
    r = reset(b, "--group", "g2", "--topic", "rs", "--shift-by", "4", "--execute")
    assert out_err(r) == (reset_table([["g2", "rs", "0", "4"], ["g2", "rs", "1", "10"]]),
                          "WARN New offset (14) is higher than latest offset for topic partition "
                          "rs-1. Value will be set to 10\n")
    assert committed(b, "g2", "rs", 2) == [4, 10]
    r = reset(b, "--group", "g2", "--topic", "rs", "--to-current", "--dry-run")
    assert out_err(r) == (reset_table([["g2", "rs", "0", "4"], ["g2", "rs", "1", "10"]]), "")
    r = reset(b, "--group", "g2", "--topic", "rs:0", "--to-latest", "--execute")
    assert out_err(r) == (reset_table([["g2", "rs", "0", "10"]]), "")
    assert committed(b, "g2", "rs", 2) == [10, 10]

    # a consumer starts where the reset put the group
    r = reset(b, "--group", "g2", "--topic", "rs:0,1", "--to-offset", "7", "--execute")
    assert r.returncode == 0
    c = Member(b, "g2", ["rs"])
    wait_for(lambda: c.poll() or len(c.got) >= 6, 60, "the records after offset 7", 0)
    first = {}
    for m in c.got:
        first.setdefault(m.partition(), m.offset())
    assert first == {0: 7, 1: 7}

    # refused while the group has a member; the table still heads the (empty) plan
    r = reset(b, "--group", "g2", "--topic", "rs", "--to-earliest", "--execute")
    out, err = out_err(r)
    assert out == "\nError: Assignments can only be reset if the group 'g2' is inactive, but the " \
                  "current state is Stable.\n" + reset_table([])
    assert r.returncode == 1
    c.close()
    assert committed(b, "g2", "rs", 2) == [7, 7]


def utc(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03d" % (ms % 1000)


def test_reset_by_time(broker):
    b = broker
    create_topic(b, "ts", 1)
    now = int(time.time() * 1000)
    # record i is 10 - i hours old, less a minute: an hour apart, a minute after each mark
    stamps = [now - (10 - i) * 3600000 + 60000 for i in range(10)]
    produce(b, "ts", {0: 10}, {0: stamps})
    c = Member(b, "g3", ["ts"])
    c.read(10)
    c.close()

    def dry(*scenario):
        r = reset(b, "--group", "g3", "--topic", "ts", *scenario, "--dry-run")
        return out_err(r)

    # the first record at or after the time; none that late: the log end
    assert dry("--to-datetime", utc(stamps[4])) == (reset_table([["g3", "ts", "0", "4"]]), "")
    assert dry("--to-datetime", utc(stamps[4] + 1)) == (reset_table([["g3", "ts", "0", "5"]]), "")
    assert dry("--to-datetime", utc(now + 3600000)) == (reset_table([["g3", "ts", "0", "10"]]), "")
    # the same instant two hours east of UTC
    east = utc(stamps[4] + 2 * 3600000) + "+02:00"
    assert dry("--to-datetime", east) == (reset_table([["g3", "ts", "0", "4"]]), "")
    assert dry("--by-duration", "PT5H") == (reset_table([["g3", "ts", "0", "5"]]), "")
    assert dry("--by-duration", "P30D") == (reset_table([["g3", "ts", "0", "0"]]), "")
    assert dry("--by-duration", "PT1M") == (reset_table([["g3", "ts", "0", "10"]]), "")

    r = reset(b, "--group", "g3", "--topic", "ts", "--to-datetime", "2021-02-29T00:00:00.000", "--dry-run")
    assert out_err(r) == ("\nError: Executing consumer group command failed due to Unparseable date: "
                          "\"2021-02-29T00:00:00.000Z\"\n", "")
    r = reset(b, "--group", "g3", "--topic", "ts", "--by-duration", "5 days", "--dry-run")
    assert out_err(r) == ("\nError: Executing consumer group command failed due to Text cannot be "
                          "parsed to a Duration\n", "")
    assert r.returncode == 1
    assert committed(b, "g3", "ts", 1) == [10]


def test_reset_export_and_from_file(broker, tmp_path):
    b = broker
    group_with_commits(b, "ga", "ex", 2, 6)
    group_with_commits(b, "gb", "ey", 1, 4)

    # one group: topic,partition,offset lines, then the println's line end
    r = reset(b, "--group", "ga", "--all-topics", "--to-offset", "2", "--export", "--dry-run")
    assert out_err(r) == ("ex,0,2\nex,1,2\n\n", "")
    plan = tmp_path / "plan.csv"
    plan.write_text(r.stdout.decode())
    r = reset(b, "--group", "ga", "--from-file", str(plan), "--execute")
    assert out_err(r) == (reset_table([["ga", "ex", "0", "2"], ["ga", "ex", "1", "2"]]), "")
    assert committed(b, "ga", "ex", 2) == [2, 2]

    # several groups: the group leads each line
    r = reset(b, "--group", "ga", "--group", "gb", "--all-topics", "--to-earliest", "--export",
              "--dry-run")
    assert out_err(r) == ("ga,ex,0,0\nga,ex,1,0\ngb,ey,0,0\n\n", "")
    plan.write_text("ga,ex,1,5\ngb,ey,0,99\n")
    r = reset(b, "--group", "ga", "--group", "gb", "--from-file", str(plan), "--execute")
    assert out_err(r) == (reset_table([["ga", "ex", "1", "5"], ["gb", "ey", "0", "4"]]),
                          "WARN New offset (99) is higher than latest offset for topic partition "
                          "ey-0. Value will be set to 4\n")
    assert committed(b, "ga", "ex", 2) == [2, 5] and committed(b, "gb", "ey", 1) == [4]
    # a group the plan does not name
    plan.write_text("gb,ey,0,1\n")
    r = reset(b, "--group", "ga", "--group", "gb", "--from-file", str(plan), "--dry-run")
    assert out_err(r) == ("\nError: No reset plan for group ga found\n" +
                          reset_table([["gb", "ey", "0", "1"]]), "")


def test_reset_errors(broker):
    b = broker
    group_with_commits(b, "g4", "re", 1, 3)
    # --shift-by needs a committed offset: a usage error, as Kafka's IllegalArgumentException is
    r = reset(b, "--group", "fresh", "--topic", "re", "--shift-by", "1", "--dry-run")
    out, err = out_err(r)
    assert out == "" and err.startswith(PREFIX + "Cannot shift offset for partition re-0 since there "
                                        "is no current committed offset\nUsage:")
    r = reset(b, "--group", "g4", "--to-earliest", "--dry-run")
    assert out_err(r)[1].startswith(PREFIX + "One of the reset scopes should be defined: "
                                    "--all-topics, --topic.\n")
    r = reset(b, "--group", "g4", "--topic", "missing", "--to-earliest", "--dry-run")
    assert out_err(r) == ("\nError: Executing consumer group command failed due to org.apache.kafka."
                          "common.errors.UnknownTopicOrPartitionException: This server does not host "
                          "this topic-partition.\n", "")
    r = reset(b, "--group", "g4", "--topic", "re:x", "--to-earliest", "--dry-run")
    assert out_err(r) == ("\nError: Executing consumer group command failed due to For input "
                          "string: \"x\"\n", "")
    # a group that does not exist yet is Dead, and may be given offsets
    r = reset(b, "--group", "fresh", "--topic", "re", "--to-latest", "--execute")
    assert out_err(r) == (reset_table([["fresh", "re", "0", "3"]]), "")
    assert committed(b, "fresh", "re", 1) == [3]


# ------------------------------------------------------------------ --delete, --delete-offsets

def test_delete_groups(broker):
    b = broker
    group_with_commits(b, "gone", "dl", 1, 2)
    c = Member(b, "busy", ["dl"])
    r = cg("--bootstrap-server", b.bootstrap, "--delete", "--group", "busy")
    assert out_err(r) == ("\nError: Deletion of some consumer groups failed:\n* Group 'busy' could not "
                          "be deleted due to: java.util.concurrent.ExecutionException: org.apache."
                          "kafka.common.errors.GroupNotEmptyException: The group is not empty.\n", "")
    assert r.returncode == 1
    r = cg("--bootstrap-server", b.bootstrap, "--delete", "--group", "gone", "--group", "busy")
    assert out_err(r) == ("\nError: Deletion of some consumer groups failed:\n* Group 'busy' could not "
                          "be deleted due to: java.util.concurrent.ExecutionException: org.apache."
                          "kafka.common.errors.GroupNotEmptyException: The group is not empty.\n"
                          "\nThese consumer groups were deleted successfully: 'gone'\n", "")
    c.close()
    r = cg("--bootstrap-server", b.bootstrap, "--delete", "--group", "busy")
    assert out_err(r) == ("Deletion of requested consumer groups ('busy') was successful.\n", "")
    assert r.returncode == 0
    r = cg("--bootstrap-server", b.bootstrap, "--delete", "--group", "busy")
    assert out_err(r) == ("\nError: Deletion of some consumer groups failed:\n* Group 'busy' could not "
                          "be deleted due to: java.util.concurrent.ExecutionException: org.apache."
                          "kafka.common.errors.GroupIdNotFoundException: The group id does not "
                          "exist.\n", "")
    assert out_err(cg("--bootstrap-server", b.bootstrap, "--list")) == ("", "")
    assert committed(b, "gone", "dl", 1) == [-1001]


def test_delete_offsets(broker):
    b = broker
    group_with_commits(b, "g5", "do", 2, 3)
    # the same group also commits on a second topic
    create_topic(b, "keep", 1)
    produce(b, "keep", {0: 4})
    c = Member(b, "g5", ["keep"])
    c.read(4)
    head = "\n" + row([30, 15, 15], ["TOPIC", "PARTITION", "STATUS"]) + "\n"

    # offsets of a topic the group is subscribed to stay
    r = cg("--bootstrap-server", b.bootstrap, "--delete-offsets", "--group", "g5", "--topic", "keep")
    assert out_err(r) == ("\nError: Encounter some partition level error, see the follow-up details:\n" +
                          head + row([30, 15, 15], ["keep", "0", "Error: org.apache.kafka.common."
                                                    "errors.GroupSubscribedToTopicException: Deleting "
                                                    "offsets of a topic is forbidden while the "
                                                    "consumer group is actively subscribed to it."]) +
                          "\n", "")
    # others go, and a topic that does not exist is reported as such
    r = cg("--bootstrap-server", b.bootstrap, "--delete-offsets", "--group", "g5", "--topic", "do",
           "--topic", "nope")
    assert out_err(r) == ("Request succeed for deleting offsets with topic do, nope group g5\n" + head +
                          row([30, 15, 15], ["do", "0", "Successful"]) + "\n" +
                          row([30, 15, 15], ["do", "1", "Successful"]) + "\n" +
                          row([30, 15, 15], ["nope", "Not Provided", "Error: org.apache.kafka.common."
                                             "errors.UnknownTopicOrPartitionException: This server "
                                             "does not host this topic-partition."]) + "\n", "")
    assert committed(b, "g5", "do", 2) == [-1001, -1001]
    c.close()
    assert committed(b, "g5", "keep", 1) == [4]
    r = cg("--bootstrap-server", b.bootstrap, "--delete-offsets", "--group", "g5", "--topic", "keep:0")
    assert out_err(r) == ("Request succeed for deleting offsets with topic keep:0 group g5\n" + head +
                          row([30, 15, 15], ["keep", "0", "Successful"]) + "\n", "")
    r = cg("--bootstrap-server", b.bootstrap, "--delete-offsets", "--group", "ghost", "--topic", "do:0")
    assert out_err(r) == ("\nError: 'ghost' does not exist.\n" + head +
                          row([30, 15, 15], ["do", "0", "Error: org.apache.kafka.common.errors."
                                             "GroupIdNotFoundException: The group id does not "
                                             "exist."]) + "\n", "")
    assert r.returncode == 1
