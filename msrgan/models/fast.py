"""Inference-only fast path for a trained :class:`~msrgan.models.Generator`.

``FastGenerator(generator)`` computes the same function as ``generator(x, training=False)``
(within 1e-4 for [0, 1] images) but faster, on every Keras backend:

- **BatchNorm folded** into the convolution before it (inference statistics are constants:
  ``W' = W * gamma / sqrt(var + eps)``, ``b' = (b - mean) * gamma / sqrt(var + eps) + beta``,
  computed once in float64), so a residual block is conv, PReLU, conv, add.
- **No layout transposes per layer.** On the torch backend the whole network runs channels-first
  (``keras.ops.conv(..., data_format="channels_first")``, torch's own layout, so Keras adds no
  per-layer permutes), converting NHWC <-> NCHW once at the ends. The transposed NHWC input is a
  channels-first view whose memory is channels-last, which torch's oneDNN convolutions keep from
  layer to layer (the kernels are laid out to match); around ``depth_to_space`` the x2 stages
  transpose to channels-last and back, free views on torch that keep the model's channel order.
  JAX and TensorFlow run channels-last (XLA and TensorFlow's CPU kernels want NHWC).
- **PReLU in two passes** (``maximum(y, a * y)``) when every slope is in [0, 1], else the general
  three-pass form; both give the model's values exactly.
- **The 9x9 convolution to the image's few channels** as kernel rows stacked into channels
  (:func:`msrgan.backends.convolution.stacked_rows_conv`) on TensorFlow, whose CPU convolution
  runs a 3-output-channel layer at a fraction of its usual speed. On JAX and torch the plain
  convolution is as fast or faster, so they keep it.
- **Compiled**: ``jax.jit`` on JAX, ``tf.function(jit_compile=True)`` (XLA) on TensorFlow and
  ``torch.compile`` (Inductor) on torch, once per input shape. The first call for a shape pays the
  compile; :attr:`FastGenerator.compile_seconds` reports it. torch.compile keeps its compiled code
  in Inductor's on-disk cache (``TORCHINDUCTOR_CACHE_DIR``, by default under the temp folder), so a
  later process compiles the same shape faster.

Other super-resolution networks of the zoo (any ``msrgan.models.base.SRModel``: SRCNN, EDSR,
PAN, ...) take the documented fallback: the model's own ``stateless_call`` with its current
weights, compiled the same way on JAX and TensorFlow (eager with ``jit=False``, and always eager
under ``inference_mode`` on PyTorch, where ``torch.compile`` does not trace a Keras
``stateless_call`` reliably), without the SRResNet-specific rewrites above;
``FastGenerator.generic`` says which path a copy took.

The network itself is written with ``keras.ops`` only (:func:`generator_forward`). What differs
per backend (the compiler, torch's ``inference_mode``, the default layout, where the tail's rows
are stacked) comes from the backend module (``msrgan.backends``: ``compile_inference``,
``eager_inference``, ``INFERENCE_DATA_FORMAT``, ``STACK_TAIL_ROWS``, ...): each backend has its own
compiler, and Keras has no public "compile this function" API for a stateless inference function.
The measurements behind these choices are in ``docs/benchmarks.md``.

Example:
    >>> import numpy as np
    >>> from msrgan.models import Generator
    >>> g = Generator(num_blocks=2, filters=16, channels=1, scale=2)
    >>> x = np.random.rand(1, 24, 20, 1).astype("float32")
    >>> _ = g(x)  # built (or trained, or loaded with from_pretrained)
    >>> fast = FastGenerator(g, jit=False)
    >>> bool(np.abs(fast.predict(x) - np.asarray(g(x, training=False))).max() < 1e-4)
    True
"""

from __future__ import annotations

import time

import numpy as np

import keras
from keras import ops

from msrgan import backends
from msrgan.backends.convolution import stacked_rows_conv
from msrgan.convention import check_image_batch
from msrgan.models.base import SRModel
from msrgan.models.blocks import bicubic_kernel, bicubic_upsample
from msrgan.models.generator import Generator

__all__ = ["FastGenerator", "fast_generator", "fold_batch_norm", "generator_forward", "generator_params",
           "slopes_in_unit_interval"]

