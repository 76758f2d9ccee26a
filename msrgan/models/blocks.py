"""Building blocks shared by the msrgan models (Keras layers in ``keras.ops``).

``Conv2D``, ``MaxPooling2D`` and ``BatchNormalization`` compute through the backend module's hooks
(``msrgan.backends``): the same values as Keras's layers, without the copies, slow kernels or
unfused elementwise passes some backends have.
"""

from __future__ import annotations

import functools

import keras
import numpy as np
from keras import layers, ops

from msrgan import backends
from msrgan.backends.convolution import STACK_ROWS_MAX_FILTERS, stacked_rows_conv


@keras.saving.register_keras_serializable(package="msrgan")
class Conv2D(layers.Conv2D):
    """``keras.layers.Conv2D`` with the same weights and outputs, computed faster where it matters.

    - **Few output channels** (at most ``STACK_ROWS_MAX_FILTERS``, stride 1, "same" padding,
      channels-last, a kernel taller than one row): computed by
      :func:`msrgan.backends.convolution.stacked_rows_conv`, on every backend.
    - **The convolution itself**, with its bias, is the backend module's ``conv2d``
      (``msrgan.backends``): on torch without Keras's layout copies (the kernel is created in the
      memory order torch's convolution reads, through the backend's ``conv_kernel_initializer``) and
      with the bias added by the convolution, on JAX on CPUs as an im2col matrix product for wide
      layers, elsewhere Keras's own.

    The config and variables are always ``keras.layers.Conv2D``'s (models saved before or on
    another backend load unchanged).
    """

    def build(self, input_shape):
        initializer = self.kernel_initializer
        kernel_initializer = backends.current().conv_kernel_initializer(initializer, self.data_format)
        if kernel_initializer is initializer:
            return super().build(input_shape)
        self.kernel_initializer = kernel_initializer  # used when the kernel is created
        try:
            super().build(input_shape)
        finally:
            self.kernel_initializer = initializer

    @property
    def stacks_rows(self) -> bool:
        """Whether this convolution is computed by :func:`~msrgan.backends.convolution.stacked_rows_conv`."""
        return (self.filters <= STACK_ROWS_MAX_FILTERS and self.kernel_size[0] > 1 and self.padding == "same"
                and tuple(self.strides) == (1, 1) and tuple(self.dilation_rate) == (1, 1)
                and getattr(self, "groups", 1) == 1 and self.data_format == "channels_last")

    def convolution_op(self, inputs, kernel):
        if self.stacks_rows:
            return stacked_rows_conv(inputs, kernel, self._convolve)
        return self._convolve(inputs, kernel)

    def call(self, inputs):
        if not self.use_bias or self.stacks_rows:
            return super().call(inputs)
        outputs = self._convolve(inputs, self.kernel, bias=self.bias)  # the backend may fuse the bias
        return outputs if self.activation is None else self.activation(outputs)

    def _convolve(self, inputs, kernel, bias=None):
        return backends.current().conv2d(inputs, kernel, strides=self.strides, padding=self.padding,
                                         dilation_rate=self.dilation_rate, data_format=self.data_format,
                                         groups=getattr(self, "groups", 1), bias=bias)


@keras.saving.register_keras_serializable(package="msrgan")
class MaxPooling2D(layers.MaxPooling2D):
    """``keras.layers.MaxPooling2D`` computed by the backend module's ``max_pool2d`` (no layout copy on torch)."""

    def call(self, inputs):
        return backends.current().max_pool2d(inputs, pool_size=self.pool_size, strides=self.strides,
                                             padding=self.padding, data_format=self.data_format)


