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
  (:class:`ChannelsLastKernel`). Pooling likewise. The convolution adds the layer's bias itself.
- Data-parallel training is ``torch.distributed`` with DDP's semantics, one process per device as
  ``torchrun`` starts them (gloo on CPUs, nccl on GPUs): each process trains on its rows of the
  global batch, and after each ``backward()`` the gradients are averaged over the processes (one
  flat all-reduce per network) before the optimizer applies them; BatchNorm's moving statistics and
  the step's metrics are averaged too, so every process holds the same networks and logs.

The measurements behind these choices are in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import functools
import math

import keras
import torch
import torch.nn.functional as F
from keras import ops

from msrgan.backends import common, convolution
from msrgan.backends.common import block_until_ready, check_inference_layout, sync_state  # nothing to do here
from msrgan.training.distribute import DataParallel
from msrgan.training.phases import D_PHASES, G_PHASES

JIT_COMPILE_AUTO = False
INFERENCE_DATA_FORMAT = "channels_first"
# The generator's last 9x9 convolution to the image's few channels as stacked kernel rows, run outside
# torch.compile ("uncompiled"), on AVX-512 CPUs: there oneDNN ran that tail in 57 ms stacked (eager)
# against 117 ms plain, but torch.compile of the whole fast path with it took 2.4 s per 128x128 batch
# against 0.34 s. On an AVX2 CPU the plain one was faster (159 against 534 ms). docs/benchmarks.md.
STACK_TAIL_ROWS = "uncompiled" if torch.backends.cpu.get_cpu_capability().startswith("AVX512") else False
COMPILES_STATELESS_CALL = False

# ----------------------------------------------------------------------------- training


def train_step(model, data):
    """One ``MSRGAN`` step: ``backward()`` over each objective, ``optimizer.apply`` under ``no_grad``."""
    lr, hr = common.unpack(data)
    v = model.network_variables
    g_loss = d_loss = None
    terms = {}
    if model.phase in G_PHASES:
        g_opt, _ = model.generator_optimizer()
        _use_fewer_passes(g_opt)
        model.zero_grad(set_to_none=True)
        # D's weights enter the G loss as constants (detached): autograd then computes no D
        # weight gradients in the G step, which the G update would throw away anyway.
        g_loss, (sr, g_ntv, terms) = common.generator_objective(model, lr, hr, _detached)
        g_opt.scale_loss(g_loss).backward()
        grads = _averaged_over_processes([x.value.grad for x in v("g_tv")])
        with torch.no_grad():
            g_opt.apply(grads, v("g_tv"))
            common.assign(v("g_ntv"), g_ntv)
            common.update_ema(model)
        g_loss = g_loss.detach()
        terms = {k: t.detach() for k, t in terms.items()}
    else:
        with torch.no_grad():
            sr = model.generate(common.values(v("g_tv")), common.values(v("g_ntv")), lr)
    sr = sr.detach()
    if model.phase in D_PHASES:
        _use_fewer_passes(model.d_optimizer)
        model.zero_grad(set_to_none=True)
        d_loss, d_ntv = model.discriminator_objective(common.values(v("d_tv")), common.values(v("d_ntv")), sr, hr)
        model.d_optimizer.scale_loss(d_loss).backward()
        grads = _averaged_over_processes([x.value.grad for x in v("d_tv")])
        with torch.no_grad():
            model.d_optimizer.apply(grads, v("d_tv"))
            common.assign(v("d_ntv"), d_ntv)
        d_loss = d_loss.detach()
        model.zero_grad(set_to_none=True)
    with torch.no_grad():
        model.optimizer.iterations.assign_add(1)
        values = model.step_values(g_loss, d_loss, terms, sr, hr)
        if _PROCESS_GROUP["size"] > 1:  # the same moving statistics and logs in every process
            ntv = [x.value for x in v("g_ntv") + v("d_ntv") if x.value.is_floating_point()]
            names = sorted(values)
            averaged = _averaged_over_processes(ntv + [values[k].reshape(1) for k in names])
            for t, new in zip(ntv, averaged):
                t.copy_(new)
            values = dict(zip(names, (x.reshape(()) for x in averaged[len(ntv):])))
        return model.update_trackers(values)


def _detached(variables):
    return [v.value.detach() for v in variables]


def _use_fewer_passes(optimizer) -> None:
    """Gives a Keras ``Adam`` (not a subclass with its own update) :func:`_adam_update` as its update step,
    and its moments the memory layout of their variables (:class:`ChannelsLastKernel`'s kernels)."""
    if ("_parallel_update_step" in vars(optimizer) or type(optimizer) is not _keras_adam_class()
            or optimizer.amsgrad or not optimizer.built):
        return
    for variable in optimizer._trainable_variables:
        i = optimizer._get_variable_index(variable)
        for moment in (optimizer._momentums[i], optimizer._velocities[i]):
            if moment.value.stride() != variable.value.stride():  # elementwise passes over mixed layouts crawl
                with torch.no_grad():
                    relaid = torch.empty_like(variable.value).copy_(moment.value)
                moment._initialize(torch.nn.Parameter(relaid, requires_grad=False))
    optimizer._parallel_update_step = functools.partial(_adam_update, optimizer)