_DATA_FORMATS = ("channels_last", "channels_first")
_DTYPES = ("float32", "bfloat16", "float16")


def fold_batch_norm(kernel, bias, bn) -> tuple[np.ndarray, np.ndarray]:
    """Folds an inference-mode BatchNormalization into the convolution that feeds it.

    Args:
        kernel: Conv kernel ``(kh, kw, in, out)`` (numpy or backend tensor).
        bias: Conv bias ``(out,)`` or None.
        bn: A built ``keras.layers.BatchNormalization`` over the last axis, or None (no folding).

    Returns:
        ``(kernel, bias)`` float32 numpy arrays such that ``conv(x, kernel) + bias`` equals
        ``bn(conv(x, kernel_in) + bias_in, training=False)``.

    Example:
        >>> import keras
        >>> bn = keras.layers.BatchNormalization(); bn.build((None, 4, 4, 2))
        >>> k, b = fold_batch_norm(np.ones((3, 3, 1, 2), "float32"), None, bn)
        >>> k.shape, b.shape
        ((3, 3, 1, 2), (2,))
    """
    kernel = np.asarray(ops.convert_to_numpy(kernel), dtype=np.float64)
    out = kernel.shape[-1]
    bias = np.zeros(out) if bias is None else np.asarray(ops.convert_to_numpy(bias), dtype=np.float64)
    if bn is None:
        return kernel.astype(np.float32), bias.astype(np.float32)
    if bn.axis not in (-1, kernel.ndim - 1):
        raise ValueError(f"fold_batch_norm: BatchNormalization {bn.name!r} must normalize the last axis, "
                         f"got axis={bn.axis}")

    def value(v, default):
        return default if v is None else np.asarray(ops.convert_to_numpy(v), dtype=np.float64)

    gamma = value(bn.gamma if bn.scale else None, np.ones(out))
    beta = value(bn.beta if bn.center else None, np.zeros(out))
    mean = value(bn.moving_mean, None)
    var = value(bn.moving_variance, None)
    s = gamma / np.sqrt(var + bn.epsilon)
    return (kernel * s).astype(np.float32), ((bias - mean) * s + beta).astype(np.float32)


def generator_params(generator, data_format: str = "channels_last") -> dict:
    """The generator's inference weights, BatchNorm folded, as a nest of backend tensors.

    Args:
        generator: A built ``msrgan.models.Generator`` (call it once, or load trained weights).
        data_format: Layout :func:`generator_forward` will run in; ``"channels_first"`` permutes the
            sub-pixel convolutions' output channels and shapes biases and PReLU slopes ``(C, 1, 1)``.

    Returns:
        ``{"head": (kernel, bias, alpha), "blocks": [(k1, b1, alpha, k2, b2), ...],
        "body": (kernel, bias), "up": [(kernel, bias, alpha), ...], "tail": (kernel, bias)}``, plus
        ``"bicubic"``: the ``bicubic_kernel`` when the generator has ``residual="bicubic"``.
    """
    if data_format not in _DATA_FORMATS:
        raise ValueError(f"data_format must be one of {_DATA_FORMATS}, got {data_format!r}")
    if not generator.built:
        raise ValueError(f"generator {generator.name!r} is not built: call it on a batch or load its weights first")
    cf = data_format == "channels_first"

    def vec(v):  # bias or PReLU slope, broadcastable against the activations
        v = np.asarray(v, np.float32).reshape(-1)
        return ops.convert_to_tensor(v.reshape(-1, 1, 1) if cf else v)

    def conv(layer, bn=None):
        k, b = fold_batch_norm(layer.kernel, layer.bias if layer.use_bias else None, bn)
        if not cf:
            return ops.convert_to_tensor(k), vec(b)
        # The (kh, kw, in, out) kernel as a view of an (out, kh, kw, in) array: what keras.ops.conv
        # hands to torch is then a channels-last weight, like the activations (no per-call reorder).
        return ops.transpose(ops.convert_to_tensor(np.ascontiguousarray(k.transpose(3, 0, 1, 2))), (1, 2, 3, 0)), vec(b)

    def alpha(prelu):
        return vec(ops.convert_to_numpy(prelu.alpha))

    g = generator
    params = {"head": (*conv(g.head), alpha(g.head_act)), "blocks": [], "up": []}
    for block in g.blocks:
        params["blocks"].append((*conv(block.conv1, block.bn1), alpha(block.act), *conv(block.conv2, block.bn2)))
    params["body"] = conv(g.body_conv, g.body_bn)
    for up_conv, _, act in g.upsamplers:
        params["up"].append((*conv(up_conv), alpha(act)))
    params["tail"] = conv(g.tail)
    if getattr(g, "residual", "none") == "bicubic":
        params["bicubic"] = ops.convert_to_tensor(bicubic_kernel(g.scale, g.channels))
    return params


