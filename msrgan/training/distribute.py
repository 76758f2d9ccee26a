"""Data-parallel training through ``keras.distribution`` (the distributed engine Keras ships).

``keras.distribution.DataParallel`` replicates every variable on each device of a one-axis mesh
and splits each batch along that axis; XLA (GSPMD) inserts the gradient all-reduce. It needs no
change to the model or the train step: call ``enable_data_parallel()`` *before* the networks are
built, then train as usual with a global batch size divisible by the device count.

Backends: released Keras implements ``keras.distribution`` for JAX only. On the TensorFlow and
PyTorch backends ``enable_data_parallel`` raises a ValueError; use one device there (or the
backend's own tools outside msrgan, e.g. ``tf.distribute`` / ``torch.distributed``, which msrgan
does not wire up).

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


def enable_data_parallel(devices=None, *, coordinator: str | None = None, num_processes: int | None = None,
                         process_id: int | None = None) -> "keras.distribution.DataParallel":
    """Sets a global ``keras.distribution.DataParallel`` over ``devices`` (default: all).

    Args:
        devices: Device names (``keras.distribution.list_devices()`` by default).
        coordinator, num_processes, process_id: Multi-host set-up passed to
            ``keras.distribution.initialize`` (all or none).

    Returns:
        The distribution now in effect.

    Raises:
        ValueError: On a backend other than JAX, or with an incomplete multi-host set-up.
    """
    backend = keras.backend.backend()
    if backend != "jax":
        raise ValueError(
            f"--distribute data-parallel needs KERAS_BACKEND=jax (keras.distribution is implemented for JAX "
            f"only in released Keras); the current backend is {backend!r}"
        )
    multi = (coordinator, num_processes, process_id)
    if any(v is not None for v in multi):
        if any(v is None for v in multi):
            raise ValueError("multi-host training needs coordinator, num_processes and process_id together")
        keras.distribution.initialize(coordinator, int(num_processes), int(process_id))
    devices = list(devices) if devices is not None else keras.distribution.list_devices()
    distribution = keras.distribution.DataParallel(devices=devices)
    keras.distribution.set_distribution(distribution)
    return distribution


def check_global_batch(batch_size: int, distribution=None) -> None:
    """Raises a ValueError unless ``batch_size`` splits evenly over the distribution's devices."""
    distribution = distribution or keras.distribution.distribution()
    if distribution is None:
        return
    n = int(distribution.device_mesh.devices.size)
    if batch_size % n:
        raise ValueError(f"batch size {batch_size} does not split over {n} devices; use a multiple of {n}")
