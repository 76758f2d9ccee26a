"""What msrgan does differently on the PyTorch backend (the interface is in ``msrgan.backends``).

- The train step runs ``zero_grad`` / ``loss.backward()`` over each of ``MSRGAN``'s objectives and
  applies each network's optimizer under ``torch.no_grad()``; the discriminator's weights enter
  the generator loss detached, so autograd computes no discriminator gradients in that update.
- ``--jit-compile auto`` runs it eagerly: ``torch.compile`` of the step took longer to compile
  than short runs gain.
- Inference compiles with ``torch.compile`` (Inductor) and runs under ``torch.inference_mode()``,
  channels-first: torch's own layout, so Keras adds no per-layer permutes. The generic fast path
  (a Keras ``stateless_call``) runs eagerly: ``torch.compile``'s guards fail on it.
- Layers skip Keras's layout copies: Keras's channels-last convolution copies each input to
  contiguous channels-first memory and back, and the kernel to torch's layout, in every call (and
  the gradients back). Here the channels-last batch goes to ``keras.ops.conv`` as a
  channels-first *view* (no copy), which torch's oneDNN convolution reads directly as
  channels-last memory, and the kernel is created in the memory order that convolution wants
  (:class:`ChannelsLastKernel`). Pooling likewise.
- Data-parallel training is not wired up: ``keras.distribution`` is implemented for JAX only.

The measurements behind these choices are in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import torch
from keras import ops

from msrgan.backends import common
from msrgan.backends.common import block_until_ready, check_inference_layout, sync_state  # nothing to do here
from msrgan.training.phases import D_PHASES, G_PHASES

JIT_COMPILE_AUTO = False
INFERENCE_DATA_FORMAT = "channels_first"
STACK_TAIL_ROWS = False  # under torch.compile the plain convolution is faster
COMPILES_STATELESS_CALL = False

# ----------------------------------------------------------------------------- training


def train_step(model, data):
    """One ``MSRGAN`` step: ``backward()`` over each objective, ``optimizer.apply`` under ``no_grad``."""
    lr, hr = common.unpack(data)
    g, d = model.generator, model.discriminator
    g_loss = d_loss = None
    terms = {}
    if model.phase in G_PHASES:
        g_opt, _ = model.generator_optimizer()
        model.zero_grad(set_to_none=True)
        # D's weights enter the G loss as constants (detached): autograd then computes no D
        # weight gradients in the G step, which the G update would throw away anyway.
        g_loss, (sr, g_ntv, terms) = common.generator_objective(model, lr, hr, _detached)
        g_opt.scale_loss(g_loss).backward()
        grads = [v.value.grad for v in g.trainable_variables]
        with torch.no_grad():
            g_opt.apply(grads, g.trainable_variables)
            common.assign(g.non_trainable_variables, g_ntv)
            common.update_ema(model)
        g_loss = g_loss.detach()
        terms = {k: t.detach() for k, t in terms.items()}
    else:
        with torch.no_grad():
            sr = model.generate(common.values(g.trainable_variables), common.values(g.non_trainable_variables), lr)
    sr = sr.detach()
    if model.phase in D_PHASES:
        model.zero_grad(set_to_none=True)
        d_loss, d_ntv = model.discriminator_objective(
            common.values(d.trainable_variables), common.values(d.non_trainable_variables), sr, hr)
        model.d_optimizer.scale_loss(d_loss).backward()
        grads = [v.value.grad for v in d.trainable_variables]
        with torch.no_grad():
            model.d_optimizer.apply(grads, d.trainable_variables)
            common.assign(d.non_trainable_variables, d_ntv)
        d_loss = d_loss.detach()
        model.zero_grad(set_to_none=True)
    with torch.no_grad():
        model.optimizer.iterations.assign_add(1)
        return model.update_trackers(model.step_values(g_loss, d_loss, terms, sr, hr))


def _detached(variables):
    return [v.value.detach() for v in variables]


def enable_data_parallel(devices=None, *, coordinator=None, num_processes=None, process_id=None):
    raise common.refuse_data_parallel("torch")


# ----------------------------------------------------------------------------- inference


def compile_inference(fn):
    """``fn(params, x)`` compiled by ``torch.compile`` (static shapes), run under ``inference_mode``."""
    compiled = torch.compile(fn, dynamic=False)

    def run(params, x):
        with torch.inference_mode():
            return compiled(params, x)

    return run


def eager_inference(fn):
    """``fn(params, x)`` under ``torch.inference_mode()``."""

    def run(params, x):
        with torch.inference_mode():
            return fn(params, x)

    return run


# ----------------------------------------------------------------------------- layers


class ChannelsLastKernel:
    """Wraps a kernel initializer: the same values, in ``(out, kh, kw, in)`` memory.

    The ``(kh, kw, in, out)`` kernel keeps its shape and values (a strided view), so saving,
    loading and ``assign`` are unchanged. Keras's torch convolution views the kernel as ``(out,
    in, kh, kw)``; with this memory order that view is torch's channels-last weight layout, which
    oneDNN uses as it is, instead of copying the kernel into it in every forward and backward pass.
    """

    def __init__(self, initializer):
        self.initializer = initializer

    def __call__(self, shape, dtype=None):
        value = ops.convert_to_tensor(self.initializer(shape, dtype=dtype))
        if len(shape) != 4 or not isinstance(value, torch.Tensor):
            return value
        return value.permute(3, 0, 1, 2).contiguous().permute(1, 2, 3, 0)


def conv_kernel_initializer(initializer, data_format: str):
    """:class:`ChannelsLastKernel` around ``initializer`` for a channels-last layer."""
    return ChannelsLastKernel(initializer) if data_format == "channels_last" else initializer


def conv2d(inputs, kernel, *, strides, padding, dilation_rate, data_format, groups=1):
    """``ops.conv``; a channels-last batch goes in as a channels-first view (no layout copy)."""
    if data_format != "channels_last":
        return common.conv2d(inputs, kernel, strides=strides, padding=padding, dilation_rate=dilation_rate,
                             data_format=data_format, groups=groups)
    y = ops.conv(ops.transpose(inputs, (0, 3, 1, 2)), kernel, strides=list(strides), padding=padding,
                 dilation_rate=dilation_rate, data_format="channels_first")
    return ops.transpose(y, (0, 2, 3, 1))


def max_pool2d(inputs, *, pool_size, strides, padding, data_format):
    """``ops.max_pool``; a channels-last batch goes in as a channels-first view (no layout copy)."""
    if data_format != "channels_last":
        return common.max_pool2d(inputs, pool_size=pool_size, strides=strides, padding=padding,
                                 data_format=data_format)
    y = ops.max_pool(ops.transpose(inputs, (0, 3, 1, 2)), pool_size=pool_size, strides=strides, padding=padding,
                     data_format="channels_first")
    return ops.transpose(y, (0, 2, 3, 1))
