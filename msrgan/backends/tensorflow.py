"""What msrgan does differently on the TensorFlow backend (the interface is in ``msrgan.backends``).

- The train step differentiates ``MSRGAN``'s objectives with ``tf.GradientTape`` and applies each
  network's optimizer with ``optimizer.apply``.
- ``--jit-compile auto`` compiles it with XLA (Keras's own ``"auto"`` leaves XLA off here).
- Inference compiles with ``tf.function(jit_compile=True)`` (XLA), runs channels-last (TensorFlow's
  CPU kernels want NHWC, and its eager CPU convolution runs nothing else), and computes the
  generator's last 9x9 convolution to the image's few channels as stacked kernel rows
  (``msrgan.backends.convolution.stacked_rows_conv``), which TensorFlow's CPU convolution runs
  several times faster than the plain one.
- Layers use Keras's own convolution and pooling.
- Data-parallel training is not wired up: ``keras.distribution`` is implemented for JAX only.

The measurements behind these choices are in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import tensorflow as tf

from msrgan.backends import common
from msrgan.backends.common import (  # Keras's own forms: nothing faster on TensorFlow
    block_until_ready,
    conv2d,
    conv_kernel_initializer,
    eager_inference,
    max_pool2d,
    sync_state,
)
from msrgan.training.phases import D_PHASES, G_PHASES

JIT_COMPILE_AUTO = True
INFERENCE_DATA_FORMAT = "channels_last"
STACK_TAIL_ROWS = True
COMPILES_STATELESS_CALL = True

# ----------------------------------------------------------------------------- training


def train_step(model, data):
    """One ``MSRGAN`` step: ``tf.GradientTape`` over each objective, then ``optimizer.apply``."""
    lr, hr = common.unpack(data)
    g, d = model.generator, model.discriminator
    g_loss = d_loss = None
    terms = {}
    if model.phase in G_PHASES:
        g_opt, _ = model.generator_optimizer()
        with tf.GradientTape() as tape:
            g_loss, (sr, g_ntv, terms) = common.generator_objective(model, lr, hr, common.values)
            scaled = g_opt.scale_loss(g_loss)
        grads = tape.gradient(scaled, g.trainable_variables)
        g_opt.apply(grads, g.trainable_variables)
        common.assign(g.non_trainable_variables, g_ntv)
        common.update_ema(model)
    else:
        sr = model.generate(common.values(g.trainable_variables), common.values(g.non_trainable_variables), lr)
    sr = tf.stop_gradient(sr)
    if model.phase in D_PHASES:
        with tf.GradientTape() as tape:
            d_loss, d_ntv = model.discriminator_objective(
                common.values(d.trainable_variables), common.values(d.non_trainable_variables), sr, hr)
            scaled = model.d_optimizer.scale_loss(d_loss)
        grads = tape.gradient(scaled, d.trainable_variables)
        model.d_optimizer.apply(grads, d.trainable_variables)
        common.assign(d.non_trainable_variables, d_ntv)
    model.optimizer.iterations.assign_add(1)
    return model.update_trackers(model.step_values(g_loss, d_loss, terms, sr, hr))


def enable_data_parallel(devices=None, *, coordinator=None, num_processes=None, process_id=None):
    raise common.refuse_data_parallel("tensorflow")


# ----------------------------------------------------------------------------- inference


def compile_inference(fn):
    """``fn(params, x)`` as an XLA-compiled ``tf.function`` (one trace per input shape)."""
    return tf.function(fn, jit_compile=True, reduce_retracing=False)


def check_inference_layout(data_format: str, jit: bool) -> None:
    if data_format == "channels_first" and not jit:
        raise ValueError("data_format='channels_first' needs jit=True on the TensorFlow backend "
                         "(TensorFlow's eager CPU convolution only supports channels_last)")
