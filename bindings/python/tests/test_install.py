"""`pip install bindings/python` and finding the library without NETDL_LIB."""
import ctypes.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

SRC = ROOT / "bindings" / "python"
LIB = Path(os.environ["NETDL_LIB"]).resolve()
PROBE = "import netdl; print(netdl.library_path); print(netdl.__file__); print(netdl.__version__)"


def run(python, code, cwd, **env):
    """Runs `code` with neither NETDL_LIB nor the source tree in its environment."""
    base = {k: v for k, v in os.environ.items()
            if k not in ("NETDL_LIB", "PYTHONPATH", "LD_LIBRARY_PATH")}
    return subprocess.run([str(python), "-c", code], cwd=cwd, capture_output=True, text=True,
                          timeout=60, env={**base, **env})


def mapped_library(python, code, cwd, **env):
    """The file the dynamic linker mapped for libnetdl, as the child saw it."""
    out = run(python, code + "\nprint([l.split()[-1] for l in open('/proc/self/maps') "
              "if 'libnetdl' in l][0])", cwd, **env)
    assert out.returncode == 0, out.stderr
    return out.stdout.split("\n")[:-1]


def test_pyproject_version_is_the_library_version():
    import netdl
    pyproject = (SRC / "pyproject.toml").read_text()
    cargo = (ROOT / "Cargo.toml").read_text()
    version = re.search(r'^version = "(.*)"', pyproject, re.M)[1]
    assert version == re.search(r'^version = "(.*)"', cargo, re.M)[1] == netdl.__version__


def test_pip_install_into_a_venv_finds_the_library_in_its_prefix(tmp_path):
    # Built from a copy: setuptools writes build/ and *.egg-info beside the sources.
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(SRC / "pyproject.toml", src)
    shutil.copytree(SRC / "netdl", src / "netdl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages",
                    str(venv)], check=True)
    python = venv / "bin" / "python"
    pip = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                          "--no-index", "--no-build-isolation", "--no-cache-dir", str(src)],
                         capture_output=True, text=True, timeout=300)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    installed = list((venv / "lib").glob("python3*/site-packages/netdl/__init__.py"))
    assert len(installed) == 1
    assert not list(installed[0].parent.glob("*.so"))  # pure Python

    out = run(python, PROBE, tmp_path)
    assert out.returncode != 0 and "netdl: the library libnetdl was not found" in out.stderr
    (venv / "lib" / "libnetdl.so.0").symlink_to(LIB)
    lines = mapped_library(python, PROBE, tmp_path)
    assert lines[0] == str(venv / "lib" / "libnetdl.so.0")
    assert lines[1] == str(installed[0])
    assert lines[3] == str(LIB)


def test_the_linker_path_is_searched_by_soname(tmp_path):
    (tmp_path / "libnetdl.so.0").symlink_to(LIB)
    lines = mapped_library(sys.executable, PROBE, tmp_path, PYTHONPATH=str(SRC),
                           LD_LIBRARY_PATH=str(tmp_path))
    assert lines[0] == "libnetdl.so.0" and lines[3] == str(LIB)


def test_not_found_lists_where_it_looked(tmp_path):
    if ctypes.util.find_library("netdl") or any(
            Path(d, "lib", "libnetdl.so.0").exists() for d in (sys.prefix, sys.base_prefix)):
        pytest.skip("a libnetdl is installed on this machine")
    out = run(sys.executable, PROBE, tmp_path, PYTHONPATH=str(SRC))
    assert out.returncode != 0
    msg = out.stderr[out.stderr.index("OSError: netdl:"):]
    assert "Set NETDL_LIB to its full path" in msg
    assert f"{sys.prefix}/lib/libnetdl.so.0 (no such file)" in msg
    assert "\n  libnetdl.so.0 (libnetdl.so.0: cannot open shared object file" in msg
    assert "find_library('netdl') (found nothing)" in msg


def test_a_bad_netdl_lib_is_named(tmp_path):
    out = run(sys.executable, PROBE, tmp_path, PYTHONPATH=str(SRC),
              NETDL_LIB=str(tmp_path / "nope.so"))
    assert out.returncode != 0
    assert f"OSError: netdl: cannot load NETDL_LIB='{tmp_path / 'nope.so'}'" in out.stderr
