"""What msrgan does differently on the JAX backend (the interface is in ``msrgan.backends``).

- The train step is stateless: Keras's JAX trainer passes the ``(trainable, non_trainable,
  optimizer, metrics)`` variable values in and expects them back. It differentiates ``MSRGAN``'s
  objectives with ``jax.value_and_grad`` and applies each network's optimizer with
  ``optimizer.stateless_apply``. During ``fit`` the variables themselves are stale until
  :func:`sync_state` writes the trainer's state back.
- ``--jit-compile auto`` compiles it (JAX always compiles the step).
- Inference compiles with ``jax.jit`` and runs channels-last (XLA's CPU convolutions want NHWC).
- Convolutions with many input channels run as im2col matrix products on CPUs
  (``msrgan.backends.convolution.im2col_conv``): XLA's CPU kernel gradient is an image-sized
  convolution, far slower than the product.
- Data-parallel training is ``keras.distribution.DataParallel`` (XLA's GSPMD inserts the
  gradient all-reduce; no change to the model or the step). On several hosts each process feeds
  its rows of the global batch, which Keras assembles into one global array.

The measurements behind these choices are in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import functools

import jax
import keras
import numpy as np

from msrgan.backends import common, convolution
from msrgan.backends.common import (  # Keras's own forms: XLA fuses them
    batch_norm,
    check_inference_layout,
    conv_kernel_initializer,
    eager_inference,
    max_pool2d,
)
from msrgan.training.distribute import DataParallel
from msrgan.training.phases import D_PHASES, G_PHASES

JIT_COMPILE_AUTO = True
INFERENCE_DATA_FORMAT = "channels_last"
STACK_TAIL_ROWS = False  # XLA's plain convolution is as fast or faster
COMPILES_STATELESS_CALL = True

# ----------------------------------------------------------------------------- training


def train_step(model, state, data):
    """One stateless ``MSRGAN`` step: ``jax.value_and_grad`` over each objective, ``stateless_apply``.

    Returns:
        ``(logs, (trainable, non_trainable, optimizer, metrics))``, the new state.
    """
    trainable, non_trainable, optimizer_state, metrics_state = state
    lr, hr = common.unpack(data)
    v = model.views(trainable, non_trainable, optimizer_state)
    groups = {}
    g_loss = d_loss = None
    terms = {}
    if model.phase in G_PHASES:
        g_opt, key = model.generator_optimizer()

        def g_fn(g_tv):
            loss, aux = model.generator_objective(g_tv, v["g_ntv"], v["d_tv"], v["d_ntv"], v["e_ntv"], lr, hr)
            return g_opt.scale_loss(loss), (loss, aux)

        (_, (g_loss, (sr, g_ntv, terms))), grads = jax.value_and_grad(g_fn, has_aux=True)(v["g_tv"])
        g_tv, g_ov = g_opt.stateless_apply(v[key], grads, v["g_tv"])
        groups.update({"g_tv": g_tv, "g_ntv": g_ntv, key: g_ov})
        if model.ema_weights:
            ema, count = model.ema_update(v["ema"], v["ema_count"][0], g_tv)
            groups.update(ema=ema, ema_count=[count])
    else:
        sr = model.generate(v["g_tv"], v["g_ntv"], lr)
    sr = jax.lax.stop_gradient(sr)
    if model.phase in D_PHASES:
        def d_fn(d_tv):
            loss, d_ntv = model.discriminator_objective(d_tv, v["d_ntv"], sr, hr)
            return model.d_optimizer.scale_loss(loss), (loss, d_ntv)

        (_, (d_loss, d_ntv)), grads = jax.value_and_grad(d_fn, has_aux=True)(v["d_tv"])
        d_tv, d_ov = model.d_optimizer.stateless_apply(v["d_ov"], grads, v["d_tv"])
        groups.update(d_tv=d_tv, d_ntv=d_ntv, d_ov=d_ov)
    groups["step"] = [v["step"][0] + 1]
    trainable, non_trainable, optimizer_state = model.merge(trainable, non_trainable, optimizer_state, groups)

    step_values = model.step_values(g_loss, d_loss, terms, sr, hr)
    with keras.StatelessScope(state_mapping=list(zip(model.metrics_variables, metrics_state))) as scope:
        logs = model.update_trackers(step_values)
    metrics_state = [scope.get_current_value(m) for m in model.metrics_variables]
    metrics_state = [new if new is not None else m.value for new, m in zip(metrics_state, model.metrics_variables)]
    return logs, (trainable, non_trainable, optimizer_state, metrics_state)


def sync_state(model) -> None:
    """Writes the state Keras's JAX trainer holds during ``fit`` back into the model's variables."""
    if getattr(model, "_jax_state", None):
        model.jax_state_sync()


class KerasDataParallel(DataParallel):
    """``keras.distribution.DataParallel``: XLA (GSPMD) compiles the single-device program for the mesh."""

    engine = "keras.distribution.DataParallel"

    def broadcast(self, variables) -> None:
        if self.num_processes > 1:  # the chief alone has read a checkpoint
            from jax.experimental import multihost_utils

            values = multihost_utils.broadcast_one_to_all([np.asarray(v.value) for v in variables])
            for v, x in zip(variables, values):
                v.assign(x)

    def barrier(self) -> None:
        if self.num_processes > 1:
            from jax.experimental import multihost_utils

            multihost_utils.sync_global_devices("msrgan")

    def close(self) -> None:
        keras.distribution.set_distribution(None)


def enable_data_parallel(devices=None, *, coordinator=None, num_processes=None, process_id=None):
    """Sets a global ``keras.distribution.DataParallel`` over ``devices`` (default: all of every host)."""
    multi = common.check_multi_host(coordinator, num_processes, process_id)
    if multi:
        keras.distribution.initialize(coordinator, int(num_processes), int(process_id))
    devices = list(devices) if devices is not None else keras.distribution.list_devices()
    distribution = keras.distribution.DataParallel(devices=devices)
    keras.distribution.set_distribution(distribution)
    return KerasDataParallel(len(devices), num_processes=num_processes if multi else 1,
                             process_id=process_id if multi else 0, handle=distribution)


# ----------------------------------------------------------------------------- inference


def compile_inference(fn):
    """``fn(params, x)`` under ``jax.jit`` (one compile per input shape)."""
    return jax.jit(fn)


def block_until_ready(y) -> None:
    """Waits for an asynchronously dispatched result, so timings are honest."""
    if hasattr(y, "block_until_ready"):
        y.block_until_ready()


# ----------------------------------------------------------------------------- layers


@functools.lru_cache(maxsize=None)
def _on_cpu() -> bool:
    """Whether Keras computes on CPUs only (the devices a process sees do not change)."""
    devices = keras.distribution.list_devices()
    return bool(devices) and all(str(d).lower().startswith("cpu") for d in devices)


def _uses_im2col(inputs, kernel, strides, dilation_rate, data_format, groups) -> bool:
    """Wide channels-last layers with static shapes, on CPUs, while the stacked taps fit the cap."""
    if (int(kernel.shape[2]) < convolution.IM2COL_MIN_CHANNELS or data_format != "channels_last"
            or tuple(dilation_rate) != (1, 1) or groups != 1 or None in tuple(inputs.shape) or not _on_cpu()):
        return False
    b, h, w, _ = (int(d) for d in inputs.shape)
    taps = b * -(-h // strides[0]) * -(-w // strides[1]) * int(np.prod(kernel.shape[:3]))
    return taps <= convolution.IM2COL_MAX_TAPS


def conv2d(inputs, kernel, *, strides, padding, dilation_rate, data_format, groups=1, bias=None):
    """``ops.conv`` (then ``bias``), or :func:`~msrgan.backends.convolution.im2col_conv` where that is faster."""
    if _uses_im2col(inputs, kernel, strides, dilation_rate, data_format, groups):
        return common.add_bias(convolution.im2col_conv(inputs, kernel, tuple(strides), padding), bias, data_format)
    return common.conv2d(inputs, kernel, strides=strides, padding=padding, dilation_rate=dilation_rate,
                         data_format=data_format, groups=groups, bias=bias)