@functools.lru_cache(maxsize=None)
def _keras_adam_class():
    """The class ``keras.optimizers.Adam()`` makes on this backend (made once: the train step asks each step)."""
    return type(keras.optimizers.Adam())


def _adam_update(optimizer, grads, variables, learning_rate):
    """Keras's Adam update, ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g^2``, ``w -= lr sqrt(1 - b2^t)
    / (1 - b1^t) m / (sqrt(v) + eps)``, with torch's in-place multi-tensor operations (``lerp_``,
    ``addcmul_``, ``addcdiv_``): 6 passes over each tensor instead of Keras's 10, without temporaries.
    On CPUs only (the step size is read to the host); elsewhere Keras's own.
    """
    params = [v.value for v in variables]
    if not params or params[0].device.type != "cpu":
        return type(optimizer)._parallel_update_step(optimizer, grads, variables, learning_rate)
    step = float(optimizer.iterations.value) + 1.0
    b1, b2 = float(optimizer.beta_1), float(optimizer.beta_2)
    alpha = float(learning_rate) * math.sqrt(1.0 - b2**step) / (1.0 - b1**step)
    index = optimizer._get_variable_index
    m = [optimizer._momentums[index(v)].value for v in variables]
    v = [optimizer._velocities[index(x)].value for x in variables]
    torch._foreach_lerp_(m, grads, 1.0 - b1)
    torch._foreach_mul_(v, b2)
    torch._foreach_addcmul_(v, grads, grads, value=1.0 - b2)
    denominator = torch._foreach_sqrt(v)
    torch._foreach_add_(denominator, optimizer.epsilon)
    torch._foreach_addcdiv_(params, m, denominator, value=-alpha)


# The default process group's size while data-parallel training is set up, and whether this module made it.
_PROCESS_GROUP = {"size": 1, "owned": False}


def _averaged_over_processes(tensors):
    """``tensors`` averaged over the processes (one flat all-reduce); as they are in one process.

    A None (a variable the loss does not reach) counts as zeros.
    """
    n = _PROCESS_GROUP["size"]
    if n == 1 or not tensors:
        return tensors
    import torch.distributed as dist

    like = next(t for t in tensors if t is not None)
    parts = [torch.zeros((), dtype=like.dtype, device=like.device) if t is None else t for t in tensors]
    flat = torch.cat([t.reshape(-1).to(torch.float32) for t in parts])
    dist.all_reduce(flat)
    flat /= n
    out, at = [], 0
    for t in parts:
        out.append(flat[at:at + t.numel()].view(t.shape).to(t.dtype))
        at += t.numel()
    return [None if t is None else o for t, o in zip(tensors, out)]


class TorchDataParallel(DataParallel):
    """``torch.distributed``'s default process group: one process (and device) per replica."""

    engine = "torch.distributed"

    def broadcast(self, variables) -> None:
        """The chief's values everywhere (one flat broadcast per dtype; strided views are copied into)."""
        if self.num_processes == 1:
            return
        import torch.distributed as dist

        by_dtype = {}
        for v in variables:
            by_dtype.setdefault(v.value.dtype, []).append(v.value)
        with torch.no_grad():
            for tensors in by_dtype.values():
                flat = torch.cat([t.reshape(-1) for t in tensors])
                dist.broadcast(flat, src=0)
                at = 0
                for t in tensors:
                    t.copy_(flat[at:at + t.numel()].view(t.shape))
                    at += t.numel()

    def barrier(self) -> None:
        if self.num_processes > 1:
            import torch.distributed as dist

            dist.barrier()

    def close(self) -> None:
        import torch.distributed as dist

        owned, _PROCESS_GROUP["owned"], _PROCESS_GROUP["size"] = _PROCESS_GROUP["owned"], False, 1
        if owned and dist.is_initialized():
            dist.destroy_process_group()


