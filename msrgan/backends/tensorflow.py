"""What msrgan does differently on the TensorFlow backend (the interface is in ``msrgan.backends``).

- The train step differentiates ``MSRGAN``'s objectives with ``tf.GradientTape`` and applies each
  network's optimizer with ``optimizer.apply``.
- ``--jit-compile auto`` compiles it with XLA (Keras's own ``"auto"`` leaves XLA off here), except
  where TensorFlow runs its oneDNN kernels (its default on recent Intel CPUs, ``TF_ENABLE_ONEDNN_OPTS``):
  there the plain graph is faster than XLA (:data:`JIT_COMPILE_AUTO`).
- Inference compiles with ``tf.function(jit_compile=True)`` (XLA), runs channels-last (TensorFlow's
  CPU kernels want NHWC, and its eager CPU convolution runs nothing else), and computes the
  generator's last 9x9 convolution to the image's few channels as stacked kernel rows
  (``msrgan.backends.convolution.stacked_rows_conv``), which TensorFlow's CPU convolution runs
  several times faster than the plain one.
- Layers use Keras's own convolution and pooling.
- Data-parallel training is a ``tf.distribute`` strategy: ``MirroredStrategy`` over one host's
  devices, ``MultiWorkerMirroredStrategy`` over several hosts (``TF_CONFIG``, or the
  ``--coordinator`` / ``--num-processes`` / ``--process-id`` flags, from which it is written).
  The networks and optimizers are made in its scope; ``fit`` splits each global batch over the
  replicas; each replica's loss is scaled by ``1 / replicas`` since the optimizer sums the
  replicas' gradients (Keras's own losses do the same), so the update is the global batch's mean
  gradient; BatchNorm's moving statistics are averaged over the replicas after each step. XLA
  cannot compile a step that spans devices, so the step runs as a plain ``tf.function`` there.

The measurements behind these choices are in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import tensorflow as tf

from msrgan.backends import common
from msrgan.backends.common import (  # Keras's own forms: nothing faster on TensorFlow
    batch_norm,
    block_until_ready,
    conv2d,
    conv_kernel_initializer,
    eager_inference,
    max_pool2d,
    sync_state,
)
from msrgan.training.distribute import DataParallel
from msrgan.training.phases import D_PHASES, G_PHASES


def _onednn_kernels_on() -> bool:
    """Whether TensorFlow runs its oneDNN CPU kernels in this process (False where it cannot say)."""
    try:
        from tensorflow.python.util import _pywrap_util_port

        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        return False


# XLA, unless TensorFlow's oneDNN kernels are on: with them (an Intel CPU with AVX-512) the GAN step ran
# 0.43 s as a plain graph against 0.49 s under XLA; without them (an AMD CPU with AVX2) XLA was about
# 1.2x faster than the plain graph (docs/benchmarks.md).
JIT_COMPILE_AUTO = not _onednn_kernels_on()
INFERENCE_DATA_FORMAT = "channels_last"
STACK_TAIL_ROWS = True
COMPILES_STATELESS_CALL = True

# ----------------------------------------------------------------------------- training


def train_step(model, data):
    """One ``MSRGAN`` step: ``tf.GradientTape`` over each objective, then ``optimizer.apply``."""
    lr, hr = common.unpack(data)
    g, d = model.generator, model.discriminator
    g_loss = d_loss = None
    terms = {}
    if model.phase in G_PHASES:
        g_opt, _ = model.generator_optimizer()
        with tf.GradientTape() as tape:
            g_loss, (sr, g_ntv, terms) = common.generator_objective(model, lr, hr, common.values)
            scaled = g_opt.scale_loss(_replica_share(g_loss))
        grads = tape.gradient(scaled, g.trainable_variables)
        g_opt.apply(grads, g.trainable_variables)
        common.assign(g.non_trainable_variables, _replica_mean(g_ntv))
        common.update_ema(model)
    else:
        sr = model.generate(common.values(g.trainable_variables), common.values(g.non_trainable_variables), lr)
    sr = tf.stop_gradient(sr)
    if model.phase in D_PHASES:
        with tf.GradientTape() as tape:
            d_loss, d_ntv = model.discriminator_objective(
                common.values(d.trainable_variables), common.values(d.non_trainable_variables), sr, hr)
            scaled = model.d_optimizer.scale_loss(_replica_share(d_loss))
        grads = tape.gradient(scaled, d.trainable_variables)
        model.d_optimizer.apply(grads, d.trainable_variables)
        common.assign(d.non_trainable_variables, _replica_mean(d_ntv))
    model.optimizer.iterations.assign_add(1)
    logs = model.update_trackers(model.step_values(g_loss, d_loss, terms, sr, hr))
    if _multi_worker():  # Keras reduces the logs over the workers along axis 0, which a scalar lacks
        logs = {k: tf.reshape(v, (1,)) for k, v in logs.items()}
    return logs


def _replica_share(loss):
    """This replica's share of the loss: the optimizer sums the replicas' gradients (``apply`` under a
    strategy all-reduces them), so each replica's mean loss is scaled by ``1 / replicas``."""
    n = tf.distribute.get_strategy().num_replicas_in_sync
    return loss if n == 1 else loss * (1.0 / n)


def _multi_worker() -> bool:
    """Whether the step runs under a ``MultiWorkerMirroredStrategy`` of several workers (Keras's own test)."""
    strategy = tf.distribute.get_strategy()
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and strategy.extended._in_multi_worker_mode()


