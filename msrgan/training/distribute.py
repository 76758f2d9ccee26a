"""Data-parallel training on every backend, each with the engine it ships.

``enable_data_parallel()`` sets the running backend's engine up (``msrgan.backends.<name>``'s
``enable_data_parallel``) and returns a :class:`DataParallel`: how many devices hold a replica of
the networks, which process this is, and the few things the training loop asks of the engine.

=========== ========================================= ===========================================
backend     engine                                    launched as
=========== ========================================= ===========================================
JAX         ``keras.distribution.DataParallel``       one process per host (``--coordinator``,
            (XLA's GSPMD inserts the all-reduce)      ``--num-processes``, ``--process-id``)
TensorFlow  ``tf.distribute.MirroredStrategy`` (one   one process per host (``TF_CONFIG``, or the
            host), ``MultiWorkerMirroredStrategy``    three flags)
            (several)
PyTorch     ``torch.distributed`` (gloo on CPUs, nccl ``torchrun``: one process per device
            on GPUs), DDP semantics                   (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``)
=========== ========================================= ===========================================

The contract, the same on every backend:

- ``--batch-size`` is the *global* batch, a multiple of :attr:`DataParallel.devices`; batch ``k``
  of the run is the same function of the seed and ``k`` as on one device, and each device trains on
  its own rows of it (:meth:`DataParallel.local_rows`: every process draws the whole global batch
  and keeps its rows, so a run's batches do not depend on the device count).
- Gradients are averaged over the devices before each optimizer update, so N data-parallel steps
  equal N steps on one device with the same global batch, up to float32 rounding, for networks
  without BatchNorm. BatchNorm normalizes by the statistics of each device's rows on TensorFlow and
  PyTorch (what ``MirroredStrategy`` and DDP do); its moving statistics are averaged over the devices
  after each step. On JAX the compiled program is the single-device one, global batch statistics
  included.
- Every process runs the same program (validation too); only the chief (process 0) writes:
  checkpoints, logs, grids and the trained networks. Checkpoints are written atomically, so a worker
  that dies leaves the last complete checkpoint usable; it resumes on any number of devices.
- The networks start from the same weights everywhere: the seed, then the chief's values broadcast
  (after a ``--resume``, which only the chief reads).

CPU checks: JAX ``XLA_FLAGS=--xla_force_host_platform_device_count=4``, and two processes with
``--coordinator localhost:PORT``; TensorFlow two logical CPUs (``tf.config.set_logical_device_configuration``)
and two worker processes; PyTorch ``torchrun --nproc_per_node 2`` on gloo (``tests/test_distribute.py``).
"""

from __future__ import annotations

import contextlib
import os

from msrgan import backends


class DataParallel:
    """A data-parallel set-up, whatever the engine (each backend module returns a subclass).

    Attributes:
        engine: The engine's name (``"keras.distribution.DataParallel"``, ``"tf.distribute.MirroredStrategy"``, ...).
        devices: Devices holding a replica, over every process (the global batch's divisor).
        num_processes, process_id: This process among those of the run (``process_id`` 0 is the chief).
        handle: The engine's own object (a Keras distribution, a ``tf.distribute`` strategy), or None.
        compiles_step: Whether the train step may be XLA-compiled / ``torch.compile``d under this engine.
    """

    engine = "none"
    compiles_step = True

    def __init__(self, devices: int, *, num_processes: int = 1, process_id: int = 0, handle=None):
        self.devices = int(devices)
        self.num_processes = int(num_processes)
        self.process_id = int(process_id)
        self.handle = handle

    @property
    def is_chief(self) -> bool:
        """Whether this process writes the run's files (process 0)."""
        return self.process_id == 0

    def scope(self):
        """Where the networks and optimizers are made (a ``tf.distribute`` strategy's scope)."""
        return contextlib.nullcontext()

    def check_batch(self, batch_size: int) -> None:
        """A ValueError naming both numbers unless ``batch_size`` splits evenly over the devices."""
        check_global_batch(batch_size, self)

    def local_rows(self, batch_size: int) -> slice:
        """The rows of each global batch this process feeds to the engine: its block of ``batch_size /
        num_processes`` rows (the engine splits them further over the process's devices)."""
        n = int(batch_size) // self.num_processes
        return slice(self.process_id * n, (self.process_id + 1) * n)

    def broadcast(self, variables) -> None:
        """Gives ``variables`` the chief's values in every process (nothing to do in one process)."""

    def barrier(self) -> None:
        """Waits until every process has reached this point."""

    def close(self) -> None:
        """Undoes the set-up (the global distribution, the process group)."""

    def describe(self) -> dict:
        """What the run records in ``training.json``."""
        return {"engine": self.engine, "devices": self.devices, "processes": self.num_processes}

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(engine={self.engine!r}, devices={self.devices}, "
                f"process {self.process_id} of {self.num_processes})")


