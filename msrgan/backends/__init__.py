"""Backend-specific code: one module per Keras backend, picked by ``keras.backend.backend()``.

msrgan's models and losses are written in ``keras.ops``; what cannot be (differentiating a train
step, compiling a function, the memory layout a convolution library wants) lives here, one file per
backend, the way Keras keeps ``keras/src/backend/<name>/trainer.py``:

- ``msrgan.backends.tensorflow``, ``msrgan.backends.torch``, ``msrgan.backends.jax``: each defines
  every name of the interface below, and only these modules import their framework;
- ``msrgan.backends.common``: what several backends share (``keras.ops`` only): pieces of the train
  step, and Keras's own forms of the hooks, which a backend module takes where it changes nothing;
- ``msrgan.backends.convolution``: convolutions computed in another form with the same values
  (stacked kernel rows, im2col), and the thresholds at which they are used.

``current()`` returns the module of the running backend. Model and loss code calls it through a
few hooks (the layers of ``msrgan.models.blocks``, ``msrgan.models.fast``, ``msrgan.training.gan``,
the training callbacks and settings) and never imports a framework.

The interface of a backend module:

Training (``msrgan.training``)
    ``train_step(model, *args)``: one ``MSRGAN`` training step, with the arguments Keras's trainer
    passes on that backend (``(model, data)``; JAX: ``(model, state, data)``, returning
    ``(logs, state)``). The loss math is the model's ``generator_objective`` /
    ``discriminator_objective``; the step differentiates it and applies each network's optimizer.
    ``sync_state(model)``: the model's variables made current (JAX's ``fit`` keeps the training
    state outside them); call it before reading weights during training.
    ``JIT_COMPILE_AUTO``: what ``--jit-compile auto`` means, compile the train step or not.
    ``enable_data_parallel(devices=None, *, coordinator=None, num_processes=None, process_id=None)``:
    sets data-parallel training up with the backend's own engine (JAX ``keras.distribution``,
    TensorFlow ``tf.distribute``, PyTorch ``torch.distributed``) and returns a
    ``msrgan.training.distribute.DataParallel`` (devices, this process, the engine's scope, broadcast
    and barrier); a ValueError naming the values for a set-up that does not fit. The train step
    averages the gradients over the devices where the engine does not (TensorFlow, PyTorch).

Inference (``msrgan.models.fast.FastGenerator``)
    ``compile_inference(fn)`` / ``eager_inference(fn)``: ``fn(params, x)`` compiled with the
    backend's compiler, or run as it is, both without autodiff bookkeeping.
    ``block_until_ready(y)``: waits for an asynchronously computed result (timings).
    ``INFERENCE_DATA_FORMAT``: the layout the fast path runs in by default.
    ``STACK_TAIL_ROWS``: whether the last few-output convolution is faster as stacked rows (True,
    False, or ``"uncompiled"``: stacked, and run outside the compiled function).
    ``COMPILES_STATELESS_CALL``: whether the compiler traces a Keras ``stateless_call`` reliably.
    ``check_inference_layout(data_format, jit)``: a ValueError for a layout the backend cannot run.

Layers (``msrgan.models.blocks``)
    ``conv_kernel_initializer(initializer, data_format)``: the initializer a convolution kernel is
    created with (the same values; torch lays the memory out for its convolution).
    ``conv2d(inputs, kernel, *, strides, padding, dilation_rate, data_format, groups, bias=None)`` and
    ``max_pool2d(inputs, *, pool_size, strides, padding, data_format)``: the layer's computation,
    with the values of ``keras.ops.conv`` (plus the bias, when given) / ``keras.ops.max_pool``.
    ``batch_norm(inputs, gamma, beta, moving_mean, moving_variance, *, epsilon, training)``:
    ``keras.layers.BatchNormalization`` over the last axis, returning ``(outputs, mean, variance)``
    (the batch's statistics in training, which the layer folds into its moving ones).

Example:
    >>> from msrgan import backends
    >>> backends.current().__name__ in {f"msrgan.backends.{n}" for n in backends.NAMES}
    True
"""

from __future__ import annotations

import functools
import importlib

import keras

NAMES: tuple[str, ...] = ("tensorflow", "torch", "jax")
"""The Keras backends msrgan runs on, each a module of this package."""

INTERFACE: tuple[str, ...] = (
    "train_step", "sync_state", "JIT_COMPILE_AUTO", "enable_data_parallel",
    "compile_inference", "eager_inference", "block_until_ready", "INFERENCE_DATA_FORMAT", "STACK_TAIL_ROWS",
    "COMPILES_STATELESS_CALL", "check_inference_layout",
    "conv_kernel_initializer", "conv2d", "max_pool2d", "batch_norm",
)
"""The names every backend module defines (see the module docstring)."""


def current():
    """The module of the running Keras backend (``msrgan.backends.<name>``).

    Raises:
        ValueError: on a backend msrgan does not run on.
    """
    return _module(keras.backend.backend())


@functools.lru_cache(maxsize=None)
def _module(name: str):
    if name not in NAMES:
        raise ValueError(f"msrgan runs on the {', '.join(NAMES)} Keras backends, not {name!r}")
    return importlib.import_module(f"{__name__}.{name}")


__all__ = ["INTERFACE", "NAMES", "current"]
