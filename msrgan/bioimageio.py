"""bioimage.io model packages: what Fiji/deepImageJ, ilastik, QuPath and napari run.

``export_bioimageio(model, "out.zip")`` writes a model package of the bioimage.io format 0.5:

- ``rdf.yaml``: the description (axes ``b, y, x, c``, channels-last like msrgan; the output's y and x
  are ``scale`` times the input's; preprocessing ``scale_range`` with msrgan's 2 / 99.8 percentiles
  per channel, so the output is in the model's [0, 1] convention);
- ``weights.onnx``: ONNX weights from Keras's own exporter (``model.export(..., format="onnx")``),
  converted through the torch backend (Keras converts with ``torch.onnx`` there, without further
  packages) in a child process when another backend is active;
- ``test_input.npy`` / ``test_output.npy``: a synthetic field and the package's own prediction of it,
  which ``bioimageio.core``'s test run reproduces;
- ``cover.png`` (input | output), ``README.md`` (the model card) and the citations.

The package is checked with ``bioimageio.spec`` before it is written (``validate_package`` runs the
test tensors with ``bioimageio.core``). Both come with ``pip install 'msrgan[bioimageio]'``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["export_bioimageio", "validate_package", "CITATIONS"]

PMIN, PMAX = 2.0, 99.8
EPS = 1e-6  # bioimage.io's scale_range: (x - p_low) / (p_high - p_low + eps)
TEST_SIZE = 64
CITATIONS = [
    {"text": "Ledig C. et al., Photo-Realistic Single Image Super-Resolution Using a Generative Adversarial "
             "Network (SRGAN), CVPR 2017", "doi": "10.1109/CVPR.2017.19"},
    {"text": "Ledig C. et al., SRGAN preprint", "url": "https://arxiv.org/abs/1609.04802"},
]
THESIS = ("The mSRGAN master's thesis (2017): super-resolution of high-content-screening microscopy with a "
          "microscopy content loss (a miniVGG19 trained on Human Protein Atlas / CYTO2017 images).")


def _need(module: str):
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        raise ImportError(f"bioimage.io export needs {module}; install it with pip install 'msrgan[bioimageio]'") from None


def export_onnx(source, model, path: Path) -> Path:
    """ONNX weights of ``model`` (loaded from ``source``), with dynamic batch, height and width."""
    import keras

    _need("onnx")
    if keras.backend.backend() == "torch":
        _export_here(model, path)
        return path
    if source is None:
        raise ValueError("ONNX export under the Keras backend "
                         f"{keras.backend.backend()!r} needs a model source (preset, folder or Hub id) to load "
                         "under torch; save the model with save_pretrained and export the folder")
    code = ("import sys; from msrgan.bioimageio import _export_here; import zoo; "
            "_export_here(zoo.from_pretrained(sys.argv[1]), sys.argv[2])")
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    done = subprocess.run([sys.executable, "-c", code, str(source), str(path)], env=env, capture_output=True,
                          text=True)
    if done.returncode != 0 or not path.is_file():
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"ONNX export through the torch backend failed: {' | '.join(tail)}")
    return path


def _export_here(model, path) -> None:
    import contextlib
    import io

    import keras

    spec = keras.InputSpec(shape=(None, None, None, int(model.channels)), dtype="float32")
    with contextlib.redirect_stdout(io.StringIO()):
        model.export(str(path), format="onnx", input_signature=[spec], verbose=False)


def _scale_range(x: np.ndarray) -> np.ndarray:
    """bioimage.io's ``scale_range`` over y and x, per channel, on ``(1, H, W, C)``."""
    lo = np.percentile(x, PMIN, axis=(1, 2), keepdims=True)
    hi = np.percentile(x, PMAX, axis=(1, 2), keepdims=True)
    return ((x - lo) / (hi - lo + EPS)).astype(np.float32)


def _run_onnx(path: Path, x: np.ndarray) -> np.ndarray:
    ort = _need("onnxruntime")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {session.get_inputs()[0].name: x})[0], np.float32)


