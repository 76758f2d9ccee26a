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

``Options`` is the base of each command's typed settings (``TrainOptions``, ``ClassifierOptions``):
a frozen dataclass of the settings, checked by ``Setting`` (type and range) when made, from
keywords, a dict, a file, or the defaults < a file < the flags given.

Example:
    >>> @dataclasses.dataclass(frozen=True)
    ... class Tiny(Options):
    ...     COMMAND = "tiny"
    ...     steps: int = 10
    ...     lr: float = 0.1
    ...     @classmethod
    ...     def settings(cls):
    ...         return {"steps": Setting(int, 1), "lr": Setting(float, 0, open_low=True)}
    >>> Tiny.resolve({"steps": None, "lr": 0.01})  # the flags given: lr
    Tiny(steps=10, lr=0.01)
    >>> Tiny(steps=2.0).steps, Tiny.from_dict({"steps": 3}).replace(lr=1).to_dict()
    (2, {'steps': 3, 'lr': 1.0})
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


JIT_VALUES = ("auto", "on", "off", "true", "false", "1", "0", "yes", "no")


def refuser(origin):
    """``refuse(name, message)``, raising a usage error, or an input error (``ValueError``) when the
    value came from a config file (``origin`` as for ``check_settings``)."""
    from msrgan.errors import UsageError

    def refuse(name: str, message: str):
        where = origin(name) if origin is not None else None
        error = ValueError if where is not None and where.startswith("config file") else UsageError
        raise error(f"{message}{f' (from {where})' if where else ''}")

    return refuse


def check_common(values: dict, refuse) -> dict:
    """The checks every command's settings share, on a copy of ``values``: ``data`` and ``out`` paths
    as strings, a normalization alias (``range``) as its name, ``jit_compile`` a bool or one of
    ``JIT_VALUES``; ``refuse`` as ``refuser`` makes it."""
    import os

    out = {k: os.fspath(v) if k in ("data", "out") and isinstance(v, os.PathLike) else v for k, v in values.items()}
    if isinstance(out.get("normalization"), str):
        from msrgan.data.normalize import NORMALIZATIONS

        if out["normalization"] in NORMALIZATIONS:
            out["normalization"] = NORMALIZATIONS.canonical(out["normalization"])
    jit = out.get("jit_compile", "auto")
    if not (isinstance(jit, bool) or (isinstance(jit, str) and jit.lower() in JIT_VALUES)):
        refuse("jit_compile", f"setting jit_compile must be auto, on or off (or true/false), got {jit!r}")
    return out