def enable_data_parallel(devices=None, *, coordinator=None, num_processes=None, process_id=None):
    """Joins (or makes) the default process group: ``torchrun``'s environment (``RANK``, ``WORLD_SIZE``,
    ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``), which the flags, when given, must agree with; or,
    without ``torchrun``, the three flags (``--coordinator`` is process 0's HOST:PORT)."""
    import os

    import torch.distributed as dist

    if devices is not None:
        raise ValueError("PyTorch runs one process per device: launch with torchrun --nproc_per_node N instead of "
                         "naming devices")
    env = os.environ
    if "WORLD_SIZE" in env and "RANK" in env:
        world, rank = int(env["WORLD_SIZE"]), int(env["RANK"])
        common.check_agrees("--num-processes", num_processes, "WORLD_SIZE", world)
        common.check_agrees("--process-id", process_id, "RANK", rank)
        master = f"{env.get('MASTER_ADDR')}:{env.get('MASTER_PORT')}"
        common.check_agrees("--coordinator", coordinator, "MASTER_ADDR:MASTER_PORT", master)
        init, local_rank = "env://", int(env.get("LOCAL_RANK", 0))
    elif common.check_multi_host(coordinator, num_processes, process_id):
        world, rank = int(num_processes), int(process_id)
        init, local_rank = f"tcp://{coordinator}", 0
    else:
        world, rank, init, local_rank = 1, 0, None, 0
    if world > 1 and not (dist.is_available() and dist.is_initialized()):
        if torch.cuda.is_available():
            torch.cuda.set_device(local_rank)  # Keras's "cuda" is then this process's GPU
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo", init_method=init, rank=rank,
                                world_size=world)
        _PROCESS_GROUP["owned"] = True
    _PROCESS_GROUP["size"] = world
    return TorchDataParallel(world, num_processes=world, process_id=rank)


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


def conv2d(inputs, kernel, *, strides, padding, dilation_rate, data_format, groups=1, bias=None):
    """``torch.nn.functional.conv2d`` with the values of ``ops.conv`` plus ``bias``.

    A channels-last batch goes in as a channels-first view (no layout copy), and the bias is added
    by the convolution itself (oneDNN's fused bias, and its gradient from the same backward call)
    instead of as a separate elementwise pass.
    """
    if data_format != "channels_last":
        return common.conv2d(inputs, kernel, strides=strides, padding=padding, dilation_rate=dilation_rate,
                             data_format=data_format, groups=groups, bias=bias)
    x = ops.convert_to_tensor(inputs)
    w = ops.convert_to_tensor(kernel).permute(3, 2, 0, 1)  # (out, in, kh, kw); channels-last memory
    b = None if bias is None else ops.convert_to_tensor(bias)
    strides, dilation = tuple(int(s) for s in strides), _pair(dilation_rate)
    pads = (0, 0)
    if padding == "same":
        sides = [convolution.same_padding(int(x.shape[1 + i]), (int(w.shape[2 + i]) - 1) * dilation[i] + 1,
                                          strides[i]) for i in range(2)]
        if all(before == after for before, after in sides):
            pads = tuple(before for before, _ in sides)
        else:  # TensorFlow's odd pixel after: torch pads both sides alike, so pad here (channels-last memory)
            x = F.pad(x, (0, 0, sides[1][0], sides[1][1], sides[0][0], sides[0][1]))
    y = F.conv2d(x.permute(0, 3, 1, 2), w, b, stride=strides, padding=pads, dilation=dilation,
                 groups=int(x.shape[3]) // int(w.shape[1]))
    return y.permute(0, 2, 3, 1)


def _pair(value) -> tuple[int, int]:
    return (int(value),) * 2 if isinstance(value, int) else tuple(int(v) for v in value)


def max_pool2d(inputs, *, pool_size, strides, padding, data_format):
    """``ops.max_pool``; a channels-last batch goes in as a channels-first view (no layout copy)."""
    if data_format != "channels_last":
        return common.max_pool2d(inputs, pool_size=pool_size, strides=strides, padding=padding,
                                 data_format=data_format)
    y = ops.max_pool(ops.transpose(inputs, (0, 3, 1, 2)), pool_size=pool_size, strides=strides, padding=padding,
                     data_format="channels_first")
    return ops.transpose(y, (0, 2, 3, 1))


def batch_norm(inputs, gamma, beta, moving_mean, moving_variance, *, epsilon, training):
    """``torch.nn.functional.batch_norm`` with the values of :func:`msrgan.backends.common.batch_norm`.

    A channels-last batch goes in as a channels-first view, which torch's CPU kernel reads as
    channels-last memory. In training, torch writes the batch's mean and *unbiased* variance into
    the running buffers it is given (fresh ones, with momentum 1); the variance is rescaled to the
    biased one Keras's moving statistics use.
    """
    rank, channels = inputs.ndim, int(inputs.shape[-1])
    count = inputs.numel() // max(channels, 1)
    if rank not in (2, 4) or (training and count < 2):
        return common.batch_norm(inputs, gamma, beta, moving_mean, moving_variance, epsilon=epsilon,
                                 training=training)
    x = inputs.permute(0, 3, 1, 2) if rank == 4 else inputs
    if training:
        mean = torch.zeros(channels, dtype=inputs.dtype, device=inputs.device)
        variance = torch.zeros(channels, dtype=inputs.dtype, device=inputs.device)
        y = F.batch_norm(x, mean, variance, gamma, beta, training=True, momentum=1.0, eps=epsilon)
        variance = variance * ((count - 1) / count)  # not in place: autograd saved the buffer
    else:
        mean, variance = moving_mean, moving_variance
        y = F.batch_norm(x, mean, variance, gamma, beta, training=False, eps=epsilon)
    return (y.permute(0, 2, 3, 1) if rank == 4 else y), mean, variance
