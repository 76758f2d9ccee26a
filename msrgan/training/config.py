"""Run configuration for the training commands: defaults, a JSON/TOML/YAML config file, then flags.

A config file holds the same settings as the command-line flags, by their long names (dashes or
underscores alike), e.g. ``train.toml``::

    data = "synthetic"
    count = 64
    pretrain-steps = 2000
    content = "minivgg19=runs/minivgg19"

Precedence: built-in defaults < config file < flags given on the command line. The resolved
configuration is written next to the run's outputs, so ``--config OUT/train_config.json``
repeats a run.

Example:
    >>> resolve_options({"steps": 10, "lr": 0.1}, {"steps": 5}, {"steps": None, "lr": 0.01})
    {'steps': 5, 'lr': 0.01}
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path


def load_config_file(path) -> dict:
    """Reads a ``.json``, ``.toml`` or ``.yaml`` config file into a flat dict with underscore keys."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    text = path.read_text()
    if path.suffix.lower() == ".toml":
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10: the same parser as the `tomli` package
            try:
                import tomli as tomllib
            except ModuleNotFoundError:
                raise ValueError(f"reading {path} needs Python 3.11+ or the `tomli` package (pip install tomli); "
                                 "or write the settings as .json or .yaml") from None

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path} is not valid TOML: {exc}") from None
    elif path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(f"{path} is not valid YAML: {exc}") from None
    elif path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path} is not valid JSON: {exc}") from None
    else:
        raise ValueError(f"config file {path} must end in .json, .toml, .yaml or .yml")
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a table/object of settings, got {type(data).__name__}")
    return {str(k).replace("-", "_"): v for k, v in data.items()}


def resolve_options(defaults: dict, file_config: dict | None, flags: dict, *, source: str = "config file") -> dict:
    """Merges ``defaults`` < ``file_config`` < ``flags`` (flags that are None were not given).

    Raises:
        ValueError: naming an unknown key of the config file.
    """
    file_config = dict(file_config or {})
    unknown = sorted(set(file_config) - set(defaults))
    if unknown:
        raise ValueError(f"{source}: unknown setting(s) {unknown}; known: {sorted(defaults)}")
    out = dict(defaults)
    out.update(file_config)
    out.update({k: v for k, v in flags.items() if k in defaults and v is not None})
    return out


@dataclasses.dataclass(frozen=True)
class Setting:
    """The type and range of one run setting: ``kind`` int, float, bool or str; ``low``/``high``
    bounds (inclusive unless ``open_low``/``open_high``); ``choices`` for strings; ``optional``: None allowed."""

    kind: type
    low: float | None = None
    high: float | None = None
    optional: bool = False
    choices: tuple | None = None
    open_low: bool = False
    open_high: bool = False

    def describe(self) -> str:
        what = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}[self.kind]
        if self.choices:
            what = f"one of {list(self.choices)}"
        bounds = []
        if self.low is not None:
            bounds.append(f"{'>' if self.open_low else '>='} {self.low:g}")
        if self.high is not None:
            bounds.append(f"{'<' if self.open_high else '<='} {self.high:g}")
        return what + (f" {' and '.join(bounds)}" if bounds else "") + (" (or null)" if self.optional else "")

    def check(self, value):
        """The value converted to ``kind``; ValueError (without the setting's name) when it does not fit."""
        if value is None:
            if self.optional:
                return None
            raise ValueError(f"must be {self.describe()}")
        if self.kind is bool:
            if isinstance(value, bool):
                return value
            raise ValueError(f"must be {self.describe()}")
        if self.kind is int:
            if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, float) and value.is_integer())):
                raise ValueError(f"must be {self.describe()}")
            value = int(value)
        elif self.kind is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"must be {self.describe()}")
            value = float(value)
        elif not isinstance(value, str):
            raise ValueError(f"must be {self.describe()}")
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"must be {self.describe()}")
        if self.low is not None and (value <= self.low if self.open_low else value < self.low):
            raise ValueError(f"must be {self.describe()}")
        if self.high is not None and (value >= self.high if self.open_high else value > self.high):
            raise ValueError(f"must be {self.describe()}")
        return value


def check_settings(options: dict, settings: dict[str, Setting], origin=None) -> dict:
    """``options`` with every value in ``settings`` checked and converted.

    Args:
        options: Resolved settings.
        settings: Name -> ``Setting``.
        origin: ``origin(name) -> str``, where a value came from (``"--flag"``, a config file), for the
            error message.

    Raises:
        UsageError (a ValueError): naming the setting, where it came from, what it must be and the
            value given; a plain ValueError (an input error) when the value came from a config file.
    """
    from msrgan.errors import UsageError

    out = dict(options)
    for name, rule in settings.items():
        if name not in out:
            continue
        try:
            out[name] = rule.check(out[name])
        except ValueError as exc:
            where = origin(name) if origin is not None else None
            error = ValueError if where is not None and where.startswith("config file") else UsageError
            raise error(f"setting {name}{f' (from {where})' if where else ''} {exc}, got {out[name]!r}") from None
    return out


def origins(flags: dict, file_config: dict | None, config_path) -> "callable":
    """``origin(name)`` for ``check_settings``: the flag, the config file, or the defaults."""
    file_config = file_config or {}

    def origin(name: str) -> str:
        if flags.get(name) is not None:
            return "--" + name.replace("_", "-")
        if name in file_config:
            return f"config file {config_path}"
        return "the defaults"

    return origin


def write_config(path, options: dict) -> Path:
    """Writes the resolved options as JSON (atomically); returns the path."""
    from zoo.files import atomic_write_bytes

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(options, indent=2, sort_keys=True, default=str) + "\n"
    return atomic_write_bytes(path, text.encode("utf-8"))


def data_count(data, count: int | None, synthetic_default: int) -> int | None:
    """``--count`` as ``load_source`` takes it: given, or ``synthetic_default`` fields of synthetic
    data, or every image of a folder or dataset (None)."""
    if count is not None:
        return int(count)
    return synthetic_default if str(data) in ("synthetic", "varied") else None


def set_precision(mixed_precision: str | None) -> str:
    """Sets Keras's global dtype policy: None/"float32", ``"bfloat16"`` or ``"float16"`` (mixed)."""
    import keras

    if mixed_precision in (None, "", "none", "float32"):
        keras.config.set_dtype_policy("float32")
        return "float32"
    if mixed_precision not in ("bfloat16", "float16"):
        from msrgan.errors import UsageError

        raise UsageError(f"--mixed-precision must be bfloat16 or float16, got {mixed_precision!r}")
    keras.config.set_dtype_policy(f"mixed_{mixed_precision}")
    return f"mixed_{mixed_precision}"


def parse_jit(value) -> bool:
    """``jit_compile`` for ``compile``: a bool from ``on/off/true/false/1/0``, or ``"auto"``.

    ``"auto"`` is the backend module's ``JIT_COMPILE_AUTO`` (``msrgan.backends``): True on
    TensorFlow (XLA, which Keras's own ``"auto"`` leaves off) and JAX (always compiled), False on
    PyTorch (``torch.compile`` took longer to compile than the demo runs); the measurements are in
    docs/benchmarks.md.
    """
    if isinstance(value, bool):
        return value
    v = str(value).lower()
    if v == "auto":
        from msrgan import backends

        return backends.current().JIT_COMPILE_AUTO
    if v in ("on", "true", "1", "yes"):
        return True
    if v in ("off", "false", "0", "no"):
        return False
    from msrgan.errors import UsageError

    raise UsageError(f"--jit-compile must be auto, on or off, got {value!r}")