def generator_forward(params: dict, x, data_format: str = "channels_last", *, unit_slopes: bool = False,
                      stack_tail_rows: bool = False, bicubic_skip: int = 0, tail: bool = True):
    """The generator's inference function over :func:`generator_params` (``keras.ops`` only).

    Args:
        params: From :func:`generator_params` with the same ``data_format``.
        x: Low-resolution batch, channels-last ``(B, h, w, C)`` float32.
        data_format: Layout of the computation; input and output are channels-last either way.
        unit_slopes: Every PReLU slope is in [0, 1] (see :func:`slopes_in_unit_interval`), so
            ``prelu(y) = maximum(y, a * y)``: two elementwise passes instead of three, same values.
        stack_tail_rows: Compute the last convolution with
            :func:`~msrgan.backends.convolution.stacked_rows_conv` (same values).
        bicubic_skip: The generator's scale when it has ``residual="bicubic"`` (the bicubic
            upsampling of ``x`` is added to the output), else 0.
        tail: False: stop before the last convolution and return its input (in ``data_format``),
            for :func:`generator_tail` to finish (so the two can be compiled apart).

    Returns:
        The ``(B, h * scale, w * scale, C)`` output, a backend tensor.
    """
    cf = data_format == "channels_first"

    def conv(y, kernel, bias):
        return ops.conv(y, kernel, padding="same", data_format=data_format) + bias

    def prelu(y, a):
        return ops.maximum(y, a * y) if unit_slopes else ops.where(y >= 0, y, a * y)

    def depth_to_space(y):
        if not cf:
            return ops.depth_to_space(y, 2)
        # Channels-last depth_to_space between two transposes: the model's channel order, and on
        # torch (whose channels-first tensors here are stored channels-last) both transposes are
        # free views, so the result stays channels-last in memory for the convolution after it.
        return ops.transpose(ops.depth_to_space(ops.transpose(y, (0, 2, 3, 1)), 2), (0, 3, 1, 2))

    x_in = x
    if cf:
        x = ops.transpose(x, (0, 3, 1, 2))
    feat = prelu(conv(x, *params["head"][:2]), params["head"][2])
    y = feat
    for k1, b1, a, k2, b2 in params["blocks"]:
        y = y + conv(prelu(conv(y, k1, b1), a), k2, b2)
    y = conv(y, *params["body"]) + feat
    for k, b, a in params["up"]:
        y = prelu(depth_to_space(conv(y, k, b)), a)
    if not tail:
        return y
    return generator_tail(params, y, x_in, data_format, stack_tail_rows=stack_tail_rows, bicubic_skip=bicubic_skip)


def generator_tail(params: dict, y, x, data_format: str = "channels_last", *, stack_tail_rows: bool = False,
                   bicubic_skip: int = 0):
    """The generator's last convolution (and bicubic skip) on :func:`generator_forward`'s ``tail=False``
    result ``y``; ``x`` is the low-resolution input (channels-last). Returns the channels-last output."""
    kernel, bias = params["tail"]
    if stack_tail_rows:
        y = stacked_rows_conv(y, kernel, lambda v, k: ops.conv(v, k, padding="same", data_format=data_format),
                              data_format) + bias
    else:
        y = ops.conv(y, kernel, padding="same", data_format=data_format) + bias
    y = ops.transpose(y, (0, 2, 3, 1)) if data_format == "channels_first" else y
    return y + bicubic_upsample(x, bicubic_skip, params["bicubic"]) if bicubic_skip else y