def _cover(path: Path, lr: np.ndarray, sr: np.ndarray) -> None:
    """input (nearest, upscaled) | output, side by side, 2:1, first up to 3 channels as gray or RGB."""
    from PIL import Image

    def show(a):
        a = a[..., :3] if a.shape[-1] >= 3 else a[..., :1].repeat(3, -1)
        return (np.clip(a, 0, 1) * 255).astype(np.uint8)

    s = sr.shape[0] // lr.shape[0]
    left = np.repeat(np.repeat(show(lr), s, 0), s, 1)
    Image.fromarray(np.concatenate([left, show(sr)], axis=1)).save(path)


def _readme(model, card: str | None, scale: int) -> str:
    text = card or f"# {getattr(model, 'zoo_name', None) or 'msrgan generator'}\n\nAn msrgan x{scale} generator.\n"
    return (text.rstrip() + "\n\n## bioimage.io package\n\n"
            f"Input: a 2-D image, axes b, y, x, c (channels last), any size from 16 pixels; output: {scale} times "
            "larger, in [0, 1]: the input is scaled per channel between its 2nd and 99.8th percentiles "
            "(preprocessing scale_range), as msrgan's own inference does before the model. Stacks are upscaled "
            "plane by plane by the consumer.\n\n# Validation\n\n"
            "The test tensors are a synthetic 64x64 field and this package's own ONNX prediction of it. msrgan's "
            "own scores (PSNR / SSIM against bicubic on held-out fields, real pairs with msrgan evaluate --lr "
            "--hr) are in the model card above.\n\n## Citations\n\n- " + CITATIONS[0]["text"] + "\n- " + THESIS + "\n")


def _rdf(name: str, model, channel_names: list[str], scale: int, opset: int | None) -> dict:
    space_in = [{"type": "space", "id": a, "size": {"min": 16, "step": 8}} for a in ("y", "x")]
    space_out = [{"type": "space", "id": a, "size": {"tensor_id": "raw", "axis_id": a}, "scale": 1.0 / scale}
                 for a in ("y", "x")]
    channel = {"type": "channel", "channel_names": channel_names}
    onnx = {"source": "weights.onnx"}
    if opset:
        onnx["opset_version"] = int(opset)
    return {
        "type": "model", "format_version": "0.5.4", "name": name,
        "description": f"msrgan x{scale} super-resolution for fluorescence microscopy "
                       f"({len(channel_names)} channel(s), SRResNet generator trained as an SRGAN)",
        "authors": [{"name": "msrgan developers"}], "license": "Apache-2.0",
        "cite": CITATIONS, "documentation": "README.md", "covers": ["cover.png"],
        "tags": ["super-resolution", "microscopy", "fluorescence", "srgan", "2d", "onnx"],
        "inputs": [{"id": "raw", "description": "low-resolution image", "axes": [{"type": "batch"}, *space_in, channel],
                    "test_tensor": {"source": "test_input.npy"}, "data": {"type": "float32"},
                    "preprocessing": [{"id": "scale_range", "kwargs": {"axes": ["y", "x"], "min_percentile": PMIN,
                                                                       "max_percentile": PMAX}}]}],
        "outputs": [{"id": "sr", "description": f"x{scale} super-resolved image in [0, 1]",
                     "axes": [{"type": "batch"}, *space_out, channel], "test_tensor": {"source": "test_output.npy"},
                     "data": {"type": "float32"}}],
        "weights": {"onnx": onnx},
    }


