"""Convolutions computed in another form, with the values and gradients of ``keras.ops.conv``.

CPU convolution libraries run some convolutions far below their usual speed; these forms, written
in ``keras.ops``, compute the same sums as other operations:

- :func:`stacked_rows_conv`: a convolution to a few output channels (the 9x9 convolution to the
  image's 1-4 channels that ends every generator) as one convolution with the kernel rows stacked
  into channels, then shifted adds. ``msrgan.models.blocks.Conv2D`` uses it on every backend for
  layers with at most :data:`STACK_ROWS_MAX_FILTERS` outputs; ``FastGenerator`` where the backend
  module says so (``STACK_TAIL_ROWS``).
- :func:`im2col_conv`: a convolution as one matrix product over the stacked kernel taps, so that
  autodiff makes its kernel gradient a matrix product too. ``msrgan.backends.jax`` uses it on CPUs
  for layers with at least :data:`IM2COL_MIN_CHANNELS` inputs, up to :data:`IM2COL_MAX_TAPS`.

The thresholds are the ones measured best in ``scripts/benchmark.py``'s training step; the
measurements are in ``docs/benchmarks.md`` ("What the Keras training step needed").
"""

from __future__ import annotations

from keras import ops

STACK_ROWS_MAX_FILTERS = 4  # convolutions with at most this many outputs use stacked_rows_conv
IM2COL_MIN_CHANNELS = 128  # JAX on CPU: convolutions with at least this many inputs use im2col_conv
IM2COL_MAX_TAPS = 2**26  # ... unless their stacked taps would exceed this many values (256 MB in float32)


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
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
    with a window the size of the image, several times slower than this product. The price is
    memory: the taps are kept for the backward pass, ``kh * kw`` times the input.

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
        (top, bottom), (left, right) = same_padding(h, kh, sh), same_padding(w, kw, sw)
        x = ops.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]])
        h, w = h + top + bottom, w + left + right
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    taps = [x[:, dy:dy + (oh - 1) * sh + 1:sh, dx:dx + (ow - 1) * sw + 1:sw, :] for dy in range(kh) for dx in range(kw)]
    return ops.matmul(ops.concatenate(taps, axis=-1), ops.reshape(kernel, (kh * kw * cin, cout)))


def stacked_rows_conv(x, kernel, conv, data_format: str = "channels_last"):
    """A stride-1, "same"-padded convolution of ``x`` computed as ``kh`` rows stacked into channels.

    ``conv(x, stacked)`` runs the ``(1, kw, in, kh * out)`` convolution whose output channel
    ``dy * out + o`` is kernel row ``dy``'s contribution to output channel ``o``; shifting those
    ``kh`` slices by their row offset and adding them gives the ``(kh, kw, in, out)`` convolution.
    Same values (up to float32 summation order), same gradients. It pays where ``out`` is tiny:
    the CPU convolution libraries (oneDNN, XLA's, TensorFlow's) run a few-output-channel
    convolution, and above all its kernel gradient, far below their usual speed.

    Args:
        x: Batch ``(B, H, W, in)`` (channels-last) or ``(B, in, H, W)`` (channels-first).
        kernel: ``(kh, kw, in, out)`` kernel.
        conv: ``conv(x, kernel)``, the same-padded stride-1 convolution in ``data_format`` to use.
        data_format: The layout of ``x``, of ``conv`` and of the result.

    Returns:
        The result of ``conv(x, kernel)``: ``(B, H, W, out)`` or ``(B, out, H, W)``.
    """
    kh, kw, cin, cout = (int(d) for d in kernel.shape)
    first = data_format == "channels_first"
    stacked = ops.reshape(ops.transpose(kernel, (1, 2, 0, 3)), (1, kw, cin, kh * cout))
    top = (kh - 1) // 2  # "same" padding puts the odd pixel of an even kernel at the bottom
    rows = [top, kh - 1 - top]
    z = ops.pad(conv(x, stacked), [[0, 0], [0, 0], rows, [0, 0]] if first else [[0, 0], rows, [0, 0], [0, 0]])
    out = None
    for dy in range(kh):
        stop = dy - (kh - 1)  # rows dy .. dy + H - 1 of the padded stack (static, so any H works)
        r = slice(dy, stop if stop else None)
        c = slice(dy * cout, (dy + 1) * cout)
        part = z[:, c, r, :] if first else z[:, r, :, c]
        out = part if out is None else out + part
    return out


__all__ = ["IM2COL_MAX_TAPS", "IM2COL_MIN_CHANNELS", "STACK_ROWS_MAX_FILTERS", "im2col_conv", "stacked_rows_conv"]
