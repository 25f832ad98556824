#!/usr/bin/env python3
"""Runs the test suite that ships in an apache-iggy PyPI source package, unmodified, against a
real `whippet` binary, and compares its failures with `expected-failures-<version>` (each entry
has its reason there and in FINDINGS.md). Entries written `deselect <id>` are not run at all:
tests of transports the broker does not serve, which would only wait out their timeouts.

The run fails when a test fails that is not listed (a regression), when a listed test passes (the
list is stale: remove the entry), or when pytest does not finish. Only the server address is
configured (IGGY_SERVER_* environment variables, as the suite's own scripts do).

Usage: suite.py VERSION VENV BINARY
"""

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
import xml.etree.ElementTree as ElementTree
from pathlib import Path

HERE = Path(__file__).resolve().parent
INDEX = "https://pypi.org/simple/apache-iggy/"
# The source packages, pinned by digest (PyPI's own sha256 for these files).
SHA256 = {
    "0.9.0": "0c8edc47cb54886ab3fbc7a83725dad949f98c1beb3460dfb9270a3a777b6c8e",
    "0.8.0": "f95e48eff23db962a290cbfe587dc7cc1bf2fe707c5462f39554c2741fd33c4e",
}
# Test files left out, with why: they need a container runtime (testcontainers) the suite uses
# to start a TLS server of its own.
IGNORED = ["tests/test_tls.py"]
READY_TIMEOUT_S = 10
# The suite's connection-string tests name the reference server's default ports literally, so
# the broker listens there (the run fails clearly if they are taken).
NATIVE_ADDR = "127.0.0.1:8090"
HTTP_ADDR = "127.0.0.1:3000"
SUITE_TIMEOUT_S = 1200


def say(text):
    print(f"iggy-python: {text}", file=sys.stderr, flush=True)


def cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "whippet" / "iggy-python"


def fetch(version):
    """The extracted source package (downloaded once, checked against its pinned digest)."""
    root = cache_dir() / f"apache_iggy-{version}"
    if (root / "foreign" / "python" / "tests").is_dir():
        return root
    name = f"apache_iggy-{version}.tar.gz"
    with urllib.request.urlopen(INDEX, timeout=60) as response:
        index = response.read().decode()
    match = re.search(r'href="([^"#]*/' + re.escape(name) + r')#', index)
    if not match:
        raise SystemExit(f"iggy-python: {name} not listed at {INDEX}")
    with urllib.request.urlopen(match.group(1), timeout=120) as response:
        data = response.read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256[version]:
        raise SystemExit(f"iggy-python: {name} has sha256 {digest}, expected {SHA256[version]}")
    cache_dir().mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir()) as scratch:
        archive = Path(scratch) / name
        archive.write_bytes(data)
        with tarfile.open(archive) as tar:
            tar.extractall(scratch, filter="data")
        shutil.rmtree(root, ignore_errors=True)
        (Path(scratch) / f"apache_iggy-{version}").rename(root)
    return root


class Broker:
    """A whippet process on port-0 listeners in a temp dir, stopped on exit."""

    def __init__(self, binary):
        self.dir = tempfile.mkdtemp(prefix="whippet-iggy-python.")
        self.stdout = open(os.path.join(self.dir, "stdout"), "w+")
        self.stderr = open(os.path.join(self.dir, "stderr"), "w+")
        env = {k: v for k, v in os.environ.items() if k != "WHIPPET_CONFIG"}
        self.process = subprocess.Popen(
            [binary, "--data-dir", os.path.join(self.dir, "data"),
             "--kafka-addr", "127.0.0.1:0", "--native-addr", NATIVE_ADDR,
             "--http-addr", HTTP_ADDR],
            cwd=self.dir, env=env, stdout=self.stdout, stderr=self.stderr,
            stdin=subprocess.DEVNULL)
        self.native = self.http = None
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline and self.process.poll() is None:
            self.stdout.seek(0)
            ready = re.search(r'"native":"[^"]*:(\d+)".*"http":"[^"]*:(\d+)"', self.stdout.read())
            if ready:
                self.native, self.http = ready.group(1), ready.group(2)
                return
            time.sleep(0.1)
        self.stop()
        raise SystemExit(f"iggy-python: the broker did not become ready; stderr:\n{self.log()}")

    def log(self):
        self.stderr.seek(0)
        return self.stderr.read()

    def stop(self):
        """Stops the broker; whether it was still running (it must not have died)."""
        alive = self.process.poll() is None
        if alive:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return alive


