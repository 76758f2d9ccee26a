"""What the backend modules share, written with ``keras.ops`` (no framework import).

- pieces of the stateful train steps (TensorFlow and PyTorch): unpacking a batch, reading and
  assigning variable values, the generator objective on the live variables, the EMA update;
- Keras's own forms of the hooks in ``msrgan.backends``' interface, which a backend module takes
  as they are where it has nothing faster: ``conv2d`` and ``max_pool2d`` compute what
  ``keras.layers.Conv2D`` / ``MaxPooling2D`` compute, ``conv_kernel_initializer`` keeps the
  initializer, and the inference and state hooks do nothing;
- the checks of a data-parallel set-up that do not depend on the backend (the flags against each
  other and against what a launcher set).
"""

from __future__ import annotations

from keras import ops

# ----------------------------------------------------------------------------- train steps


def unpack(data):
    """``(lr, hr)`` of a training batch; a ValueError for anything else."""
    if isinstance(data, dict) or not isinstance(data, (tuple, list)) or len(data) < 2:
        raise ValueError("MSRGAN trains on (lr, hr) batches; got a batch that is not an (lr, hr) pair")
    return data[0], data[1]


def values(variables):
    """The current values of ``variables`` (backend tensors)."""
    return [v.value for v in variables]


def assign(variables, new_values) -> None:
    for v, x in zip(variables, new_values):
        v.assign(x)


def generator_objective(model, lr, hr, constants):
    """``model.generator_objective`` on the live variables; D's and the extractor's via ``constants``."""
    v = model.network_variables
    return model.generator_objective(values(v("g_tv")), values(v("g_ntv")), constants(v("d_tv")),
                                     constants(v("d_ntv")), constants(v("e_ntv")), lr, hr)


def update_ema(model) -> None:
    """Assigns the EMA of the generator's weights after a generator update (when the model keeps one)."""
    if not model.ema_weights:
        return
    new, count = model.ema_update(values(model.ema_weights), model.ema_count.value,
                                  values(model.network_variables("g_tv")))
    assign(model.ema_weights, new)
    model.ema_count.assign(count)


def sync_state(model) -> None:
    """Nothing to do: the train step updates the variables in place."""


# ----------------------------------------------------------------------------- data parallel


def check_multi_host(coordinator, num_processes, process_id) -> bool:
    """Whether a multi-process set-up is asked for; a ValueError when only part of it is given, or when
    ``process_id`` does not fit ``num_processes``."""
    multi = {"--coordinator": coordinator, "--num-processes": num_processes, "--process-id": process_id}
    if all(v is None for v in multi.values()):
        return False
    if any(v is None for v in multi.values()):
        given = ", ".join(f"{k} {v}" for k, v in multi.items() if v is not None)
        missing = ", ".join(k for k, v in multi.items() if v is None)
        raise ValueError(f"several processes need --coordinator, --num-processes and --process-id together; "
                         f"got {given} without {missing}")
    check_process_id(num_processes, process_id)
    return True


def check_process_id(num_processes, process_id) -> None:
    """A ValueError naming both values unless ``0 <= process_id < num_processes``."""
    if int(num_processes) < 1 or not 0 <= int(process_id) < int(num_processes):
        raise ValueError(f"--process-id {process_id} does not fit --num-processes {num_processes}: process ids run "
                         f"from 0 to {int(num_processes) - 1}")


def check_agrees(flag: str, value, source: str, expected) -> None:
    """A ValueError naming both values when a flag given contradicts what the launcher set."""
    if value is not None and str(value) != str(expected):
        raise ValueError(f"{flag} {value} does not match {source}={expected} set by the launcher; drop the flag or "
                         "make them agree")


# ----------------------------------------------------------------------------- inference


def eager_inference(fn):
    """``fn`` as it is."""
    return fn


def block_until_ready(y) -> None:
    """Nothing to wait for: results are computed before they are returned."""


def check_inference_layout(data_format: str, jit: bool) -> None:
    """Every layout runs, compiled or not."""


# ----------------------------------------------------------------------------- layers


def conv_kernel_initializer(initializer, data_format: str):
    """The initializer itself: Keras's kernel layout is the one this backend's convolution reads."""
    return initializer


def conv2d(inputs, kernel, *, strides, padding, dilation_rate, data_format, groups=1, bias=None):
    """``keras.layers.Conv2D``'s own convolution (``ops.conv``; ``groups`` follows from the kernel), then its bias."""
    outputs = ops.conv(inputs, kernel, strides=list(strides), padding=padding, dilation_rate=dilation_rate,
                       data_format=data_format)
    return add_bias(outputs, bias, data_format)


def add_bias(outputs, bias, data_format: str):
    """``outputs`` plus a per-channel ``bias`` (None: nothing), as ``keras.layers.Conv2D`` adds it."""
    if bias is None:
        return outputs
    rank = len(outputs.shape) - 2
    shape = (1,) * (rank + 1) + (-1,) if data_format == "channels_last" else (1, -1) + (1,) * rank
    return ops.add(outputs, ops.reshape(bias, shape))


def max_pool2d(inputs, *, pool_size, strides, padding, data_format):
    """``keras.layers.MaxPooling2D``'s own pooling (``ops.max_pool``)."""
    return ops.max_pool(inputs, pool_size=pool_size, strides=strides, padding=padding, data_format=data_format)


def batch_norm(inputs, gamma, beta, moving_mean, moving_variance, *, epsilon, training):
    """``keras.layers.BatchNormalization``'s own computation over the last axis (no mask, no renorm).

    Returns:
        ``(outputs, mean, variance)``: in training, the batch's mean and (biased) variance, which the
        layer folds into its moving statistics; otherwise the moving ones, as given.
    """
    if training:
        mean, variance = ops.moments(inputs, axes=list(range(len(inputs.shape) - 1)))
    else:
        mean, variance = moving_mean, moving_variance
    outputs = ops.batch_normalization(inputs, mean, variance, axis=-1, offset=beta, scale=gamma, epsilon=epsilon)
    return outputs, mean, variance


__all__ = ["add_bias", "assign", "batch_norm", "block_until_ready", "check_agrees", "check_inference_layout", "check_multi_host",
           "check_process_id", "conv2d", "conv_kernel_initializer", "eager_inference", "generator_objective",
           "max_pool2d", "sync_state", "unpack", "update_ema", "values"]
