"""Building blocks shared by the msrgan models (Keras layers, backend-agnostic)."""

from __future__ import annotations

import functools

import keras
import numpy as np
from keras import layers, ops


@functools.lru_cache(maxsize=None)
def _on_cpu() -> bool:
    """Whether Keras computes on CPUs only (the devices a process sees do not change)."""
    devices = keras.distribution.list_devices()
    return bool(devices) and all(str(d).lower().startswith("cpu") for d in devices)


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


STACK_ROWS_MAX_FILTERS = 4  # convolutions with at most this many outputs use stacked_rows_conv
IM2COL_MIN_CHANNELS = 128  # JAX on CPU: convolutions with at least this many inputs use im2col_conv
IM2COL_MAX_TAPS = 2**26  # ... unless their stacked taps would exceed this many values (256 MB in float32)


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's "same" padding (before, after) of one axis: the odd pixel goes after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def im2col_conv(x, kernel, strides=(1, 1), padding="same"):
    """A channels-last convolution as one matrix product over the stacked kernel taps (im2col).

    The ``kh * kw`` shifted (and strided) views of ``x`` are concatenated along the channels and
    multiplied by the ``(kh * kw * in, out)`` reshaped kernel: the same values as ``ops.conv`` (up
    to float32 summation order) and, by automatic differentiation, the same gradients, both of
    them matrix products too. XLA's CPU convolutions compute the kernel gradient as a convolution
    with a window the size of the image, 2 to 5 times slower than this product (2 CPU cores, 3x3
    kernels, 64 to 512 channels). The price is memory: the taps are kept for the backward pass,
    ``kh * kw`` times the input. :class:`Conv2D` uses it on JAX on CPUs for layers with at least
    :data:`IM2COL_MIN_CHANNELS` input channels: in the GAN training step of
    ``scripts/benchmark.py`` that threshold measured best (per-round ratio to native PyTorch
    0.76x without im2col, 0.83x from 128 channels, 0.82x from 64 or 32, 0.77x to 0.79x from 256
    or 512); with it on every layer the step was slower (0.71x): around the generator's
    sub-pixel convolutions XLA fused the product's operand transposes into slow copies.

    Args:
        x: ``(B, H, W, in)`` batch with static height and width.
        kernel: ``(kh, kw, in, out)``.
        strides: ``(sh, sw)``.
        padding: ``"same"`` (TensorFlow's convention) or ``"valid"``.

    Returns:
        ``(B, H', W', out)``, as ``ops.conv(x, kernel, strides, padding)``.
    """
    kh, kw, cin, cout = (int(d) for d in kernel.shape)
    (sh, sw), (h, w) = strides, (int(x.shape[1]), int(x.shape[2]))
    if padding == "same":
        (top, bottom), (left, right) = _same_padding(h, kh, sh), _same_padding(w, kw, sw)
        x = ops.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]])
        h, w = h + top + bottom, w + left + right
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    taps = [x[:, dy:dy + (oh - 1) * sh + 1:sh, dx:dx + (ow - 1) * sw + 1:sw, :] for dy in range(kh) for dx in range(kw)]
    return ops.matmul(ops.concatenate(taps, axis=-1), ops.reshape(kernel, (kh * kw * cin, cout)))