class Options:
    """The base of a command's typed settings: ``TrainOptions`` (``msrgan.training.options``,
    ``msrgan train``) and ``ClassifierOptions`` (``msrgan.training.classifier``, ``msrgan
    train-classifier``).

    A subclass is a frozen dataclass whose fields are the command's settings, named as its long
    flags (``_`` for ``-``), with their defaults. It sets ``COMMAND`` (named in errors) and
    ``NOT_RECORDED`` (how one invocation treats its output, left out of ``run_record``), and defines
    ``settings()`` (name -> ``Setting``) and, for more checks than those, ``check(values, origin)``.
    Values are checked and converted when options are made (``3.0`` for an integer setting becomes
    ``3``, a path a string); a wrong one raises ``UsageError`` (a ``ValueError``) naming the setting
    and the value, and a plain ``ValueError`` naming the file too when it came from one.
    """

    COMMAND = "msrgan"
    NOT_RECORDED: tuple[str, ...] = ()

    def __post_init__(self):
        for name, value in self.check(dataclasses.asdict(self)).items():
            object.__setattr__(self, name, value)

    @classmethod
    def settings(cls) -> dict[str, Setting]:
        """Name -> ``Setting``, the type and range of each setting checked alone."""
        return {}

    @classmethod
    def check(cls, values: dict, origin=None) -> dict:
        """``values`` (settings by name, a subset) checked and converted: ``check_common``, then ``settings()``.

        Args:
            values: Settings by name.
            origin: ``origin(name) -> str``, where a value came from (``origins``), for the message.
        """
        return check_settings(check_common(values, refuser(origin)), cls.settings(), origin)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The settings' names, in the order of the fields."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def defaults(cls) -> dict:
        """Name -> default value of every setting (without making and checking options)."""
        return {f.name: f.default for f in dataclasses.fields(cls)}

    @classmethod
    def from_dict(cls, values: dict, *, source=None):
        """Options from ``values`` (setting name -> value; settings not named keep their defaults).

        Args:
            values: Settings by name; ``-`` and ``_`` alike.
            source: Where ``values`` came from (a file), named in errors, which are then input
                errors (``ValueError``) rather than usage errors.

        Raises:
            ValueError: naming an unknown setting (and ``source``), or a value that does not fit.
        """
        values = {str(k).replace("-", "_"): v for k, v in values.items()}
        cls.refuse_unknown(values, source)
        return cls(**cls.check(values, origins({}, values, source) if source is not None else None))

    @classmethod
    def from_file(cls, path):
        """Options from a ``.json``, ``.toml`` or ``.yaml``/``.yml`` file of settings (a run's
        ``train_config.json`` too); errors name the setting and the file."""
        return cls.from_dict(cls.read_file(path), source=path)

    @classmethod
    def resolve(cls, flags: dict, config=None):
        """The command's options: the defaults < the config file ``config`` < the ``flags`` given.

        Args:
            flags: Setting name -> value; None for a flag not given (other keys are ignored).
            config: The ``--config`` file, or None.

        OUT is ``resolve_out(config, file values, flags["out"])``. A wrong value raises an error
        naming the setting, where it came from (the flag or the file) and the value: ``UsageError``
        for a flag, ``ValueError`` for the file.
        """
        file_values = cls.read_file(config) if config else None
        names = cls.names()
        given = {k: v for k, v in flags.items() if k in names and v is not None}
        values = {**(file_values or {}), **given}
        if "out" in names:
            values["out"] = cls.resolve_out(config, file_values, given.get("out"))
        return cls(**cls.check(values, origins(flags, file_values, config)))

    @staticmethod
    def resolve_out(config, file_values: dict | None, out_flag):
        """OUT for ``resolve``: ``--out`` when given, else the config file's ``out`` (or None)."""
        return out_flag if out_flag is not None else (file_values or {}).get("out")

    def replace(self, **changes):
        """A copy with ``changes``, checked."""
        self.refuse_unknown(changes, None)
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """Name -> value of every setting (a copy); ``from_dict`` makes the same options from it."""
        return dataclasses.asdict(self)

    def run_record(self) -> dict:
        """The settings a run records (its ``train_config.json``): ``to_dict()`` less ``NOT_RECORDED``."""
        return {k: v for k, v in self.to_dict().items() if k not in self.NOT_RECORDED}

    @classmethod
    def read_file(cls, path) -> dict:
        """The settings of a ``.json``, ``.toml`` or ``.yaml`` file, ``_`` for ``-``; an unknown one is
        an error naming it and the file.

        YAML reads ``1e-4`` (no dot) as a string: such a string is taken as the number for a number setting.
        """
        import re

        values = load_config_file(path)
        cls.refuse_unknown(values, path)
        if Path(path).suffix.lower() in (".yaml", ".yml"):
            number = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")
            floats = {n for n, s in cls.settings().items() if s.kind is float}
            values = {k: float(v) if k in floats and isinstance(v, str) and number.fullmatch(v.strip()) else v
                      for k, v in values.items()}
        return values

    @classmethod
    def refuse_unknown(cls, values: dict, source) -> None:
        """A ``ValueError`` naming the settings of ``values`` that ``cls`` does not have (with the
        closest name, and ``source``)."""
        import difflib

        names = sorted(cls.names())
        unknown = sorted(set(values) - set(names))
        if not unknown:
            return
        close = {k: difflib.get_close_matches(k, names, n=1) for k in unknown}
        hints = [f"{k!r}" + (f" (did you mean {close[k][0]!r}?)" if close[k] else "") for k in unknown]
        where = f" in {source}" if source is not None else ""
        known = "" if all(close.values()) else f": {', '.join(names)}"
        raise ValueError(f"unknown setting{'s' if len(unknown) > 1 else ''} {', '.join(hints)}{where}; the settings "
                         f"are {cls.COMMAND}'s long flag names{known}")


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

    ``"auto"`` is the backend module's ``JIT_COMPILE_AUTO`` (``msrgan.backends``): on TensorFlow
    XLA (which Keras's own ``"auto"`` leaves off) unless TensorFlow runs its oneDNN kernels (then the
    plain graph is faster), True on JAX (always compiled), False on PyTorch (``torch.compile`` took
    longer to compile than the demo runs); the measurements are in docs/benchmarks.md.
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