def slopes_in_unit_interval(generator) -> bool:
    """Whether every PReLU slope of ``generator`` lies in [0, 1] (true of trained SRGANs in practice)."""
    prelus = [generator.head_act] + [b.act for b in generator.blocks] + [act for _, _, act in generator.upsamplers]
    for layer in prelus:
        a = np.asarray(ops.convert_to_numpy(layer.alpha))
        if a.size and (a.min() < 0 or a.max() > 1):
            return False
    return True


class FastGenerator:
    """Inference-only, BatchNorm-folded, compiled copy of a trained ``Generator``.

    The weights are copied when it is built: rebuild it after further training.

    Args:
        generator: A built ``msrgan.models.Generator``.
        jit: Compile with the backend's compiler (``jax.jit`` / XLA ``tf.function`` / ``torch.compile``).
            Eager otherwise (still folded and transpose-free).
        data_format: ``"auto"`` (channels-first on torch, channels-last elsewhere), ``"channels_last"``
            or ``"channels_first"``.
        dtype: Compute dtype: ``"float32"`` (default), or ``"bfloat16"`` / ``"float16"`` for GPUs
            with fast half-precision units (weights cast once, input cast on the way in, output
            returned as float32). Half precision changes the outputs by about 1e-2 on [0, 1] images;
            on CPUs it is usually slower than float32.
        stack_tail_rows: Compute the last 9x9 convolution as stacked kernel rows
            (:func:`~msrgan.backends.convolution.stacked_rows_conv`): ``None`` (default) does so
            where it is faster (the backend module's ``STACK_TAIL_ROWS``: TensorFlow, and PyTorch on
            AVX-512 CPUs); ``"uncompiled"`` stacks it and runs it outside the compiled function
            (torch.compile handles the stacked form badly); either layout.

    It has the generator's ``scale``, ``channels``, ``receptive_margin`` and a
    ``predict_on_batch``, so it can stand in for the generator wherever msrgan takes one, e.g.
    ``msrgan.inference.upscale(image, FastGenerator(g))`` (tiles of one shape compile once).

    Attributes:
        scale, channels, receptive_margin: Those of the generator.
        data_format: The layout actually used.
        stack_tail_rows: Whether the last convolution is computed as stacked rows.
        compile_seconds: ``{input shape: seconds}`` spent compiling (first call per shape).

    Example:
        >>> import numpy as np, zoo
        >>> g = zoo.from_pretrained("runs/msrgan-x4")  # doctest: +SKIP
        >>> fast = FastGenerator(g)  # compiles on the first call for each input shape
        >>> fast.predict(np.zeros((2, 128, 128, 3), "float32")).shape  # doctest: +SKIP
        (2, 512, 512, 3)
        >>> fast.compile_seconds  # doctest: +SKIP
        {(2, 128, 128, 3): 1.3}
    """

    def __init__(self, generator, *, jit: bool = True, data_format: str = "auto", dtype: str = "float32",
                 stack_tail_rows: bool | str | None = None):
        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {_DTYPES}, got {dtype!r}")
        self._backend = backend = backends.current()
        if data_format == "auto":
            data_format = backend.INFERENCE_DATA_FORMAT
        if data_format not in _DATA_FORMATS:
            raise ValueError(f"data_format must be 'auto' or one of {_DATA_FORMATS}, got {data_format!r}")
        backend.check_inference_layout(data_format, jit)
        if stack_tail_rows is None:
            stack_tail_rows = backend.STACK_TAIL_ROWS
        self._tail_uncompiled = stack_tail_rows == "uncompiled"
        self.data_format = data_format
        self.stack_tail_rows = bool(stack_tail_rows)
        self.scale = generator.scale
        self.channels = generator.channels
        self.receptive_margin = generator.receptive_margin
        self.name = f"{generator.name}_fast"
        self.jit = bool(jit)
        self.dtype = dtype
        self.compile_seconds: dict[tuple, float] = {}
        self.generic = not isinstance(generator, Generator)
        if self.generic:
            self._init_generic(generator)
            return
        params = generator_params(generator, data_format)
        if dtype != "float32":  # weights stored once in the compute dtype (BN folded in float64 first)
            params = keras.tree.map_structure(lambda t: ops.cast(t, dtype), params)
        self.params = params
        self.unit_slopes = slopes_in_unit_interval(generator)

        fmt, unit, rows = data_format, self.unit_slopes, self.stack_tail_rows
        skip = self.scale if getattr(generator, "residual", "none") == "bicubic" else 0

        def forward(params, x):
            if dtype == "float32":
                return generator_forward(params, x, fmt, unit_slopes=unit, stack_tail_rows=rows, bicubic_skip=skip)
            y = generator_forward(params, ops.cast(x, dtype), fmt, unit_slopes=unit, stack_tail_rows=rows,
                                  bicubic_skip=skip)
            return ops.cast(y, "float32")

        if self.jit and rows and self._tail_uncompiled and dtype == "float32":
            # The backend's compiler handles the stacked-rows tail badly: compile the rest, run the tail as it is.
            trunk = backend.compile_inference(
                lambda params, x: generator_forward(params, x, fmt, unit_slopes=unit, tail=False))
            finish = backend.eager_inference(  # (params, (trunk output, input)): the backends' fn(params, x) form
                lambda params, yx: generator_tail(params, *yx, fmt, stack_tail_rows=True, bicubic_skip=skip))
            self._fn = lambda params, x: finish(params, (trunk(params, x), x))
            return
        self._fn = backend.compile_inference(forward) if self.jit else backend.eager_inference(forward)

    def _init_generic(self, model) -> None:
        """The fallback for super-resolution networks other than ``Generator``: the model's
        ``stateless_call`` with a copy of its weights, compiled like the folded path."""
        if not isinstance(model, SRModel):
            raise TypeError(f"FastGenerator takes a super-resolution network (msrgan.models.base.SRModel), "
                            f"got {type(model).__name__}")
        if self.dtype != "float32":
            raise ValueError(f"dtype={self.dtype!r} is for the SRResNet Generator; {type(model).__name__} "
                             "runs in float32")
        if not model.built:
            model(ops.zeros(model.example_input_shape()), training=False)
        self.params = ([ops.convert_to_tensor(v.value) for v in model.trainable_variables],
                       [ops.convert_to_tensor(v.value) for v in model.non_trainable_variables])
        self.data_format, self.stack_tail_rows, self.unit_slopes = "channels_last", False, None

        def forward(params, x):
            return model.stateless_call(params[0], params[1], x, training=False)[0]

        backend = self._backend
        if not backend.COMPILES_STATELESS_CALL:  # its compiler does not trace a Keras stateless_call (torch)
            self.jit = False
        self._fn = backend.compile_inference(forward) if self.jit else backend.eager_inference(forward)

    def __call__(self, lr):
        """Upscales a channels-last float32 batch ``(B, h, w, C)``; returns a backend tensor."""
        check_image_batch(lr, self.channels, name="FastGenerator input")
        x = ops.convert_to_tensor(lr, dtype="float32")
        shape = tuple(int(d) for d in x.shape)
        if self.jit and shape not in self.compile_seconds:
            start = time.perf_counter()
            y = self._fn(self.params, x)
            self._backend.block_until_ready(y)  # an asynchronously computed result (JAX): honest timings
            self.compile_seconds[shape] = time.perf_counter() - start
            return y
        return self._fn(self.params, x)

    def predict(self, lr) -> np.ndarray:
        """Like ``__call__`` but returns a numpy array.

        Args:
            lr: Channels-last float32 batch ``(B, h, w, C)`` (numpy or backend tensor).

        Returns:
            ``(B, h * scale, w * scale, C)`` float32 numpy array.
        """
        return np.asarray(ops.convert_to_numpy(self(lr)))

    def predict_on_batch(self, lr) -> np.ndarray:
        """Same as :meth:`predict` (the name Keras models and ``msrgan.inference`` use)."""
        return self.predict(lr)


def fast_generator(generator, **kwargs) -> FastGenerator:
    """Shorthand for :class:`FastGenerator` ``(generator, **kwargs)``.

    Example:
        >>> fast = fast_generator(trained_generator)  # doctest: +SKIP
        >>> hr = fast.predict(lr_batch)  # doctest: +SKIP
    """
    return FastGenerator(generator, **kwargs)