@keras.saving.register_keras_serializable(package="msrgan")
class BatchNormalization(layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` (same config, variables and values) computed by the backend's hook.

    Over the last axis, without a mask, renorm or synchronized statistics, the normalization is the
    backend module's ``batch_norm``: torch's fused kernel on PyTorch, Keras's own computation
    elsewhere. The moving statistics are updated as Keras updates them (biased batch variance).
    Anything else is Keras's layer as it is.
    """

    def call(self, inputs, training=None, mask=None):
        if mask is not None or self.renorm or self.synchronized or self.axis not in (-1, len(inputs.shape) - 1):
            return super().call(inputs, training=training, mask=mask)
        inputs = ops.cast(inputs, keras.backend.result_type(inputs.dtype, "float32"))  # as Keras: statistics in float32
        moving_mean = ops.cast(self.moving_mean, inputs.dtype)
        moving_variance = ops.cast(self.moving_variance, inputs.dtype)
        gamma = ops.cast(self.gamma, inputs.dtype) if self.scale else None
        beta = ops.cast(self.beta, inputs.dtype) if self.center else None
        update = bool(training and self.trainable)
        outputs, mean, variance = backends.current().batch_norm(
            inputs, gamma, beta, moving_mean, moving_variance, epsilon=self.epsilon, training=update)
        if update:
            self.moving_mean.assign(moving_mean * self.momentum + mean * (1.0 - self.momentum))
            self.moving_variance.assign(moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return ops.cast(outputs, self.compute_dtype)


def apply_sublayer(block, layer, x, **kwargs):
    """``layer(x, **kwargs)`` for a built sublayer of ``block``, called from ``block.call``.

    Where Keras's ``__call__`` would change nothing, this is ``layer.call``: a built layer, the block's
    float32 policy (no autocasting of variables or inputs), and an input that is already a tensor of
    that dtype (``training`` is passed explicitly). Each ``__call__`` costs tens of microseconds of
    Python, which on eager PyTorch is a noticeable share of a training step (several hundred sublayer
    calls per step). Anything else, mixed precision included, goes through ``__call__``.
    """
    policy = layer.dtype_policy
    if (layer.built and policy.name == block.dtype_policy.name and policy.compute_dtype == policy.variable_dtype
            and ops.is_tensor(x) and keras.backend.standardize_dtype(x.dtype) == policy.compute_dtype):
        return layer.call(x, **kwargs)
    return layer(x, **kwargs)


@keras.saving.register_keras_serializable(package="msrgan")
class ResidualBlock(layers.Layer):
    """SRResNet residual block: conv-BN-PReLU-conv-BN plus the identity skip.

    Args:
        filters: Channels of both convolutions (and of the block's input).
        batch_norm: Use BatchNormalization after each convolution (SRGAN) or not (EDSR-style).
        kernel_size: Convolution size (3 in the paper).
    """

    def __init__(self, filters: int = 64, batch_norm: bool = True, kernel_size: int = 3, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.batch_norm = batch_norm
        self.kernel_size = kernel_size
        self.conv1 = Conv2D(filters, kernel_size, padding="same", name="conv1")
        self.conv2 = Conv2D(filters, kernel_size, padding="same", name="conv2")
        self.bn1 = BatchNormalization(momentum=0.9, name="bn1") if batch_norm else None
        self.bn2 = BatchNormalization(momentum=0.9, name="bn2") if batch_norm else None
        self.act = layers.PReLU(shared_axes=[1, 2], name="prelu")

    def build(self, input_shape):
        self.conv1.build(input_shape)
        shape = self.conv1.compute_output_shape(input_shape)
        if self.bn1 is not None:
            self.bn1.build(shape)
            self.bn2.build(shape)
        self.act.build(shape)
        self.conv2.build(shape)

    def call(self, x, training=False):
        y = apply_sublayer(self, self.conv1, x)
        if self.bn1 is not None:
            y = apply_sublayer(self, self.bn1, y, training=training)
        y = apply_sublayer(self, self.act, y)
        y = apply_sublayer(self, self.conv2, y)
        if self.bn2 is not None:
            y = apply_sublayer(self, self.bn2, y, training=training)
        return x + y

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "batch_norm": self.batch_norm,
                "kernel_size": self.kernel_size}


def _keys_cubic(t: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5 (Pillow's and MATLAB's bicubic)."""
    a = np.abs(t)
    return np.where(a <= 1, 1.5 * a**3 - 2.5 * a**2 + 1,
                    np.where(a < 2, -0.5 * a**3 + 2.5 * a**2 - 4 * a + 2, 0.0))


@functools.lru_cache(maxsize=None)
def bicubic_kernel(scale: int, channels: int) -> np.ndarray:
    """The ``(5, 5, C, scale * scale * C)`` convolution kernel of bicubic upsampling by ``scale``.

    Output channel ``(py * scale + px) * C + c`` holds sub-pixel ``(py, px)`` of channel ``c`` (the
    ``depth_to_space`` order); HR pixel ``i * scale + p`` is centred on LR coordinate
    ``i + (p + 0.5) / scale - 0.5``, Pillow's and MATLAB's convention for enlarging.
    """
    taps = np.arange(-2, 3, dtype=np.float64)
    phases = [_keys_cubic((p + 0.5) / scale - 0.5 - taps) for p in range(scale)]  # (5,) each, sums to 1
    k = np.zeros((5, 5, channels, scale * scale * channels), np.float32)
    for py in range(scale):
        for px in range(scale):
            for c in range(channels):
                k[:, :, c, (py * scale + px) * channels + c] = np.outer(phases[py], phases[px])
    return k


def bicubic_upsample(x, scale: int, kernel=None):
    """Bicubic upsampling of a channels-last ``(B, h, w, C)`` batch by ``scale``, in ``keras.ops``.

    Keys' cubic (a = -0.5) as one fixed 5x5 convolution to ``scale**2`` sub-pixels per channel and a
    ``depth_to_space``, with replicated borders: in the interior it equals Pillow's ``BICUBIC`` resize
    (``msrgan.evaluate.upsample``) to float32 rounding, on every backend. ``kernel``: the
    ``bicubic_kernel`` as a backend tensor, for compiled code that must not convert arrays itself.
    """
    if kernel is None:
        kernel = ops.convert_to_tensor(bicubic_kernel(int(scale), int(x.shape[-1])), dtype=x.dtype)
    x = ops.concatenate([x[:, :1], x[:, :1], x, x[:, -1:], x[:, -1:]], axis=1)
    x = ops.concatenate([x[:, :, :1], x[:, :, :1], x, x[:, :, -1:], x[:, :, -1:]], axis=2)
    return ops.depth_to_space(ops.conv(x, kernel, padding="valid"), int(scale))


@keras.saving.register_keras_serializable(package="msrgan")
class PixelShuffle(layers.Layer):
    """Sub-pixel convolution's rearrangement (depth_to_space) by ``factor``."""

    def __init__(self, factor: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return ops.depth_to_space(x, self.factor)

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        f = self.factor
        return (b, None if h is None else h * f, None if w is None else w * f, c // (f * f))

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable(package="msrgan")
class ConvBNAct(layers.Layer):
    """Conv2D, optional BatchNormalization, then LeakyReLU (discriminator and miniVGG19 unit)."""

    def __init__(self, filters: int, strides: int = 1, batch_norm: bool = True, negative_slope: float = 0.2,
                 kernel_size: int = 3, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.strides = strides
        self.batch_norm = batch_norm
        self.negative_slope = negative_slope
        self.kernel_size = kernel_size
        self.conv = Conv2D(filters, kernel_size, strides=strides, padding="same", use_bias=not batch_norm,
                                  name="conv")
        self.bn = BatchNormalization(momentum=0.9, name="bn") if batch_norm else None
        self.act = layers.LeakyReLU(negative_slope=negative_slope, name="lrelu")

    def build(self, input_shape):
        self.conv.build(input_shape)
        if self.bn is not None:
            self.bn.build(self.conv.compute_output_shape(input_shape))

    def call(self, x, training=False):
        y = apply_sublayer(self, self.conv, x)
        if self.bn is not None:
            y = apply_sublayer(self, self.bn, y, training=training)
        return apply_sublayer(self, self.act, y)

    def compute_output_shape(self, input_shape):
        return self.conv.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "strides": self.strides,
                "batch_norm": self.batch_norm, "negative_slope": self.negative_slope,
                "kernel_size": self.kernel_size}