def stacked_rows_conv(x, kernel, conv):
    """A stride-1, "same"-padded convolution of ``x`` computed as ``kh`` rows stacked into channels.

    ``conv(x, stacked)`` runs the ``(1, kw, in, kh * out)`` convolution whose output channel
    ``dy * out + o`` is kernel row ``dy``'s contribution to output channel ``o``; shifting those
    ``kh`` slices by their row offset and adding them gives the ``(kh, kw, in, out)`` convolution.
    Same values (up to float32 summation order), same gradients. It pays where ``out`` is tiny,
    as in the 9x9 convolution to the image's 1-4 channels that ends every generator: the CPU
    convolution libraries (oneDNN, XLA's, TensorFlow's) run a few-output-channel convolution, and
    above all its kernel gradient, far below their usual speed. Measured on 2 CPU cores for that
    layer (batch 4, 96x96, 64 -> 3 channels, forward and both gradients): JAX 227 -> 74 ms,
    TensorFlow (XLA) 227 -> 81 ms, torch 95 -> 56 ms.

    Args:
        x: Channels-last batch ``(B, H, W, in)``.
        kernel: ``(kh, kw, in, out)`` kernel.
        conv: ``conv(x, kernel)``, the same-padded stride-1 channels-last convolution to use.

    Returns:
        The ``(B, H, W, out)`` result of ``conv(x, kernel)``.
    """
    kh, kw, cin, cout = (int(d) for d in kernel.shape)
    stacked = ops.reshape(ops.transpose(kernel, (1, 2, 0, 3)), (1, kw, cin, kh * cout))
    top = (kh - 1) // 2  # "same" padding puts the odd pixel of an even kernel at the bottom
    z = ops.pad(conv(x, stacked), [[0, 0], [top, kh - 1 - top], [0, 0], [0, 0]])
    out = None
    for dy in range(kh):
        stop = dy - (kh - 1)  # rows dy .. dy + H - 1 of the padded stack (static, so any H works)
        part = z[:, dy:stop if stop else None, :, dy * cout:(dy + 1) * cout]
        out = part if out is None else out + part
    return out


@keras.saving.register_keras_serializable(package="msrgan")
class Conv2D(layers.Conv2D):
    """``keras.layers.Conv2D`` with the same weights and outputs, computed faster where it matters.

    - **No layout copies on torch.** Keras's channels-last convolution copies each input to
      contiguous channels-first memory and back to channels-last memory, and the kernel to torch's
      layout, in every call (and the gradients back). Here the channels-last batch goes to
      ``keras.ops.conv`` as a channels-first *view* (``ops.transpose``, no copy), which torch's
      oneDNN convolution reads directly as channels-last memory, and the kernel is created in the
      memory order that convolution wants (:class:`_ChannelsLastOIHW`).
    - **Few output channels** (at most :data:`STACK_ROWS_MAX_FILTERS`, stride 1, "same" padding,
      channels-last, a kernel taller than one row): computed by :func:`stacked_rows_conv`, on
      every backend.
    - **Wide layers on JAX on CPUs** (at least :data:`IM2COL_MIN_CHANNELS` input channels,
      channels-last, no dilation, static shapes, at most :data:`IM2COL_MAX_TAPS` stacked tap
      values): computed by :func:`im2col_conv`, whose kernel gradient is a matrix product instead
      of XLA's slow image-sized convolution.

    Everything else is ``keras.layers.Conv2D`` unchanged, and the config and variables always are
    (models saved before or on another backend load unchanged).
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

    @property
    def stacks_rows(self) -> bool:
        """Whether this convolution is computed by :func:`stacked_rows_conv`."""
        return (self.filters <= STACK_ROWS_MAX_FILTERS and self.kernel_size[0] > 1 and self.padding == "same"
                and tuple(self.strides) == (1, 1) and tuple(self.dilation_rate) == (1, 1)
                and getattr(self, "groups", 1) == 1 and self.data_format == "channels_last")

    def _uses_im2col(self, inputs, kernel) -> bool:
        if (keras.backend.backend() != "jax" or int(kernel.shape[2]) < IM2COL_MIN_CHANNELS
                or self.data_format != "channels_last" or tuple(self.dilation_rate) != (1, 1)
                or getattr(self, "groups", 1) != 1 or None in tuple(inputs.shape) or not _on_cpu()):
            return False
        b, h, w, _ = (int(d) for d in inputs.shape)
        taps = b * -(-h // self.strides[0]) * -(-w // self.strides[1]) * int(np.prod(kernel.shape[:3]))
        return taps <= IM2COL_MAX_TAPS

    def convolution_op(self, inputs, kernel):
        if self.stacks_rows:
            return stacked_rows_conv(inputs, kernel, self._convolve)
        return self._convolve(inputs, kernel)

    def _convolve(self, inputs, kernel):
        if self._uses_im2col(inputs, kernel):
            return im2col_conv(inputs, kernel, tuple(self.strides), self.padding)
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
