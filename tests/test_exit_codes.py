"""The exit status says what went wrong (``msrgan.errors``): 2 usage, 3 input, 1 runtime; ``--help`` lists them.

One representative case of each kind runs through ``msrgan.cli.main`` in this process and through
``python -m msrgan`` as a user runs it. Missing Hub repositories are asked of the local Hub server
(``local_hub``); an unreachable Hub is an endpoint where nothing listens.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import pytest

from msrgan.cli import main
from msrgan.errors import EXIT_INPUT, EXIT_INTERRUPTED, EXIT_OK, EXIT_RUNTIME, EXIT_USAGE, UsageError, exit_code
from tests.helpers import ROOT
from tests.hubserver import free_port

pytestmark = pytest.mark.one_backend  # argument handling, files and the Hub client: no Keras backend


def _dead_endpoint() -> str:
    return f"http://127.0.0.1:{free_port()}"  # nothing listens there


# name -> (argv, what the error line says, exit status); {tmp} is a fresh folder
CASES = {
    "usage: unknown flag": (["models", "--bogus"], "unrecognized arguments: --bogus", EXIT_USAGE),
    "usage: bad option value": (["data", "synth", "--count", "0", "--out", "{tmp}/hcs"], "--count must be at least 1",
                                EXIT_USAGE),
    "input: missing input file": (["upscale", "{tmp}/missing.png", "-o", "{tmp}/out", "--model", "msrgan-x4-gray"],
                                  "missing.png", EXIT_INPUT),
    "input: missing Hub repository": (["pull", "user/exit-codes-nothing-here", "-o", "{tmp}/pulled"], "was not found",
                                      EXIT_INPUT),
    "runtime: unreachable Hub": (["pull", "user/exit-codes-unreachable", "-o", "{tmp}/pulled"], "cannot be reached",
                                 EXIT_RUNTIME),
}


def _argv(case: str, tmp_path) -> list[str]:
    return [a.replace("{tmp}", str(tmp_path)) for a in CASES[case][0]]


def _error_line(err: str, says: str) -> str:
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1 and lines[0].startswith("msrgan") and says in lines[0], err
    return lines[0]


@pytest.mark.parametrize("case", sorted(CASES))
def test_exit_status_in_process(case, local_hub, tmp_path, monkeypatch, capsys):
    argv, says, status = CASES[case]
    if "unreachable" in case:
        from huggingface_hub import constants

        monkeypatch.setattr(constants, "ENDPOINT", _dead_endpoint())  # what HF_ENDPOINT=dead gives at import
    try:
        rc = main(_argv(case, tmp_path))
    except SystemExit as exc:  # argparse's usage errors
        rc = exc.code
    assert rc == status
    _error_line(capsys.readouterr().err, says)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize("case", sorted(CASES))
def test_exit_status_of_python_m_msrgan(case, local_hub, tmp_path):
    argv, says, status = CASES[case]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    if "unreachable" in case:
        env["HF_ENDPOINT"] = _dead_endpoint()
    proc = subprocess.run([sys.executable, "-m", "msrgan", *_argv(case, tmp_path)], capture_output=True, text=True,
                          env=env, cwd=str(ROOT), timeout=300)
    assert proc.returncode == status, proc.stderr[-3000:]
    _error_line(proc.stderr, says)


def _lists_the_exit_status_of_each_kind(text: str) -> None:
    lines = text[text.index("exit status:"):].splitlines()
    for status, word in [(EXIT_OK, "success"), (EXIT_RUNTIME, "runtime error"), (EXIT_USAGE, "usage error"),
                         (EXIT_INPUT, "input error"), (EXIT_INTERRUPTED, "interrupted")]:
        assert any(line.split()[:1] == [str(status)] and word in line for line in lines), (status, text)


def test_help_lists_the_exit_status_of_each_kind(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == EXIT_OK
    _lists_the_exit_status_of_each_kind(capsys.readouterr().out)
    proc = subprocess.run([sys.executable, "-m", "msrgan", "--help"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=str(ROOT))
    assert proc.returncode == EXIT_OK
    _lists_the_exit_status_of_each_kind(proc.stdout)


def _http_error(cls, status: int, base):
    """``huggingface_hub``'s ``cls`` for an answer with ``status``, mixed with ``base`` as ``zoo.hub`` raises it."""
    httpx = pytest.importorskip("httpx2")
    from huggingface_hub.errors import HfHubHTTPError

    from zoo.hub import hub_error

    response = httpx.Response(status, request=httpx.Request("GET", "http://hub.invalid/api/models/a/b"))
    return hub_error(cls, "the Hub answered", base=base, cause=HfHubHTTPError("x", response=response))


