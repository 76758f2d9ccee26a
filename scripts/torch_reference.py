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

import contextlib
import math

import numpy as np
import torch
from torch import nn

__all__ = ["Discriminator", "MiniVGG19Features", "SRGANStep", "SRResNet", "discriminator_from_keras", "from_keras",
           "keras_weights", "load_keras_weights", "minivgg19_features_from_keras", "subpixel_permutation"]


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
    """``{path below the model's own name: numpy array}`` of a built Keras model (any nesting)."""
    import keras

    out = {}
    for v in generator.variables:
        parts = v.path.split("/")
        start = parts.index(generator.name) + 1 if generator.name in parts[:-1] else 1
        out["/".join(parts[start:])] = keras.ops.convert_to_numpy(v)
    return out


def _keras_same_pad(x, kernel: int, stride: int):
    """Keras/TensorFlow "same" padding (the extra pixel of an odd total goes bottom/right)."""
    pads = []
    for n in (x.shape[3], x.shape[2]):  # W then H, F.pad's order
        total = max(kernel - stride, 0) if n % stride == 0 else max(kernel - n % stride, 0)
        pads += [total // 2, total - total // 2]
    return torch.nn.functional.pad(x, pads)


class _ConvBNAct(nn.Module):
    """Conv (Keras "same" padding), optional BatchNorm, LeakyReLU(0.2): msrgan's ``ConvBNAct``."""

    def __init__(self, cin: int, cout: int, stride: int, batch_norm: bool, bn_eps: float):
        super().__init__()
        self.stride = stride
        self.conv = nn.Conv2d(cin, cout, 3, stride=stride, padding=1 if stride == 1 else 0, bias=not batch_norm)
        self.bn = nn.BatchNorm2d(cout, eps=bn_eps) if batch_norm else nn.Identity()
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x):
        if self.stride != 1:
            x = _keras_same_pad(x, 3, self.stride)
        return self.act(self.bn(self.conv(x)))


class Discriminator(nn.Module):
    """msrgan's SRGAN discriminator in native PyTorch: 8 conv units, global average pool, 2 dense layers.

    Args:
        channels, filters, dense_units, batch_norm: As ``msrgan.models.Discriminator``.
        bn_eps: BatchNorm epsilon (1e-3 matches Keras).
    """

    def __init__(self, channels: int = 3, filters: int = 64, dense_units: int = 1024, batch_norm: bool = True,
                 bn_eps: float = 1e-3):
        super().__init__()
        widths = [1, 1, 2, 2, 4, 4, 8, 8]
        units, cin = [], channels
        for i, w in enumerate(widths):
            units.append(_ConvBNAct(cin, filters * w, 1 + i % 2, batch_norm and i > 0, bn_eps))
            cin = filters * w
        self.convs = nn.Sequential(*units)
        self.dense = nn.Linear(cin, dense_units)
        self.act = nn.LeakyReLU(0.2)
        self.logit = nn.Linear(dense_units, 1)

    def forward(self, x):
        return self.logit(self.act(self.dense(self.convs(x).mean(dim=(2, 3)))))


class MiniVGG19Features(nn.Module):
    """The miniVGG19 feature taps of the content loss in native PyTorch (frozen, inference mode).

    Args:
        channels: Image channels.
        width: Multiplier on VGG19's widths (0.25 in mSRGAN).
        layers: Taps ``"block1"`` .. ``"block5"`` to return, in order.
        bn_eps: BatchNorm epsilon (1e-3 matches Keras).
    """

    BLOCKS = ((2, 64), (2, 128), (4, 256), (4, 512), (4, 512))

    def __init__(self, channels: int = 3, width: float = 0.25, layers=("block5",), bn_eps: float = 1e-3):
        super().__init__()
        self.layers = tuple(layers)
        self.last = max(int(t[-1]) for t in self.layers)
        blocks, cin = [], channels
        for n, w in self.BLOCKS[:self.last]:
            f = max(4, int(round(w * width)))
            blocks.append(nn.Sequential(*[_ConvBNAct(cin if i == 0 else f, f, 1, True, bn_eps) for i in range(n)]))
            cin = f
        self.blocks = nn.ModuleList(blocks)
        self.pool = nn.MaxPool2d(2)
        self.requires_grad_(False)

    def train(self, mode: bool = True):  # always inference mode, like the frozen Keras extractor
        return super().train(False)

    def forward(self, x):
        out = {}
        for i, block in enumerate(self.blocks):
            if i:
                x = self.pool(x)
            x = block(x)
            out[f"block{i + 1}"] = x
        return [out[t] for t in self.layers]


def _conv_bn_act(unit: _ConvBNAct, weights: dict, prefix: str) -> None:
    kernel = np.asarray(weights[f"{prefix}/conv/kernel"], np.float32)
    unit.conv.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))))
    if unit.conv.bias is not None:
        unit.conv.bias.copy_(torch.from_numpy(np.asarray(weights[f"{prefix}/conv/bias"], np.float32)))
    _bn(unit.bn, weights, f"{prefix}/bn")


