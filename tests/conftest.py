"""Shared pytest fixtures: real servers on 127.0.0.1 free ports, stopped at the end of the session."""

import os
import socket
import subprocess
import time
import urllib.request

import pytest
from hypothesis import settings

from tests.fixtures.corpus import corpus_required  # noqa: F401  (fixture behind needs_corpus)
from tests.helpers import VENV_BIN

# CI gates on the same examples every run (a new random counter-example must not fail an unrelated
# change); elsewhere hypothesis explores freely.
settings.register_profile("ci", derandomize=True, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "default")



def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError("%s did not answer within %ss" % (url, timeout))
            time.sleep(0.1)


@pytest.fixture(scope="session")
def moto_server():
    """A real ``moto_server`` process; yields its endpoint URL (``http://127.0.0.1:PORT``)."""
    port = free_port()
    proc = subprocess.Popen([os.path.join(VENV_BIN, "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = "http://127.0.0.1:%d" % port
    try:
        wait_http(url + "/moto-api/")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def aws_env(monkeypatch):
    """Fake AWS credentials for moto, in this process and in the ansible-playbook children."""
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return dict(os.environ)