def failed_tests(report):
    """Ids (file::class::test[params]) of the tests that failed or errored in a JUnit report."""
    failed = set()
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        if case.find("failure") is None and case.find("error") is None:
            continue
        parts = case.get("classname", "").split(".")
        # classname is tests.test_file[.Class]; the id is test_file.py[::Class]::name.
        module = next((i for i, part in enumerate(parts) if part.startswith("test_")), None)
        if module is None:
            failed.add(f"{case.get('classname')}::{case.get('name')}")
            continue
        start = parts.index("tests") if "tests" in parts[:module] else 0
        path = "/".join(parts[start: module + 1]) + ".py"
        rest = parts[module + 1:]
        failed.add("::".join([path, *rest, case.get("name")]))
    return failed


def expected_failures(version):
    """(tests that must fail, tests not to run) as listed for `version`."""
    listed, deselected = set(), []
    for line in (HERE / f"expected-failures-{version}").read_text().splitlines():
        entry = line.split("  #", 1)[0].strip()
        if not entry or entry.startswith("#"):
            continue
        if entry.startswith("deselect "):
            deselected.append(entry.removeprefix("deselect ").strip())
        else:
            listed.add(entry)
    return listed, deselected


def main():
    version, venv, binary = sys.argv[1:4]
    source = fetch(version) / "foreign" / "python"
    listed, deselected = expected_failures(version)
    broker = Broker(binary)
    report = os.path.join(broker.dir, "junit.xml")
    env = dict(os.environ, IGGY_SERVER_HOST="127.0.0.1", IGGY_SERVER_TCP_PORT=broker.native,
               IGGY_SERVER_HTTP_PORT=broker.http)
    command = [os.path.join(venv, "bin", "python"), "-m", "pytest", "-p", "no:cacheprovider",
               "-o", "addopts=", "-q", "--junitxml", report, "tests"]
    command += [f"--ignore={path}" for path in IGNORED]
    # Node ids are relative to the package root, where its pyproject.toml (pytest's rootdir) is.
    command += [f"--deselect=foreign/python/{test}" for test in deselected]
    try:
        finished = subprocess.run(command, cwd=source, env=env, timeout=SUITE_TIMEOUT_S,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    finally:
        survived = broker.stop()
    summary = finished.stdout.strip().splitlines()[-1:] or ["(no output)"]
    if not os.path.exists(report):
        print(finished.stdout)
        raise SystemExit(f"iggy-python {version}: pytest wrote no report: {summary[0]}")
    failed = failed_tests(report)
    unexpected, fixed = sorted(failed - listed), sorted(listed - failed)
    for test in unexpected:
        print(f"UNEXPECTED FAILURE  {test}")
    for test in fixed:
        print(f"NOW PASSES (remove from expected-failures-{version})  {test}")
    if unexpected:
        print(finished.stdout[-20000:])
    if not survived:
        print(f"the broker died during the suite; its stderr:\n{broker.log()[-5000:]}")
    print(f"apache-iggy {version} suite: {summary[0]}; {len(failed)} failed, "
          f"{len(failed & listed)} of them expected")
    shutil.rmtree(broker.dir, ignore_errors=True)
    return 1 if unexpected or fixed or not survived else 0


if __name__ == "__main__":
    sys.exit(main())
