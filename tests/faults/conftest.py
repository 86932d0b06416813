"""tests/faults/conftest.py: the fault tests use the integration harness as is: its fixtures (zk,
chroot, zkc, cluster) and its failure-report hook are loaded from tests/integration/conftest.py
under another module name (both files are called conftest)."""
import importlib.util
import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
_integration = os.path.join(_here, "..", "integration")
sys.path.insert(0, _here)
sys.path.insert(0, _integration)
_spec = importlib.util.spec_from_file_location("keel_integration_conftest",
                                               os.path.join(_integration, "conftest.py"))
_it = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_it)

zk = _it.zk
chroot = _it.chroot
zkc = _it.zkc
cluster = _it.cluster
pytest_runtest_makereport = _it.pytest_runtest_makereport