def enable_data_parallel(devices=None, *, coordinator: str | None = None, num_processes: int | None = None,
                         process_id: int | None = None) -> DataParallel:
    """Sets data-parallel training up with the running backend's engine (see the module docstring).

    Call it before the networks are built, and build them in ``plan.scope()``.

    Args:
        devices: JAX and TensorFlow: device names (default: every GPU, else every CPU device).
            PyTorch runs one process per device and takes none.
        coordinator, num_processes, process_id: Several processes (hosts): the address of process 0,
            their number and this one's index. TensorFlow also reads ``TF_CONFIG`` and PyTorch
            ``torchrun``'s environment, which the flags, when given, must agree with.

    Returns:
        The :class:`DataParallel` now in effect.

    Raises:
        ValueError: naming the values that do not fit (an incomplete multi-process set-up, flags
            that disagree with the launcher's environment, devices a backend does not take).
    """
    return backends.current().enable_data_parallel(devices, coordinator=coordinator, num_processes=num_processes,
                                                   process_id=process_id)


def check_global_batch(batch_size: int, distribution=None) -> None:
    """Raises a ValueError unless ``batch_size`` splits evenly over the devices.

    ``distribution`` is a :class:`DataParallel`, a ``keras.distribution`` distribution, or None
    (the global Keras distribution, when one is set).
    """
    if distribution is None:
        import keras

        distribution = keras.distribution.distribution()
        if distribution is None:
            return
    n = distribution.devices if isinstance(distribution, DataParallel) else int(distribution.device_mesh.devices.size)
    if int(batch_size) % n:
        raise ValueError(f"batch size {batch_size} does not split over {n} devices; use a multiple of {n}")


def launched_processes(environ=None) -> tuple[int, str] | None:
    """``(count, where)`` when a launcher started this process as one of several (``torchrun``'s
    ``WORLD_SIZE``, ``TF_CONFIG``'s workers), else None."""
    import json

    env = os.environ if environ is None else environ
    if int(env.get("WORLD_SIZE", "1") or 1) > 1:
        return int(env["WORLD_SIZE"]), f"torchrun (WORLD_SIZE={env['WORLD_SIZE']}, RANK={env.get('RANK')})"
    if env.get("TF_CONFIG"):
        try:
            config = json.loads(env["TF_CONFIG"])
            cluster = config.get("cluster", {})
            n = sum(len(cluster.get(k, [])) for k in ("chief", "worker"))
        except (ValueError, AttributeError, TypeError):
            return None
        if n > 1:
            return n, f"TF_CONFIG ({n} workers)"
    return None


def check_single_process(environ=None) -> None:
    """A ValueError when a launcher started several processes but the run is not data-parallel:
    each would train alone and write the same OUT."""
    launched = launched_processes(environ)
    if launched:
        raise ValueError(f"this process is one of {launched[0]} started by {launched[1]} but --distribute is none: "
                         "each would train alone and write the same --out; add --distribute data-parallel")


__all__ = ["DataParallel", "check_global_batch", "check_single_process", "enable_data_parallel",
           "launched_processes"]
