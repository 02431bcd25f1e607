"""The test environment of a suite: its pinned sdist unpacked from the cache, a virtualenv
with its pinned test dependencies, and eloop in it.

Everything lives under compat_tests/.cache/suites/ (ignored by git):
    sdist/            the downloaded sdists
    src/NAME-VER/     each sdist unpacked once; the suite runs from there
    venv-SUITE-pyX.Y/ one virtualenv per suite and Python, rebuilt when its pins change
    eloop-wheel/SHA/  eloop built (compiled where Cython and a compiler are there) from the
                      working tree's files whose content hashes to SHA
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CACHE = Path(os.environ.get("ELOOP_COMPAT_CACHE", REPO / "compat_tests" / ".cache" / "suites"))
REQUIREMENTS = HERE / "requirements"
PLUGIN_DIR = HERE / "pytest_plugins"
# The files an eloop wheel is built from (others in the tree do not change it).
ELOOP_BUILD_INPUTS = ("eloop", "setup.py", "pyproject.toml", "setup.cfg", "MANIFEST.in", "README.md", "LICENSE")


class SetupError(Exception):
    """The environment could not be made; the message says which step and why."""


def log(message):
    print(f"[setup] {message}", flush=True)


def run(cmd, **kwargs):
    """Runs a setup command; its output is shown only when it fails."""
    done = subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, **kwargs)
    if done.returncode != 0:
        tail = "\n".join(done.stdout.splitlines()[-25:])
        raise SetupError(f"{' '.join(map(str, cmd))} exited {done.returncode}:\n{tail}")
    return done.stdout


# -- the suite's sources -----------------------------------------------------------------

def sdist_source(dist, version):
    """The unpacked sdist of dist==version, downloaded from PyPI on first use."""
    stem = f"{dist.replace('-', '_')}-{version}"
    unpacked = CACHE / "src" / stem
    if unpacked.is_dir():
        return unpacked
    archive = CACHE / "sdist" / f"{stem}.tar.gz"
    if not archive.exists():
        log(f"downloading the sdist of {dist}=={version}")
        archive.parent.mkdir(parents=True, exist_ok=True)
        run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
             f"{dist}=={version}", "-d", archive.parent])
        if not archive.exists():
            raise SetupError(f"pip download did not leave {archive.name} in {archive.parent}")
    (CACHE / "src").mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=CACHE / "src", prefix=".unpack-"))
    try:
        with tarfile.open(archive) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(staging, filter="data")
            else:
                tar.extractall(staging)
        # An sdist carries NAME.egg-info, a build product that a source checkout does not
        # have. Where pytest puts the sdist's root on sys.path (pytest-asyncio's tests/ is
        # a package), it is found as a second installed distribution of the suite, and
        # pytest then marks its `tests` package for assertion rewriting: an extra warning
        # in every inner pytest run, which the suite's tests count.
        for egg_info in (staging / stem).glob("*.egg-info"):
            shutil.rmtree(egg_info)
        (staging / stem).rename(unpacked)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return unpacked


# -- the virtualenv ----------------------------------------------------------------------

def _requirement_files(suite_name):
    return [REQUIREMENTS / "common.txt", REQUIREMENTS / f"{suite_name}.txt"]


def _digest(paths_and_bytes):
    h = hashlib.sha256()
    for name, data in paths_and_bytes:
        h.update(name.encode() + b"\0" + data + b"\0")
    return h.hexdigest()


def venv_for(suite_name, python):
    """The suite's virtualenv for this Python, with the pinned requirements installed."""
    version = run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]).strip()
    venv = CACHE / f"venv-{suite_name}-py{version}"
    stamp = venv / ".requirements-sha256"
    wanted = _digest((p.name, p.read_bytes()) for p in _requirement_files(suite_name))
    if stamp.exists() and stamp.read_text() == wanted:
        return venv
    if venv.exists():
        shutil.rmtree(venv)
    log(f"creating {venv.name} and installing {suite_name}'s pinned test dependencies")
    run([python, "-m", "venv", venv])
    run([venv / "bin" / "python", "-m", "pip", "install", "--quiet",
         "-r", REQUIREMENTS / f"{suite_name}.txt"])
    stamp.write_text(wanted)
    return venv


# -- eloop in the virtualenv --------------------------------------------------------------

def _tree_files():
    """The working tree's build inputs as git sees them (tracked or new, not ignored)."""
    listed = run(["git", "-C", REPO, "ls-files", "--cached", "--others", "--exclude-standard",
                  "--", *ELOOP_BUILD_INPUTS])
    return sorted(path for path in set(listed.splitlines()) if (REPO / path).is_file())


def eloop_wheel():
    """A wheel of the working tree's eloop, built once per distinct content."""
    files = _tree_files()
    sha = _digest((path, (REPO / path).read_bytes()) for path in files)[:16]
    wheel_dir = CACHE / "eloop-wheel" / sha
    wheels = sorted(wheel_dir.glob("eloop-*.whl"))
    if wheels:
        return wheels[0]
    log(f"building eloop from the working tree ({len(files)} files, {sha})")
    # Built from a copy: the working tree is shared, and a build writes build/ and *.egg-info there.
    source = Path(tempfile.mkdtemp(prefix="eloop-src-"))
    try:
        for path in files:
            target = source / path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / path, target)
        staging = Path(tempfile.mkdtemp(dir=CACHE, prefix=".wheel-"))
        run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", staging, source])
        wheel_dir.parent.mkdir(parents=True, exist_ok=True)
        staging.rename(wheel_dir)
    finally:
        shutil.rmtree(source, ignore_errors=True)
    _prune_old_wheels(keep=wheel_dir)
    return sorted(wheel_dir.glob("eloop-*.whl"))[0]


def _prune_old_wheels(keep, count=3):
    """The tree changes all day: keep the newest few builds, not every one."""
    builds = sorted((p for p in (CACHE / "eloop-wheel").iterdir() if p.is_dir() and p != keep),
                    key=lambda p: p.stat().st_mtime, reverse=True)
    for old in builds[count - 1:]:
        shutil.rmtree(old, ignore_errors=True)


def install_eloop(venv, wheel):
    stamp = venv / ".eloop-wheel"
    if stamp.exists() and stamp.read_text() == str(wheel):
        return
    run([venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--no-deps",
         "--force-reinstall", wheel])
    stamp.write_text(str(wheel))


def remove_eloop(venv):
    """For --eloop-from tree: the checkout on PYTHONPATH must be the only eloop."""
    stamp = venv / ".eloop-wheel"
    if stamp.exists():
        run([venv / "bin" / "python", "-m", "pip", "uninstall", "--quiet", "--yes", "eloop"])
        stamp.unlink()


def eloop_info(venv, env, cwd):
    """eloop.info() and where eloop was imported from, as the suite's processes see it."""
    out = run([venv / "bin" / "python", "-c",
               "import eloop, json; i = eloop.info(); i['file'] = eloop.__file__; print(json.dumps(i))"],
              env=env, cwd=cwd)
    return json.loads(out.strip().splitlines()[-1])


def sees_pytest_entry_point(venv, env):
    """Whether pytest in venv, with env's PYTHONPATH, finds eloop's pytest11 entry point (an
    eloop.egg-info left in the checkout by a build in place is found on PYTHONPATH too)."""
    out = run([venv / "bin" / "python", "-c",
               "import importlib.metadata as m; print(any(e.value == 'eloop.pytest_plugin' "
               "for e in m.entry_points(group='pytest11')))"], env=env, cwd=venv)
    return out.strip().splitlines()[-1] == "True"
