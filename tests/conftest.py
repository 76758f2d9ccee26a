"""Test-suite set-up shared by every test module.

The Hugging Face clients read ``HF_ENDPOINT`` and ``HF_HUB_DISABLE_XET`` when they are first
imported (and keras imports them), so they are set here, before any test module imports them:
the endpoint is a local Hub-compatible server (``tests/hubserver.py``) on a free port, started
by the ``local_hub`` fixture; the Hub cache lives in a temporary folder.
"""

from __future__ import annotations

import os
import socket
import tempfile


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_PORT = _free_port()
_HF_HOME = tempfile.mkdtemp(prefix="msrgan-tests-hf-")
os.environ["HF_ENDPOINT"] = f"http://127.0.0.1:{_PORT}"
os.environ["HF_HUB_DISABLE_XET"] = "1"
os.environ["HF_HOME"] = _HF_HOME
os.environ["HF_HUB_CACHE"] = os.path.join(_HF_HOME, "hub")
os.environ["HF_DATASETS_CACHE"] = os.path.join(_HF_HOME, "datasets")
os.environ["HF_TOKEN"] = "hf_test_token_do_not_print"
os.environ.pop("HF_HUB_OFFLINE", None)
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def local_hub():
    """The local Hub server that ``HF_ENDPOINT`` points at, started once per session."""
    from tests.hubserver import LocalHub

    hub = LocalHub(port=_PORT).start()
    yield hub
    hub.stop()


@pytest.fixture(scope="session")
def backend() -> str:
    import keras

    return keras.backend.backend()


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


# Tests that do not touch a Keras backend (file formats, data, the Hub client, the CLI's argument
# handling) carry ``@pytest.mark.one_backend``: they run once, under the first backend of
# scripts/test.sh (MSRGAN_FIRST_BACKEND), instead of once per backend. Without that variable
# (a plain ``pytest`` run) they always run.
def pytest_configure(config):
    config.addinivalue_line("markers", "one_backend: backend-independent; run under one backend of scripts/test.sh")


def pytest_collection_modifyitems(config, items):
    first = os.environ.get("MSRGAN_FIRST_BACKEND")
    current = os.environ.get("KERAS_BACKEND")
    if not first or not current or first == current:
        return
    skip = pytest.mark.skip(reason=f"backend-independent: run under KERAS_BACKEND={first} only")
    for item in items:
        if item.get_closest_marker("one_backend"):
            item.add_marker(skip)
