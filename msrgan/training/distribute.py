"""Data-parallel training through ``keras.distribution`` (the distributed engine Keras ships).

``keras.distribution.DataParallel`` replicates every variable on each device of a one-axis mesh
and splits each batch along that axis; XLA (GSPMD) inserts the gradient all-reduce. It needs no
change to the model or the train step: call ``enable_data_parallel()`` *before* the networks are
built, then train as usual with a global batch size divisible by the device count.

Backends: each backend module's ``enable_data_parallel`` (``msrgan.backends.<name>``) sets up
that backend's engine. Released Keras implements ``keras.distribution`` for JAX only; on the
TensorFlow and PyTorch backends ``enable_data_parallel`` raises a ValueError; use one device there
(or the backend's own tools outside msrgan, e.g. ``tf.distribute`` / ``torch.distributed``, which
msrgan does not wire up yet).

Multi-GPU on one host: nothing to set, ``keras.distribution.list_devices()`` lists the GPUs.
Multi-host: start one process per host with the same command and call
``keras.distribution.initialize(job_addresses, num_processes, process_id)`` first (``msrgan
train --distribute data-parallel --coordinator HOST:PORT --num-processes N --process-id I``);
the global batch is then split over the devices of all hosts.

CPU check: ``XLA_FLAGS=--xla_force_host_platform_device_count=4 KERAS_BACKEND=jax`` gives four
virtual devices (see ``tests/test_distribute.py``).
"""

from __future__ import annotations

import keras

from msrgan import backends


def enable_data_parallel(devices=None, *, coordinator: str | None = None, num_processes: int | None = None,
                         process_id: int | None = None) -> "keras.distribution.DataParallel":
    """Sets a global ``keras.distribution.DataParallel`` over ``devices`` (default: all).

    The backend module's ``enable_data_parallel`` (``msrgan.backends``) does it with the backend's
    own engine.

    Args:
        devices: Device names (``keras.distribution.list_devices()`` by default).
        coordinator, num_processes, process_id: Multi-host set-up passed to
            ``keras.distribution.initialize`` (all or none).

    Returns:
        The distribution now in effect.

    Raises:
        ValueError: On a backend other than JAX, or with an incomplete multi-host set-up.
    """
    return backends.current().enable_data_parallel(devices, coordinator=coordinator, num_processes=num_processes,
                                                   process_id=process_id)


def check_global_batch(batch_size: int, distribution=None) -> None:
    """Raises a ValueError unless ``batch_size`` splits evenly over the distribution's devices."""
    distribution = distribution or keras.distribution.distribution()
    if distribution is None:
        return
    n = int(distribution.device_mesh.devices.size)
    if batch_size % n:
        raise ValueError(f"batch size {batch_size} does not split over {n} devices; use a multiple of {n}")