def _replica_mean(values):
    """New non-trainable values (BatchNorm's moving statistics) averaged over the replicas, which each
    saw their own rows; the same values everywhere once assigned."""
    if not values or tf.distribute.get_strategy().num_replicas_in_sync == 1:
        return values
    values = list(values)
    floats = [i for i, x in enumerate(values) if x.dtype.is_floating]
    means = tf.distribute.get_replica_context().all_reduce("MEAN", [values[i] for i in floats])
    for i, x in zip(floats, means):
        values[i] = x
    return values


class StrategyDataParallel(DataParallel):
    """A ``tf.distribute`` strategy: ``fit`` splits each global batch over its replicas (over the
    workers too), so every process feeds the whole global batch."""

    def __init__(self, strategy, engine: str, *, num_processes: int = 1, process_id: int = 0):
        super().__init__(strategy.num_replicas_in_sync, num_processes=num_processes, process_id=process_id,
                         handle=strategy)
        self.engine = engine
        self.compiles_step = self.devices == 1  # XLA cannot compile a step over several devices

    def scope(self):
        return self.handle.scope()

    def local_rows(self, batch_size: int) -> slice:
        return slice(0, int(batch_size))

    def broadcast(self, variables) -> None:
        if self.num_processes == 1:  # a MirroredVariable is assigned on every device at once
            return
        variables = list(variables)
        chief = self.is_chief

        def chief_values():  # the sum of the chief's first replica's values and zeros elsewhere
            ctx = tf.distribute.get_replica_context()
            first = tf.equal(ctx.replica_id_in_sync_group, 0) if chief else tf.constant(False)
            own = [tf.where(first, v.value, tf.zeros_like(v.value)) for v in variables]
            return ctx.all_reduce("SUM", own)

        values = self.handle.experimental_local_results(self.handle.run(chief_values))[0]
        for v, x in zip(variables, values):
            v.assign(x)

    def barrier(self) -> None:
        if self.num_processes > 1:
            self.handle.run(lambda: tf.distribute.get_replica_context().all_reduce("SUM", tf.ones(())))


def enable_data_parallel(devices=None, *, coordinator=None, num_processes=None, process_id=None):
    """``MirroredStrategy`` over ``devices`` (default: every GPU, else every CPU device) on one host;
    ``MultiWorkerMirroredStrategy`` when ``TF_CONFIG`` or the flags name several workers."""
    import json
    import os

    workers, index = _cluster(coordinator, num_processes, process_id)
    if len(workers) <= 1:
        if devices is None:
            devices = [d.name for d in tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")]
        return StrategyDataParallel(tf.distribute.MirroredStrategy(list(devices)), "tf.distribute.MirroredStrategy")
    if devices is not None:
        raise ValueError("devices applies to one host; with several workers each uses all of its devices")
    if not os.environ.get("TF_CONFIG"):
        os.environ["TF_CONFIG"] = json.dumps({"cluster": {"worker": workers},
                                              "task": {"type": "worker", "index": index}})
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    return StrategyDataParallel(strategy, "tf.distribute.MultiWorkerMirroredStrategy", num_processes=len(workers),
                                process_id=index)


def _cluster(coordinator, num_processes, process_id) -> tuple[list[str], int]:
    """The workers' addresses and this process's index: from ``TF_CONFIG`` (which the flags, when
    given, must agree with), else from the flags (``--coordinator`` lists every worker's HOST:PORT,
    comma-separated, or gives one HOST:PORT: every worker on that host, at PORT, PORT + 1, ...)."""
    import json
    import os

    if os.environ.get("TF_CONFIG"):
        try:
            config = json.loads(os.environ["TF_CONFIG"])
            cluster, task = config.get("cluster", {}), config.get("task", {})
            workers = [str(a) for a in cluster.get("chief", [])] + [str(a) for a in cluster.get("worker", [])]
            index = int(task.get("index", 0)) + (len(cluster.get("chief", [])) if task.get("type") == "worker" else 0)
        except (ValueError, AttributeError, TypeError) as exc:
            raise ValueError(f"TF_CONFIG is not a cluster description ({exc}): {os.environ['TF_CONFIG']!r}") from None
        common.check_agrees("--num-processes", num_processes, "TF_CONFIG's worker count", len(workers))
        common.check_agrees("--process-id", process_id, "TF_CONFIG's task", index)
        if coordinator is not None and workers:
            common.check_agrees("--coordinator", coordinator, "TF_CONFIG's first worker",
                                ",".join(workers) if "," in coordinator else workers[0])
        return workers, index
    if not common.check_multi_host(coordinator, num_processes, process_id):
        return [], 0
    n = int(num_processes)
    workers = [a.strip() for a in str(coordinator).split(",") if a.strip()]
    if len(workers) == 1 and n > 1:
        host, _, port = workers[0].rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"--coordinator {coordinator}: HOST:PORT, or every worker's HOST:PORT comma-separated")
        workers = [f"{host}:{int(port) + i}" for i in range(n)]
    if len(workers) != n:
        raise ValueError(f"--coordinator lists {len(workers)} worker addresses but --num-processes is {n}")
    return workers, int(process_id)


# ----------------------------------------------------------------------------- inference


def compile_inference(fn):
    """``fn(params, x)`` as an XLA-compiled ``tf.function`` (one trace per input shape)."""
    return tf.function(fn, jit_compile=True, reduce_retracing=False)


def check_inference_layout(data_format: str, jit: bool) -> None:
    if data_format == "channels_first" and not jit:
        raise ValueError("data_format='channels_first' needs jit=True on the TensorFlow backend "
                         "(TensorFlow's eager CPU convolution only supports channels_last)")
