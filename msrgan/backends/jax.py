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
  convolution, far slower than the product. Those with fewer (from 32) whose input or output
  reaches 2 MiB keep XLA's convolution and input gradient but take their kernel gradient as
  matrix products (:func:`tap_gradient_conv`, a ``jax.custom_vjp``); smaller ones keep XLA's own,
  which is fast while the operands stay in cache.
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
    # Each process already feeds its own rows of the global batch (DataParallel.local_rows): Keras's
    # automatic sharding, which accepts only a tf.data.Dataset, must not split them again.
    distribution = keras.distribution.DataParallel(devices=devices, auto_shard_dataset=not multi)
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


def _rewritable(inputs, dilation_rate, data_format, groups) -> bool:
    """A plain channels-last layer with static shapes, on CPUs: what the rewrites below handle."""
    return (data_format == "channels_last" and tuple(dilation_rate) == (1, 1) and groups == 1
            and None not in tuple(inputs.shape) and _on_cpu())


def _uses_im2col(inputs, kernel, strides, dilation_rate, data_format, groups) -> bool:
    """Wide layers (:func:`_rewritable`) while the stacked taps fit the cap."""
    if int(kernel.shape[2]) < convolution.IM2COL_MIN_CHANNELS or not _rewritable(inputs, dilation_rate,
                                                                                 data_format, groups):
        return False
    b, h, w, _ = (int(d) for d in inputs.shape)
    taps = b * -(-h // strides[0]) * -(-w // strides[1]) * int(np.prod(kernel.shape[:3]))
    return taps <= convolution.IM2COL_MAX_TAPS


def conv2d(inputs, kernel, *, strides, padding, dilation_rate, data_format, groups=1, bias=None):
    """``ops.conv`` (then ``bias``); on CPUs, im2col for wide layers and the tap-product kernel gradient
    (:func:`tap_gradient_conv`) for the others, where those are faster."""
    if _uses_im2col(inputs, kernel, strides, dilation_rate, data_format, groups):
        return common.add_bias(convolution.im2col_conv(inputs, kernel, tuple(strides), padding), bias, data_format)
    if _uses_tap_gradient(inputs, kernel, strides, dilation_rate, data_format, groups):
        y = tap_gradient_conv(keras.ops.convert_to_tensor(inputs), keras.ops.convert_to_tensor(kernel),
                              tuple(int(s) for s in strides), padding.upper())
        return common.add_bias(y, bias, data_format)
    return common.conv2d(inputs, kernel, strides=strides, padding=padding, dilation_rate=dilation_rate,
                         data_format=data_format, groups=groups, bias=bias)


TAP_GRADIENT_MIN_CHANNELS = 32  # JAX on CPUs: convolutions with this many inputs or more (and below im2col's) get it
# ... when their input or output is at least this many bytes. Below, XLA's own kernel gradient was as
# fast or faster (24x24, 64 -> 64 channels: batch 4 1.5 ms against 2.5, batch 8 (1.2 MB) 3.0 against
# 4.6); above, it falls off (batch 16, 2.4 MB: 11.0 against 9.1; Intel, 2 cores, 2 MB of L2 per core)
TAP_GRADIENT_MIN_BYTES = 2**21


def _uses_tap_gradient(inputs, kernel, strides, dilation_rate, data_format, groups) -> bool:
    if int(kernel.shape[2]) < TAP_GRADIENT_MIN_CHANNELS or not _rewritable(inputs, dilation_rate, data_format,
                                                                          groups):
        return False
    b, h, w, cin = (int(d) for d in inputs.shape)
    pixels_out = b * -(-h // strides[0]) * -(-w // strides[1])  # "same"; "valid" has a few fewer
    itemsize = np.dtype(inputs.dtype).itemsize
    return itemsize * max(b * h * w * cin, pixels_out * int(kernel.shape[3])) >= TAP_GRADIENT_MIN_BYTES


def _lax_conv(x, kernel, strides, padding):
    return jax.lax.conv_general_dilated(x, kernel, strides, padding, dimension_numbers=("NHWC", "HWIO", "NHWC"))


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def tap_gradient_conv(x, kernel, strides, padding):
    """XLA's convolution (NHWC, HWIO; ``padding`` "SAME" or "VALID"), whose kernel gradient is
    ``kh * kw`` matrix products, one per tap: tap ``(i, j)``'s gradient is the shifted (strided)
    input view, ``(pixels, in)``, contracted over the pixels with the output gradient ``(pixels,
    out)``. XLA's CPU kernel gradient is a convolution with an image-sized window, several times
    slower for the generator's sub-pixel layers (batch 4, 48x48, 64 -> 256: 60 -> 14 ms on 2 cores).
    A stride-1 layer with at most half as many outputs as inputs takes it as one product instead,
    the output gradient shifted per tap (:func:`_shifted_gradient_product`). The input gradient is
    XLA's own."""
    return _lax_conv(x, kernel, strides, padding)


def _tap_gradient_conv_fwd(x, kernel, strides, padding):
    return _lax_conv(x, kernel, strides, padding), (x, kernel)


def _tap_gradient_conv_bwd(strides, padding, residuals, gy):
    x, kernel = residuals
    _, input_vjp = jax.vjp(lambda a: _lax_conv(a, kernel, strides, padding), x)
    (dx,) = input_vjp(gy)
    kh, kw, cin, cout = (int(d) for d in kernel.shape)
    b, h, w = (int(d) for d in x.shape[:3])
    (sh, sw), (oh, ow) = strides, (int(gy.shape[1]), int(gy.shape[2]))
    if padding == "SAME":
        (top, bottom), (left, right) = convolution.same_padding(h, kh, sh), convolution.same_padding(w, kw, sw)
        x = jax.numpy.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    if strides == (1, 1) and 2 * cout <= cin:
        return dx, _shifted_gradient_product(x, gy, kh, kw).astype(kernel.dtype)
    g = gy.reshape(-1, cout)
    taps = [jax.lax.dot_general(
        jax.lax.slice(x, (0, i, j, 0), (b, i + (oh - 1) * sh + 1, j + (ow - 1) * sw + 1, cin), (1, sh, sw, 1))
        .reshape(-1, cin), g, (((0,), (0,)), ((), ()))) for i in range(kh) for j in range(kw)]
    return dx, jax.numpy.stack(taps).reshape(kh, kw, cin, cout).astype(kernel.dtype)


def _shifted_gradient_product(xp, gy, kh, kw):
    """The kernel gradient of a stride-1 convolution of the padded input ``xp`` as one matrix product:
    tap ``(i, j)``'s gradient is ``xp`` contracted over its pixels with the output gradient placed at
    offset ``(i, j)`` of a zero canvas the size of ``xp``; the ``kh * kw`` canvases side by side make
    one ``(pixels, kh * kw * out)`` operand. Where ``out`` is a fraction of ``in`` that is cheaper than
    slicing the input once per tap (the generator's 1x9 tail, 64 -> 27 on 96x96: 34 against 43 ms)."""
    cin, cout = int(xp.shape[3]), int(gy.shape[3])
    canvases = jax.numpy.concatenate([jax.numpy.pad(gy, ((0, 0), (i, kh - 1 - i), (j, kw - 1 - j), (0, 0)))
                                      for i in range(kh) for j in range(kw)], axis=-1)
    d = jax.lax.dot_general(xp.reshape(-1, cin), canvases.reshape(-1, kh * kw * cout), (((0,), (0,)), ((), ())))
    return d.reshape(cin, kh, kw, cout).transpose(1, 2, 0, 3)


tap_gradient_conv.defvjp(_tap_gradient_conv_fwd, _tap_gradient_conv_bwd)
