"""msrgan.backends: one module per backend with the same interface; model and loss code import no framework."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FRAMEWORKS = {"tensorflow", "torch", "jax", "jaxlib"}


def _top_level_names(path: Path) -> set[str]:
    """Names a module defines at its top level: functions, classes, assignments and imports."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _frameworks_imported(path: Path) -> set[str]:
    """The frameworks a file imports anywhere (at module level or inside a function)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found & FRAMEWORKS


@pytest.mark.one_backend  # reads source files only
def test_every_backend_module_defines_the_interface():
    from msrgan import backends

    for name in backends.NAMES:
        missing = set(backends.INTERFACE) - _top_level_names(ROOT / "msrgan" / "backends" / f"{name}.py")
        assert not missing, f"msrgan/backends/{name}.py lacks {sorted(missing)}"


@pytest.mark.one_backend  # reads source files only
def test_only_the_backend_modules_import_their_framework():
    files = sorted((ROOT / "msrgan" / "models").glob("*.py")) + [ROOT / "msrgan" / "losses.py"]
    files += sorted((ROOT / "msrgan" / "backends").glob("*.py"))
    for path in files:
        imported = _frameworks_imported(path)
        allowed = {path.stem} & FRAMEWORKS if path.parent.name == "backends" else set()
        assert imported <= allowed, f"{path.relative_to(ROOT)} imports {sorted(imported - allowed)}"


def test_current_is_the_running_backend(backend):
    from msrgan import backends

    module = backends.current()
    assert module.__name__ == f"msrgan.backends.{backend}"
    assert all(hasattr(module, name) for name in backends.INTERFACE)
    with pytest.raises(ValueError, match="numpy"):
        backends._module("numpy")


def test_torch_adam_in_fewer_passes_takes_keras_adams_steps(backend):
    """On PyTorch, MSRGAN's Adam update (in-place multi-tensor operations, moments laid out like their
    channels-last kernels) gives Keras's Adam weights and moments, with a learning-rate schedule."""
    if backend != "torch":  # deliberate: the other backends keep Keras's own Adam, tested by Keras
        pytest.skip("the PyTorch backend's optimizer step")
    import keras
    import numpy as np
    import torch

    from msrgan.backends import torch as torch_backend
    from msrgan.models.blocks import Conv2D

    results = []
    for fewer_passes in (False, True):
        keras.utils.set_random_seed(3)
        layer = Conv2D(5, 3)
        layer.build((1, 8, 8, 4))
        variables = layer.trainable_variables
        start = keras.ops.convert_to_numpy(variables[0])
        optimizer = keras.optimizers.Adam(keras.optimizers.schedules.ExponentialDecay(1e-2, 2, 0.5))
        optimizer.build(variables)
        if fewer_passes:
            torch_backend._use_fewer_passes(optimizer)
            assert optimizer._momentums[0].value.stride() == variables[0].value.stride()  # the kernel's layout
        for step in range(4):
            grads = [torch.from_numpy(np.random.default_rng(10 * step + i).normal(size=tuple(v.shape)).astype("f4"))
                     for i, v in enumerate(variables)]
            optimizer.apply(grads, variables)
        assert np.abs(keras.ops.convert_to_numpy(variables[0]) - start).max() > 1e-3  # the steps moved the kernel
        results.append([keras.ops.convert_to_numpy(v) for v in
                        variables + optimizer._momentums + optimizer._velocities])
    for got, want in zip(results[1], results[0]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