def export_bioimageio(model, output: str | os.PathLike, *, overwrite: bool = False, name: str | None = None,
                      validate: bool = True) -> Path:
    """Writes a bioimage.io model package (zip) for ``model``.

    Args:
        model: A preset name, pretrained folder, Hub id, or a loaded generator (under the torch backend;
            other backends need a source they can reload).
        output: The ``.zip`` to write; an existing file needs ``overwrite=True``.
        name: The package's name (default: the preset or folder name).
        validate: Validate the description with ``bioimageio.spec`` before writing (needs the extra).

    Returns:
        The written path.
    """
    from msrgan.convention import CHANNEL_LAYOUTS
    from msrgan.data.synthetic import synthesize_field
    from msrgan.inference import load_generator
    from zoo.files import atomic_file

    output = Path(output)
    if output.suffix.lower() != ".zip":
        raise ValueError(f"{output}: a bioimage.io package is a .zip file")
    if output.exists() and not overwrite:
        raise FileExistsError(f"{output} exists; pass overwrite=True (or --overwrite) to replace it")
    source = None if not isinstance(model, (str, os.PathLike)) else str(model)
    generator = load_generator(model)
    scale, channels = int(generator.scale), int(generator.channels)
    name = name or "msrgan " + (Path(source).name if source else getattr(generator, "zoo_name", None) or "generator")
    layout = CHANNEL_LAYOUTS.get(channels)
    channel_names = list(layout) if layout and channels > 1 else [f"channel{i}" for i in range(channels)]
    work = Path(tempfile.mkdtemp(prefix="msrgan-bioimageio-"))
    try:
        export_onnx(source, generator, work / "weights.onnx")
        field = synthesize_field(7, size=TEST_SIZE, channels=max(channels, 1), bit_depth=16)[0]
        field = field.reshape(TEST_SIZE, TEST_SIZE, -1)[..., :channels]
        x = field[None].astype(np.float32)
        y = _run_onnx(work / "weights.onnx", _scale_range(x))
        np.save(work / "test_input.npy", x)
        np.save(work / "test_output.npy", y)
        _cover(work / "cover.png", _scale_range(x)[0], y[0])
        (work / "README.md").write_text(_readme(generator, _card(source), scale), encoding="utf-8")
        import onnx

        opset = max((o.version for o in onnx.load(str(work / "weights.onnx")).opset_import if o.domain in ("", "ai.onnx")),
                    default=None)
        rdf = _rdf(name, generator, channel_names, scale, opset)
        _write_yaml(work / "rdf.yaml", rdf)
        with atomic_file(output) as tmp:
            _zip(work, tmp)
            if validate:
                validate_package(tmp, run_test=False)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return output


def _card(source) -> str | None:
    if source is None:
        return None
    folder = Path(source)
    if folder.is_dir() and (folder / "README.md").is_file():
        return (folder / "README.md").read_text(encoding="utf-8")
    try:
        from importlib.resources import files

        bundled = files("msrgan") / "pretrained" / str(source) / "README.md"
        return bundled.read_text(encoding="utf-8") if bundled.is_file() else None
    except (ModuleNotFoundError, OSError, ValueError):
        return None


def _write_yaml(path: Path, data: dict) -> None:
    import yaml

    path.write_text(yaml.safe_dump(json.loads(json.dumps(data)), sort_keys=False, allow_unicode=True),
                    encoding="utf-8")


def _zip(folder: Path, target: Path) -> None:
    import zipfile

    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(folder.iterdir()):
            zf.write(p, p.name)


def validate_package(path: str | os.PathLike, *, run_test: bool = True) -> None:
    """Validates the package with ``bioimageio.spec`` and, with ``run_test``, runs its test tensors with
    ``bioimageio.core`` (which predicts the test input and compares with the test output).

    Raises:
        ValueError: the summary of what failed.
    """
    spec = _need("bioimageio.spec")
    with spec.ValidationContext(perform_io_checks=True):
        descr = spec.load_description(str(path))
    if not isinstance(descr, spec.model.v0_5.ModelDescr):
        summary = getattr(descr, "validation_summary", None)
        detail = summary.format() if summary is not None else str(descr)
        raise ValueError(f"{path}: not a valid bioimage.io model:\n{detail}")
    if run_test:
        core = _need("bioimageio.core")
        result = core.test_model(str(path))
        if result.status != "passed":
            raise ValueError(f"{path}: bioimageio.core's test run failed:\n{result.format()}")
