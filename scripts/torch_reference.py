"""Native PyTorch SRResNet: the reference that ``scripts/benchmark.py`` measures msrgan against.

This is the architecture of ``msrgan.models.Generator`` written the way a PyTorch user would
write it (``nn.Conv2d``, ``nn.BatchNorm2d``, ``nn.PReLU``, ``nn.PixelShuffle``), so the speed
comparison is against what users would otherwise run (BasicSR-style code), not against Keras.
It is a benchmark reference, not part of the package: it imports torch directly.

Identical architecture means identical numbers: :func:`from_keras` copies a trained Keras
``Generator``'s weights in, and ``tests/test_fast.py`` checks that both give the same output.
Two details make that true:

- Keras' BatchNormalization epsilon is 1e-3 (PyTorch's default is 1e-5), so ``bn_eps=1e-3``.
- Keras' ``depth_to_space`` on channels-last tensors reads channel ``(i * 2 + j) * C + c`` for
  output sub-pixel ``(i, j)`` of channel ``c``, while ``nn.PixelShuffle`` reads channel
  ``c * 4 + i * 2 + j``; the sub-pixel convolutions' output channels are permuted on copy.

Example:
    >>> import torch
    >>> net = SRResNet(num_blocks=2, filters=16, channels=1, scale=2).eval()
    >>> with torch.inference_mode():
    ...     net(torch.zeros(1, 1, 24, 20)).shape
    torch.Size([1, 1, 48, 40])
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

__all__ = ["SRResNet", "from_keras", "load_keras_weights", "subpixel_permutation"]


class _ResidualBlock(nn.Module):
    def __init__(self, filters: int, batch_norm: bool, bn_eps: float):
        super().__init__()
        self.conv1 = nn.Conv2d(filters, filters, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(filters, eps=bn_eps) if batch_norm else nn.Identity()
        self.prelu = nn.PReLU(filters)
        self.conv2 = nn.Conv2d(filters, filters, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(filters, eps=bn_eps) if batch_norm else nn.Identity()

    def forward(self, x):
        return x + self.bn2(self.conv2(self.prelu(self.bn1(self.conv1(x)))))


class SRResNet(nn.Module):
    """SRGAN's generator (SRResNet) in native PyTorch, NCHW tensors.

    Args:
        num_blocks: Residual blocks (16 in the paper).
        filters: Feature channels (64 in the paper).
        channels: Image channels.
        scale: Upscaling factor, a power of 2.
        batch_norm: BatchNorm in the residual blocks and after the body conv.
        bn_eps: BatchNorm epsilon (1e-3 matches Keras).
    """

    def __init__(self, num_blocks: int = 16, filters: int = 64, channels: int = 3, scale: int = 4,
                 batch_norm: bool = True, bn_eps: float = 1e-3):
        super().__init__()
        if scale < 2 or scale & (scale - 1):
            raise ValueError(f"scale must be a power of 2 (2, 4, 8), got {scale!r}")
        self.scale = scale
        self.head = nn.Conv2d(channels, filters, 9, padding=4)
        self.head_prelu = nn.PReLU(filters)
        self.blocks = nn.Sequential(*[_ResidualBlock(filters, batch_norm, bn_eps) for _ in range(num_blocks)])
        self.body_conv = nn.Conv2d(filters, filters, 3, padding=1)
        self.body_bn = nn.BatchNorm2d(filters, eps=bn_eps) if batch_norm else nn.Identity()
        ups = []
        for _ in range(int(math.log2(scale))):
            ups += [nn.Conv2d(filters, filters * 4, 3, padding=1), nn.PixelShuffle(2), nn.PReLU(filters)]
        self.upsample = nn.Sequential(*ups)
        self.tail = nn.Conv2d(filters, channels, 9, padding=4)

    def forward(self, x):
        feat = self.head_prelu(self.head(x))
        y = self.body_bn(self.body_conv(self.blocks(feat))) + feat
        return self.tail(self.upsample(y))


def subpixel_permutation(filters: int, factor: int = 2) -> np.ndarray:
    """Output-channel order that makes ``nn.PixelShuffle`` equal Keras' channels-last ``depth_to_space``.

    ``perm[c * factor**2 + k] = k * filters + c``: channel ``c * f**2 + k`` of the permuted
    convolution is channel ``k * filters + c`` of the Keras one.
    """
    f2 = factor * factor
    return np.array([k * filters + c for c in range(filters) for k in range(f2)], dtype=np.int64)


def _conv(conv: nn.Conv2d, weights: dict, prefix: str, perm=None) -> None:
    kernel = np.asarray(weights[f"{prefix}/kernel"], dtype=np.float32)  # (kh, kw, in, out)
    bias = np.asarray(weights[f"{prefix}/bias"], dtype=np.float32)
    if perm is not None:
        kernel, bias = kernel[..., perm], bias[perm]
    conv.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))))
    conv.bias.copy_(torch.from_numpy(bias))


def _bn(bn: nn.Module, weights: dict, prefix: str) -> None:
    if isinstance(bn, nn.Identity):
        return
    for torch_name, keras_name in (("weight", "gamma"), ("bias", "beta"), ("running_mean", "moving_mean"),
                                   ("running_var", "moving_variance")):
        getattr(bn, torch_name).copy_(torch.from_numpy(np.asarray(weights[f"{prefix}/{keras_name}"], np.float32)))


def _prelu(prelu: nn.PReLU, weights: dict, prefix: str) -> None:
    prelu.weight.copy_(torch.from_numpy(np.asarray(weights[f"{prefix}/alpha"], np.float32).reshape(-1)))


@torch.no_grad()
def load_keras_weights(net: SRResNet, weights: dict) -> SRResNet:
    """Copies Keras ``Generator`` weights, keyed by variable path without the model name, into ``net``.

    Args:
        net: The PyTorch model, built with the Keras model's configuration.
        weights: ``{"head_conv/kernel": array, "block_00/bn1/gamma": array, ...}``.

    Returns:
        ``net`` itself.
    """
    _conv(net.head, weights, "head_conv")
    _prelu(net.head_prelu, weights, "head_prelu")
    for i, block in enumerate(net.blocks):
        p = f"block_{i:02d}"
        _conv(block.conv1, weights, f"{p}/conv1")
        _bn(block.bn1, weights, f"{p}/bn1")
        _prelu(block.prelu, weights, f"{p}/prelu")
        _conv(block.conv2, weights, f"{p}/conv2")
        _bn(block.bn2, weights, f"{p}/bn2")
    _conv(net.body_conv, weights, "body_conv")
    _bn(net.body_bn, weights, "body_bn")
    for i in range(len(net.upsample) // 3):
        conv, _, prelu = net.upsample[3 * i: 3 * i + 3]
        _conv(conv, weights, f"up{i}_conv", perm=subpixel_permutation(conv.out_channels // 4))
        _prelu(prelu, weights, f"up{i}_prelu")
    _conv(net.tail, weights, "tail_conv")
    return net


def keras_weights(generator) -> dict:
    """``{path without the model name: numpy array}`` of a built Keras ``Generator``."""
    import keras

    out = {}
    for v in generator.variables:
        path = v.path.split("/", 1)[1] if "/" in v.path else v.path
        out[path] = keras.ops.convert_to_numpy(v)
    return out


def from_keras(generator) -> SRResNet:
    """A PyTorch ``SRResNet`` in eval mode with the weights of a built Keras ``Generator``.

    Example:
        >>> from msrgan.models import Generator
        >>> g = Generator(num_blocks=2, filters=16, channels=1, scale=2); _ = g(np.zeros((1, 8, 8, 1), "f4"))
        >>> net = from_keras(g)
    """
    net = SRResNet(generator.num_blocks, generator.filters, generator.channels, generator.scale,
                   generator.batch_norm)
    return load_keras_weights(net, keras_weights(generator)).eval()