def _classified():
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    from zoo.hub import HubUnreachableError, hub_error

    return {
        "UsageError": (UsageError("--count must be at least 1"), EXIT_USAGE),
        "ValueError": (ValueError("a.png: cannot read the image"), EXIT_INPUT),
        "FileNotFoundError": (FileNotFoundError("No such file or folder: a.png"), EXIT_INPUT),
        "FileExistsError": (FileExistsError("out exists; pass --overwrite"), EXIT_INPUT),
        "PermissionError": (PermissionError("cannot write into out"), EXIT_INPUT),
        "NotADirectoryError": (NotADirectoryError("a.png/x"), EXIT_INPUT),
        "IsADirectoryError": (IsADirectoryError("folder"), EXIT_INPUT),
        "RepositoryNotFoundError": (_http_error(RepositoryNotFoundError, 404, FileNotFoundError), EXIT_INPUT),
        "RevisionNotFoundError": (_http_error(RevisionNotFoundError, 404, ValueError), EXIT_INPUT),
        "GatedRepoError": (_http_error(GatedRepoError, 403, FileNotFoundError), EXIT_INPUT),
        "RemoteEntryNotFoundError": (_http_error(RemoteEntryNotFoundError, 404, ValueError), EXIT_INPUT),
        "LocalEntryNotFoundError offline": (hub_error(LocalEntryNotFoundError, "not cached", base=FileNotFoundError),
                                            EXIT_INPUT),
        "token rejected (401)": (_http_error(HfHubHTTPError, 401, ValueError), EXIT_INPUT),
        "refused (403)": (_http_error(HfHubHTTPError, 403, ValueError), EXIT_RUNTIME),
        "server error (500)": (_http_error(HfHubHTTPError, 500, ValueError), EXIT_RUNTIME),
        "HubUnreachableError": (HubUnreachableError("cannot connect"), EXIT_RUNTIME),
        "LocalEntryNotFoundError unreachable": (hub_error(LocalEntryNotFoundError, "not cached, Hub unreachable",
                                                          base=HubUnreachableError), EXIT_RUNTIME),
        "OfflineModeIsEnabled": (hub_error(OfflineModeIsEnabled, "HF_HUB_OFFLINE=1", base=ValueError), EXIT_RUNTIME),
        "RuntimeError": (RuntimeError("XLA failed"), EXIT_RUNTIME),
        "MemoryError": (MemoryError(), EXIT_RUNTIME),
        "disk full": (OSError(errno.ENOSPC, "No space left on device"), EXIT_RUNTIME),
        "KeyError (a bug)": (KeyError("x"), None),
        "NotImplementedError (a bug)": (NotImplementedError(), None),
    }


@pytest.mark.parametrize("name", sorted(_classified()))
def test_each_exception_has_its_exit_status(name):
    exc, status = _classified()[name]
    assert exit_code(exc) == status


def test_a_runtime_error_is_one_line_and_v_adds_the_traceback(monkeypatch, capsys):
    import msrgan.commands.models as models

    def fail(args):
        raise RuntimeError("out of device memory\nwhile allocating 12 GiB")

    monkeypatch.setattr(models, "run", fail)
    assert main(["models"]) == EXIT_RUNTIME
    err = capsys.readouterr().err
    assert err == "msrgan models: error: out of device memory while allocating 12 GiB\n"
    assert main(["models", "-v"]) == EXIT_RUNTIME
    err = capsys.readouterr().err
    assert err.startswith("Traceback") and "in fail" in err
    assert err.splitlines()[-1] == "msrgan models: error: out of device memory while allocating 12 GiB"


def test_a_bug_keeps_pythons_traceback(monkeypatch):
    import msrgan.commands.models as models

    monkeypatch.setattr(models, "run", lambda args: {}["missing"])
    with pytest.raises(KeyError):
        main(["models"])