def _dense(linear: nn.Linear, weights: dict, prefix: str) -> None:
    linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(np.asarray(weights[f"{prefix}/kernel"], np.float32).T)))
    linear.bias.copy_(torch.from_numpy(np.asarray(weights[f"{prefix}/bias"], np.float32)))


@torch.no_grad()
def discriminator_from_keras(discriminator) -> Discriminator:
    """A PyTorch ``Discriminator`` with the weights of a built Keras ``msrgan.models.Discriminator``."""
    d = discriminator
    net = Discriminator(d.channels, d.filters, d.dense_units, d.batch_norm)
    weights = keras_weights(d)
    for i, unit in enumerate(net.convs):
        _conv_bn_act(unit, weights, f"conv_{i}")
    _dense(net.dense, weights, "dense")
    _dense(net.logit, weights, "logit")
    return net


@torch.no_grad()
def minivgg19_features_from_keras(extractor) -> MiniVGG19Features:
    """A PyTorch ``MiniVGG19Features`` with the weights of a built Keras ``MiniVGG19Features``."""
    backbone = extractor.backbone
    net = MiniVGG19Features(backbone.channels, backbone.width, extractor.layer_names)
    weights = keras_weights(backbone)
    for b, block in enumerate(net.blocks, start=1):
        for i, unit in enumerate(block):
            _conv_bn_act(unit, weights, f"block{b}_conv{i + 1}")
    return net.eval()


class SRGANStep:
    """One native PyTorch SRGAN training step, BasicSR's order: generator update, then discriminator.

    Generator: ``sr = G(lr)``; ``alpha * MSE(sr, hr) + beta * sum_l w_l MSE(F_l(sr), F_l(hr)) +
    gamma * adversarial(D(sr))`` with D's weights frozen; then D on ``hr`` and the detached ``sr``.
    LSGAN targets (``(x - 1)^2`` / ``x^2``) by default, Adam optimizers; all modules channels_last.

    Args:
        generator, discriminator, features: ``SRResNet``, ``Discriminator``, ``MiniVGG19Features`` (or None).
        alpha, beta, gamma: Loss weights.
        g_lr, d_lr: Adam learning rates.
        adversarial: ``"lsgan"`` or ``"vanilla"``.
    """

    def __init__(self, generator, discriminator, features=None, *, alpha: float = 1.0, beta: float = 1.0,
                 gamma: float = 1e-3, g_lr: float = 1e-4, d_lr: float = 1e-3, adversarial: str = "lsgan",
                 autocast: str | None = None):
        if adversarial not in ("lsgan", "vanilla"):
            raise ValueError(f"adversarial must be 'lsgan' or 'vanilla', got {adversarial!r}")
        if autocast not in (None, "bfloat16", "float16"):
            raise ValueError(f"autocast must be None, 'bfloat16' or 'float16', got {autocast!r}")
        self.autocast = None if autocast is None else getattr(torch, autocast)
        self.g = generator.to(memory_format=torch.channels_last).train()
        self.d = discriminator.to(memory_format=torch.channels_last).train()
        self.f = None if features is None else features.to(memory_format=torch.channels_last).eval()
        self.alpha, self.beta, self.gamma, self.adversarial = alpha, beta, gamma, adversarial
        self.g_opt = torch.optim.Adam(self.g.parameters(), lr=g_lr)
        self.d_opt = torch.optim.Adam(self.d.parameters(), lr=d_lr)
        # float16 needs a loss scale (bfloat16 has float32's range); like Keras's float16 policy here.
        self.device_type = next(self.g.parameters()).device.type
        self.g_scaler = torch.amp.GradScaler(self.device_type, enabled=autocast == "float16")
        self.d_scaler = torch.amp.GradScaler(self.device_type, enabled=autocast == "float16")

    def _adv(self, logits, target: float):
        if self.adversarial == "lsgan":
            return ((logits - target) ** 2).mean()
        return torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))

    def _cast(self):
        if self.autocast is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device_type, dtype=self.autocast)

    def __call__(self, lr, hr) -> tuple[float, float]:
        """One step on NCHW (channels_last) batches; returns ``(g_loss, d_loss)``."""
        mse = torch.nn.functional.mse_loss
        self.g_opt.zero_grad(set_to_none=True)
        with self._cast():
            sr = self.g(lr)
            loss = self.alpha * mse(sr.float(), hr)
            if self.f is not None and self.beta:
                with torch.no_grad():
                    f_hr = self.f(hr)
                loss = loss + self.beta * sum(mse(a.float(), b.float()) for a, b in zip(self.f(sr), f_hr))
            self.d.requires_grad_(False)
            loss = loss + self.gamma * self._adv(self.d(sr).float(), 1.0)
        self.g_scaler.scale(loss).backward()
        self.g_scaler.step(self.g_opt)
        self.g_scaler.update()
        self.d.requires_grad_(True)
        self.d_opt.zero_grad(set_to_none=True)
        with self._cast():
            d_loss = self._adv(self.d(hr).float(), 1.0) + self._adv(self.d(sr.detach()).float(), 0.0)
        self.d_scaler.scale(d_loss).backward()
        self.d_scaler.step(self.d_opt)
        self.d_scaler.update()
        return float(loss.detach()), float(d_loss.detach())


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
