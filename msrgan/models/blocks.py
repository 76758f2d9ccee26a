"""Building blocks shared by the msrgan models (Keras layers, backend-agnostic)."""

from __future__ import annotations

import keras
from keras import layers, ops


def _torch_channels_last(data_format: str) -> bool:
    return keras.backend.backend() == "torch" and data_format == "channels_last"


class _ChannelsLastOIHW:
    """Wraps a kernel initializer: the same values, in ``(out, kh, kw, in)`` memory on torch.

    The ``(kh, kw, in, out)`` kernel keeps its shape and values (a strided view), so saving,
    loading and ``assign`` are unchanged. Keras's torch convolution views the kernel as ``(out,
    in, kh, kw)``; with this memory order that view is torch's channels-last weight layout, which
    oneDNN uses as it is, instead of copying the kernel into it in every forward and backward pass.
    """

    def __init__(self, initializer):
        self.initializer = initializer

    def __call__(self, shape, dtype=None):
        import torch  # only built on the torch backend

        value = ops.convert_to_tensor(self.initializer(shape, dtype=dtype))
        if len(shape) != 4 or not isinstance(value, torch.Tensor):
            return value
        return value.permute(3, 0, 1, 2).contiguous().permute(1, 2, 3, 0)


@keras.saving.register_keras_serializable(package="msrgan")
class Conv2D(layers.Conv2D):
    """``keras.layers.Conv2D`` with the same weights and outputs, without layout copies on torch.

    On the torch backend, Keras's channels-last convolution copies each input to contiguous
    channels-first memory and back to channels-last memory, and the kernel to torch's layout, in
    every call (and the gradients back). Here the channels-last batch goes to ``keras.ops.conv``
    as a channels-first *view* (``ops.transpose``, no copy), which torch's oneDNN convolution
    reads directly as channels-last memory, and the kernel is created in the memory order that
    convolution wants (:class:`_ChannelsLastOIHW`). On the other backends this is
    ``keras.layers.Conv2D`` unchanged.
    """

    def build(self, input_shape):
        if not _torch_channels_last(self.data_format):
            return super().build(input_shape)
        initializer = self.kernel_initializer
        self.kernel_initializer = _ChannelsLastOIHW(initializer)  # used when the kernel is created
        try:
            super().build(input_shape)
        finally:
            self.kernel_initializer = initializer

    def convolution_op(self, inputs, kernel):
        if not _torch_channels_last(self.data_format):
            return super().convolution_op(inputs, kernel)
        y = ops.conv(ops.transpose(inputs, (0, 3, 1, 2)), kernel, strides=list(self.strides), padding=self.padding,
                     dilation_rate=self.dilation_rate, data_format="channels_first")
        return ops.transpose(y, (0, 2, 3, 1))


@keras.saving.register_keras_serializable(package="msrgan")
class MaxPooling2D(layers.MaxPooling2D):
    """``keras.layers.MaxPooling2D`` without the input layout copy on torch (see :class:`Conv2D`)."""

    def call(self, inputs):
        if not _torch_channels_last(self.data_format):
            return super().call(inputs)
        y = ops.max_pool(ops.transpose(inputs, (0, 3, 1, 2)), pool_size=self.pool_size, strides=self.strides,
                         padding=self.padding, data_format="channels_first")
        return ops.transpose(y, (0, 2, 3, 1))


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
        self.bn1 = layers.BatchNormalization(momentum=0.9, name="bn1") if batch_norm else None
        self.bn2 = layers.BatchNormalization(momentum=0.9, name="bn2") if batch_norm else None
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
        y = self.conv1(x)
        if self.bn1 is not None:
            y = self.bn1(y, training=training)
        y = self.act(y)
        y = self.conv2(y)
        if self.bn2 is not None:
            y = self.bn2(y, training=training)
        return x + y

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "batch_norm": self.batch_norm,
                "kernel_size": self.kernel_size}


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
        self.bn = layers.BatchNormalization(momentum=0.9, name="bn") if batch_norm else None
        self.act = layers.LeakyReLU(negative_slope=negative_slope, name="lrelu")

    def build(self, input_shape):
        self.conv.build(input_shape)
        if self.bn is not None:
            self.bn.build(self.conv.compute_output_shape(input_shape))

    def call(self, x, training=False):
        y = self.conv(x)
        if self.bn is not None:
            y = self.bn(y, training=training)
        return self.act(y)

    def compute_output_shape(self, input_shape):
        return self.conv.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "strides": self.strides,
                "batch_norm": self.batch_norm, "negative_slope": self.negative_slope,
                "kernel_size": self.kernel_size}
