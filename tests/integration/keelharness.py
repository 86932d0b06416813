"""tests/integration/keelharness.py: start real ZooKeeper and keeld processes on free loopback
ports in temp dirs, and stop them on every exit path."""
import atexit
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time

BUILDDIR = os.environ.get("KEEL_BUILDDIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
SRCDIR = os.environ.get("KEEL_SRCDIR") or BUILDDIR
KEELD = os.path.join(BUILDDIR, "keeld")
KEEL_ADMIN = os.path.join(BUILDDIR, "keel-admin")
ZK_CLASSPATH = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar"

_live = []


def _cleanup_all():
    for p in list(_live):
        p.kill()


atexit.register(_cleanup_all)


def _ephemeral_low():
    try:
        return int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port():
    """A free listening port below the ephemeral range. A port from bind(0) is an ephemeral
    one: between our check and the server's bind, any outgoing connection (a client, a
    follower's fetcher) may be given it, and the server then fails with EADDRINUSE. Below
    the range only another listener can take it, and the bind below checks that."""
    hi = _ephemeral_low() - 1
    lo = max(1024, hi - 12000)
    for _ in range(200):
        port = random.randint(lo, hi)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in %d-%d" % (lo, hi))


def wait_for(cond, timeout, what, interval=0.05):
    """Poll cond() until it returns a truthy value; raise with `what` after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class Proc:
    """A child process we own; killed at exit if the test forgot."""

    def __init__(self):
        self.proc = None
        _live.append(self)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        if self.running():
            try:
                self.proc.send_signal(signal.SIGCONT)
            except ProcessLookupError:
                pass
            self.proc.kill()
            self.proc.wait()

    def signal(self, sig):
        self.proc.send_signal(sig)


class ZooKeeper(Proc):
    def __init__(self, port=None):
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="keel-zk-")
        self.port = port or free_port()
        os.makedirs(os.path.join(self.dir, "data"))
        with open(os.path.join(self.dir, "zoo.cfg"), "w") as f:
            f.write("tickTime=1000\ndataDir=%s/data\nclientPort=%d\nclientPortAddress=127.0.0.1\n"
                    "maxClientCnxns=0\nadmin.enableServer=false\n4lw.commands.whitelist=ruok,stat\n"
                    "minSessionTimeout=2000\n" % (self.dir, self.port))
        self.start()

    @property
    def connect(self):
        return "127.0.0.1:%d" % self.port

    def start(self):
        log = open(os.path.join(self.dir, "zk.out"), "ab")
        self.proc = subprocess.Popen(
            ["java", "-Xmx256m", "-cp", ZK_CLASSPATH, "-Dzookeeper.log.dir=" + self.dir,
             "-Dzookeeper.root.logger=WARN,CONSOLE",
             "org.apache.zookeeper.server.quorum.QuorumPeerMain", os.path.join(self.dir, "zoo.cfg")],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        wait_for(self._ruok, 60, "ZooKeeper on port %d" % self.port, 0.2)

    def _ruok(self):
        if not self.running():
            raise RuntimeError("ZooKeeper exited: " + open(os.path.join(self.dir, "zk.out")).read()[-2000:])
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"ruok")
                return s.recv(4) == b"imok"
        except OSError:
            return False

    def stop(self):
        self.kill()

    def close(self):
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
        if self in _live:
            _live.remove(self)


class Broker(Proc):
    def __init__(self, zk_connect, broker_id, extra=None, port=None):
        super().__init__()
        self.id = broker_id
        self.dir = tempfile.mkdtemp(prefix="keel-broker%d-" % broker_id)
        self.port = port or free_port()
        self.logdir = os.path.join(self.dir, "logs")
        self.config = os.path.join(self.dir, "server.properties")
        self.logfile = os.path.join(self.dir, "keeld.log")
        props = {
            "broker.id": str(broker_id),
            "listeners": "PLAINTEXT://127.0.0.1:%d" % self.port,
            "log.dirs": self.logdir,
            "zookeeper.connect": zk_connect,
            "zookeeper.session.timeout.ms": "6000",
            "keel.log.level": "info",
        }
        props.update(extra or {})
        with open(self.config, "w") as f:
            for k, v in props.items():
                f.write("%s=%s\n" % (k, v))

    @property
    def bootstrap(self):
        return "127.0.0.1:%d" % self.port

    def start(self, wait=True, args=()):
        log = open(self.logfile, "ab")
        self.proc = subprocess.Popen([KEELD, self.config] + list(args), stdout=log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        if wait:
            wait_for(self._started, 60, "broker %d to start" % self.id, 0.05)
        return self

    def _started(self):
        if not self.running():
            raise RuntimeError("keeld %d exited (%s): %s" % (self.id, self.proc.returncode, self.log()[-3000:]))
        return "started: broker" in self.log() and port_open(self.port)

    def log(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self, timeout=30):
        """SIGTERM and wait: a clean shutdown."""
        if self.running():
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout)
        return self.proc.returncode

    def close(self):
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
        if self in _live:
            _live.remove(self)


def zk_client(connect):
    """A ZooKeeper client (Debian's python3-kazoo) for asserting on znodes."""
    from kazoo.client import KazooClient
    zk = KazooClient(hosts=connect, timeout=10)
    zk.start(timeout=30)
    return zk
