import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "bindings" / "python"))
os.environ.setdefault("NETDL_LIB", str(ROOT / "target" / "debug" / "libnetdl.so"))


@pytest.fixture(scope="session")
def server():
    """Base URL of scripts/loopback_server.py, started for the session."""
    proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "loopback_server.py")],
                            stdout=subprocess.PIPE, text=True)
    base = proc.stdout.readline().strip()
    assert base.startswith("http://127.0.0.1:"), base
    yield base
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def docs(tmp_path):
    """A fresh Documents directory."""
    import netdl
    netdl.set_directory(netdl.DOCUMENTS, str(tmp_path))
    return tmp_path


def pattern(n):
    return bytes(i % 251 for i in range(n))
