"""``MSRGAN``: the generator, the discriminator and the frozen content extractor as one Keras model.

One ``keras.Model`` subclass trains on TensorFlow, PyTorch and JAX with ``compile(...)`` and
``fit(...)``. Its loss math is written once, in ``keras.ops``, as two *stateless* objectives::

    generator_objective(g_trainable, g_non_trainable, d_trainable, d_non_trainable, e_non_trainable, lr, hr)
    discriminator_objective(d_trainable, d_non_trainable, sr, hr)

(values in, loss and updated non-trainable values out, through ``Layer.stateless_call``). The
per-backend ``train_step``s (``msrgan.backends.<name>.train_step``) only differentiate them (TF
``GradientTape``; torch ``backward``; JAX ``jax.value_and_grad``) and apply the gradients with
each network's own optimizer.

One training step, in the order of BasicSR's SRGAN:

1. generator update: ``sr = G(lr)``; loss ``alpha * MSE(sr, hr) + beta * content(sr, hr) +
   gamma * adversarial(D(sr))``; only G's weights (and G's BatchNorm statistics) change. The
   discriminator is run in training mode here, but its BatchNorm statistics are discarded;
2. discriminator update on ``hr`` and the (detached) ``sr`` of step 1; only D changes;
3. optional exponential moving average (EMA) of G's trainable weights.

The phase (``set_phase``) chooses the parts: ``"pretrain"`` (step 1 with the MSE alone: the
SRResNet pre-training), ``"gan"`` (steps 1-3, full loss), ``"generator"`` (step 1, full loss, D
frozen) and ``"discriminator"`` (step 2 alone, G frozen: a discriminator warm-up). The
extractor is never trained. The step count is ``model.optimizer.iterations`` (an
``OptimizerGroup`` holding every optimizer, so Keras and the checkpoints see all their state).

Example:
    >>> import numpy as np, keras
    >>> from msrgan.models import Generator, Discriminator
    >>> gan = MSRGAN(Generator(num_blocks=1, filters=8, channels=1, scale=2),
    ...              Discriminator(channels=1, filters=4, dense_units=8))
    >>> gan.compile(keras.optimizers.Adam(1e-4), keras.optimizers.Adam(1e-3), beta=0.0)
    >>> gan.set_phase("gan")
    >>> lr, hr = np.zeros((2, 8, 8, 1), "float32"), np.zeros((2, 16, 16, 1), "float32")
    >>> sorted(gan.fit(lr, hr, epochs=1, batch_size=2, verbose=0).history)
    ['adversarial', 'content', 'd_loss', 'g_loss', 'mse', 'psnr']
"""

from __future__ import annotations

from typing import Sequence

import keras
from keras import ops

from msrgan import backends
from msrgan import losses as L
from msrgan.training.phases import D_PHASES, PHASES

METRIC_NAMES: tuple[str, ...] = ("g_loss", "d_loss", "mse", "content", "adversarial", "psnr")


def _group_source(key: str, tv, ntv, ov):
    """The flat list a variable group of ``MSRGAN._index_variables`` lives in."""
    if key.endswith("_ov") or key == "step":
        return ov
    return tv if key.endswith("_tv") else ntv


class OptimizerGroup(keras.optimizers.Optimizer):
    """Several optimizers seen by Keras's trainers as one ``model.optimizer``.

    Its ``variables`` are its own step counter (``iterations``: training steps of the MSRGAN)
    followed by every member's variables, so the JAX trainer carries all of them in its state
    and a checkpoint holds all of them. Members are applied by ``MSRGAN``'s train steps, each
    to its own network; the group itself is never applied.

    Args:
        optimizers: Member optimizers; each must be a distinct instance.
    """

    def __init__(self, optimizers, name: str = "msrgan_optimizers"):
        super().__init__(learning_rate=0.0, name=name)
        members = [o for o in optimizers if o is not None]
        if len({id(o) for o in members}) != len(members):
            raise ValueError("each network and phase needs its own optimizer instance")
        self.members = members

    @property
    def variables(self):
        out = list(self._variables)
        for opt in self.members:
            out.extend(opt.variables)
        return out

    def apply(self, grads, trainable_variables=None):
        raise NotImplementedError("an OptimizerGroup is not applied; its members are")


class MSRGAN(keras.Model):
    """SRGAN/mSRGAN training model: generator, discriminator and a frozen content extractor.

    ``call(lr)`` returns the generator's output, so ``predict`` super-resolves. Train with
    ``compile`` then ``fit`` on ``(lr, hr)`` batches (float32 in [0, 1], ``hr`` ``scale`` times
    larger), or with ``msrgan.training.pipeline.train_msrgan`` (both phases, checkpoints, resume).

    Args:
        generator: A ``msrgan.models.Generator``.
        discriminator: A ``msrgan.models.Discriminator``, or None (no adversarial term; only the
            ``"pretrain"`` and ``"generator"`` phases).
        extractor: A ``msrgan.models.FeatureExtractor`` for the content loss, or None. It is
            frozen (``trainable = False``) and always runs in inference mode.
        layer_weights: Per-layer weights of the content loss (default 1.0 per extractor layer).
        criterion: Content distance, ``"l2"`` or ``"l1"``.
        ema_decay: Keep an exponential moving average of the generator's weights with this
            decay (e.g. 0.999), or None. The decay is warmed up as ``min(decay, (1 + n) / (10 + n))``
            over the ``n`` generator updates so far; see ``ema_generator()``.

    Example:
        >>> from msrgan.models import Generator
        >>> gan = MSRGAN(Generator(num_blocks=1, filters=8, channels=1, scale=2))
        >>> gan.compile(keras.optimizers.Adam(1e-3))
        >>> gan.phase
        'pretrain'
    """

    def __init__(self, generator, discriminator=None, extractor=None, *, layer_weights: Sequence[float] | None = None,
                 criterion: str = "l2", ema_decay: float | None = None, name: str = "msrgan", **kwargs):
        super().__init__(name=name, **kwargs)
        if criterion not in L.CRITERIA:
            raise ValueError(f"criterion must be one of {L.CRITERIA}, got {criterion!r}")
        if ema_decay is not None and not 0.0 < float(ema_decay) < 1.0:
            raise ValueError(f"ema_decay must be in (0, 1) or None, got {ema_decay!r}")
        self.generator = generator
        self.discriminator = discriminator
        self.extractor = extractor
        if extractor is not None:
            extractor.trainable = False
            n = len(extractor.layer_names)
            if layer_weights is not None and len(layer_weights) != n:
                raise ValueError(f"layer_weights has {len(layer_weights)} value(s) but the extractor has {n} "
                                 f"layer(s) {list(extractor.layer_names)}")
            self.layer_weights = [1.0] * n if layer_weights is None else [float(w) for w in layer_weights]
        else:
            self.layer_weights = []
        self.criterion = criterion
        self.ema_decay = None if ema_decay is None else float(ema_decay)
        self.phase = "pretrain"
        self.trackers = [keras.metrics.Mean(name=n) for n in METRIC_NAMES]
        self.ema_weights: list = []
        self.ema_count = None
        self.g_optimizer = self.d_optimizer = self.pretrain_optimizer = None

    # ------------------------------------------------------------------ set-up

    def compile(self, g_optimizer=None, d_optimizer=None, *, pretrain_optimizer=None, alpha: float = 1.0,
                beta: float | None = None, gamma: float | None = None, adversarial: str = "lsgan", jit_compile="auto",
                loss_scale: float | None = None, sample_shape: Sequence[int] | None = None, **kwargs):
        """Sets the optimizers and loss weights and builds every network and variable.

        Args:
            g_optimizer: Generator optimizer (default ``Adam(1e-4)``, the seed's).
            d_optimizer: Discriminator optimizer (default ``Adam(1e-3)``, the seed's).
            pretrain_optimizer: The generator's optimizer in the ``"pretrain"`` phase, or None
                to use ``g_optimizer`` there too. A separate one lets phase 2 start with fresh
                Adam moments (as SRGAN starts from a trained SRResNet): moments fitted to the
                small MSE gradients of a converged phase 1 turn the first content/adversarial
                gradients into steps many times the learning rate.
            alpha, beta, gamma: Weights of the MSE, content and adversarial terms (means); None
                takes ``msrgan.losses.LossWeights()``'s. ``beta`` is ignored without an
                extractor and ``gamma`` without a discriminator.
            adversarial: ``"vanilla"``, ``"lsgan"`` (the seed's) or ``"hinge"``.
            jit_compile: Passed to ``keras.Model.compile`` (XLA on TF/JAX; ``torch.compile``).
            loss_scale: Static loss-scale factor for float16 mixed precision (e.g. 1024), or None.
            sample_shape: ``(h, w)`` of low-resolution inputs used to build the networks
                (default the generator's example shape).
        """
        defaults = L.LossWeights()
        self.alpha = float(alpha)
        self.beta = float(defaults.beta if beta is None else beta) if self.extractor is not None else 0.0
        self.gamma = float(defaults.gamma if gamma is None else gamma) if self.discriminator is not None else 0.0
        self.adversarial = L.check_adversarial(adversarial)
        self.g_optimizer = g_optimizer or keras.optimizers.Adam(1e-4)
        self.d_optimizer = (d_optimizer or keras.optimizers.Adam(1e-3)) if self.discriminator is not None else None
        self.pretrain_optimizer = pretrain_optimizer
        group = OptimizerGroup([self.g_optimizer, self.d_optimizer, self.pretrain_optimizer])
        for opt in group.members:
            if loss_scale is not None:
                opt.loss_scale_factor = float(loss_scale)
        self._build_networks(sample_shape)
        super().compile(optimizer=group, jit_compile=jit_compile, auto_scale_loss=False, **kwargs)
        group.build([])
        for opt in (self.g_optimizer, self.pretrain_optimizer):
            if opt is not None:
                opt.build(self.generator.trainable_variables)
        if self.d_optimizer is not None:
            self.d_optimizer.build(self.discriminator.trainable_variables)
        self._index_variables()
        self.train_function = None

    def _build_networks(self, sample_shape):
        g = self.generator
        if sample_shape is None:
            shape = tuple(g.example_input_shape())
        else:
            shape = (1, int(sample_shape[0]), int(sample_shape[1]), g.channels)
        lr = ops.zeros(shape)
        sr = g(lr, training=False)
        if self.discriminator is not None:
            if self.discriminator.channels != g.channels:
                raise ValueError(f"the discriminator takes {self.discriminator.channels} channel(s), "
                                 f"the generator {g.channels}")
            self.discriminator(sr, training=False)
        if self.extractor is not None:
            if getattr(self.extractor, "channels", g.channels) != g.channels:
                raise ValueError(f"the content extractor takes {self.extractor.channels} channel(s), "
                                 f"the generator {g.channels}")
            self.extractor(sr, training=False)
            self.extractor.trainable = False
        if self.ema_decay is not None and not self.ema_weights:
            for v in g.trainable_variables:
                ema = self.add_weight(shape=v.shape, initializer="zeros", trainable=False,
                                      name="ema_" + v.path.replace("/", "_"), autocast=False)
                ema.assign(ops.copy(v.value))  # a copy: JAX must not see one buffer twice
                self.ema_weights.append(ema)
            self.ema_count = self.add_weight(shape=(), initializer="zeros", trainable=False, name="ema_count",
                                             autocast=False)
        self.built = True

    def _index_variables(self):
        """Positions of each network's variables in the model's and the optimizer's flat lists."""
        def positions(flat, part):
            where = {id(v): i for i, v in enumerate(flat)}
            return [where[id(v)] for v in part]

        tv, ntv, ov = self.trainable_variables, self.non_trainable_variables, self.optimizer.variables
        d, e = self.discriminator, self.extractor
        # Each network's variables, listed once: Keras walks the layer tree on every access.
        self._network_variables = {
            "g_tv": list(self.generator.trainable_variables),
            "g_ntv": list(self.generator.non_trainable_variables),
            "d_tv": list(d.trainable_variables) if d is not None else [],
            "d_ntv": list(d.non_trainable_variables) if d is not None else [],
            "e_ntv": list(e.variables) if e is not None else [],
        }
        self._idx = {
            "g_tv": positions(tv, self.generator.trainable_variables),
            "g_ntv": positions(ntv, self.generator.non_trainable_variables),
            "d_tv": positions(tv, d.trainable_variables) if d is not None else [],
            "d_ntv": positions(ntv, d.non_trainable_variables) if d is not None else [],
            "e_ntv": positions(ntv, self.extractor.variables) if self.extractor is not None else [],
            "ema": positions(ntv, self.ema_weights),
            "ema_count": positions(ntv, [self.ema_count]) if self.ema_count is not None else [],
            "g_ov": positions(ov, self.g_optimizer.variables),
            "p_ov": positions(ov, self.pretrain_optimizer.variables) if self.pretrain_optimizer is not None else [],
            "d_ov": positions(ov, self.d_optimizer.variables) if self.d_optimizer is not None else [],
            "step": positions(ov, [self.optimizer.iterations]),
        }
        covered = len(self._idx["g_tv"]) + len(self._idx["d_tv"])
        if covered != len(tv):
            raise ValueError(f"{len(tv) - covered} trainable variable(s) belong to neither the generator nor the "
                             "discriminator; freeze them or make them part of one network")

    def network_variables(self, key: str) -> list:
        """The variables of one network group (``"g_tv"``, ``"g_ntv"``, ``"d_tv"``, ``"d_ntv"``, ``"e_ntv"``),
        as listed at ``compile``."""
        return self._network_variables[key]

    def set_phase(self, phase: str) -> None:
        """Chooses what ``train_step`` updates: ``"pretrain"``, ``"gan"``, ``"generator"`` or ``"discriminator"``."""
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}, got {phase!r}")
        if phase in D_PHASES and self.discriminator is None:
            raise ValueError(f"phase {phase!r} needs a discriminator; this MSRGAN has none")
        if phase != self.phase:
            self.phase = phase
            self.train_function = None

    def generator_optimizer(self):
        """``(optimizer, key)`` updating the generator in the current phase (key of its state slice)."""
        if self.phase == "pretrain" and self.pretrain_optimizer is not None:
            return self.pretrain_optimizer, "p_ov"
        return self.g_optimizer, "g_ov"

    @property
    def metrics(self):
        return list(self.trackers)

    @property
    def step(self) -> int:
        """Training steps taken so far (the optimizer container's ``iterations``)."""
        return int(ops.convert_to_numpy(self.optimizer.iterations))

    def call(self, x, training=False):
        return self.generator(x, training=training)

    def train_step(self, *args):
        return backends.current().train_step(self, *args)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Called by Keras's TensorFlow trainer alone, under a tf.distribute strategy, to build the model
        # from a first batch (reduced over the replicas, which MultiWorkerMirroredStrategy refuses for an
        # (lr, hr) pair). compile() has built every network and optimizer: no batch is needed.
        if getattr(self, "_distribute_strategy", None) is not None:
            with self.distribute_strategy.scope():
                self._symbolic_build(data_batch=())

    def test_step(self, *args):
        raise NotImplementedError("MSRGAN.evaluate is not supported; use msrgan.training.evaluate_generator "
                                  "or the ValidationMonitor callback")

    # -------------------------------------------------------------- loss math

    def views(self, tv, ntv, ov) -> dict:
        """Slices the flat variable-value lists into named groups (see ``_index_variables``)."""
        return {key: [_group_source(key, tv, ntv, ov)[i] for i in idx] for key, idx in self._idx.items()}

    def merge(self, tv, ntv, ov, groups: dict):
        """The inverse of ``views``: flat lists with the given groups replaced."""
        tv, ntv, ov = list(tv), list(ntv), list(ov)
        for key, values in groups.items():
            dst = _group_source(key, tv, ntv, ov)
            for i, v in zip(self._idx[key], values):
                dst[i] = v
        return tv, ntv, ov

    def uses_content(self) -> bool:
        return self.extractor is not None and self.beta != 0.0 and self.phase != "pretrain"

    def uses_adversarial(self) -> bool:
        return self.discriminator is not None and self.gamma != 0.0 and self.phase != "pretrain"

    def content_loss(self, e_ntv, sr, hr):
        """Content loss of the frozen extractor, computed statelessly from its variable values."""
        e_tv = []
        f_sr, _ = self.extractor.stateless_call(e_tv, e_ntv, sr, training=False)
        f_hr, _ = self.extractor.stateless_call(e_tv, e_ntv, ops.stop_gradient(hr), training=False)
        return L.feature_distance(f_sr, f_hr, self.layer_weights, self.criterion)

    def generator_objective(self, g_tv, g_ntv, d_tv, d_ntv, e_ntv, lr, hr):
        """The generator loss of the current phase.

        Returns:
            ``(loss, (sr, new_g_ntv, terms))`` where ``sr`` is float32 and ``terms`` holds ``mse``,
            ``content`` and ``adversarial`` (0 where the phase leaves them out).
        """
        sr, g_ntv = self.generator.stateless_call(g_tv, g_ntv, lr, training=True)
        sr = ops.cast(sr, "float32")
        hr = ops.cast(hr, "float32")
        mse = L.pixel_mse(hr, sr)
        zero = ops.zeros((), "float32")
        content = self.content_loss(e_ntv, sr, hr) if self.uses_content() else zero
        if self.uses_adversarial():
            # D in training mode, as in its own update; its BatchNorm statistics are discarded.
            fake, _ = self.discriminator.stateless_call(d_tv, d_ntv, sr, training=True)
            adversarial = L.generator_adversarial_loss(fake, self.adversarial)
        else:
            adversarial = zero
        if self.phase == "pretrain":
            loss = mse
        else:
            loss = L.generator_loss(mse, content, adversarial, alpha=self.alpha, beta=self.beta, gamma=self.gamma)
            loss = ops.convert_to_tensor(loss, "float32")
        return loss, (sr, g_ntv, {"mse": mse, "content": content, "adversarial": adversarial})

    def discriminator_objective(self, d_tv, d_ntv, sr, hr):
        """The discriminator loss on real ``hr`` and generated ``sr`` (treated as a constant).

        Returns:
            ``(loss, new_d_ntv)``.
        """
        real, d_ntv = self.discriminator.stateless_call(d_tv, d_ntv, hr, training=True)
        fake, d_ntv = self.discriminator.stateless_call(d_tv, d_ntv, ops.stop_gradient(sr), training=True)
        return L.discriminator_loss(real, fake, self.adversarial), d_ntv

    def generate(self, g_tv, g_ntv, lr):
        """G's training-mode output without a weight update; its BatchNorm statistics are discarded."""
        sr, _ = self.generator.stateless_call(g_tv, g_ntv, lr, training=True)
        return ops.cast(sr, "float32")

    def ema_update(self, ema, count, g_tv):
        """New EMA values after a generator update (warm-up decay ``min(decay, (1 + n) / (10 + n))``)."""
        decay = ops.minimum(self.ema_decay, (1.0 + count) / (10.0 + count))
        new = [e * decay + ops.cast(w, e.dtype) * (1.0 - decay) for e, w in zip(ema, g_tv)]
        return new, count + 1.0

    def update_trackers(self, values: dict) -> dict:
        """Updates the Mean trackers with this step's values; returns their running results."""
        for m in self.trackers:
            m.update_state(values[m.name])
        return {m.name: m.result() for m in self.trackers}

    def step_values(self, g_loss, d_loss, terms, sr, hr) -> dict:
        zero = ops.zeros((), "float32")
        return {"g_loss": zero if g_loss is None else g_loss, "d_loss": zero if d_loss is None else d_loss,
                "mse": terms.get("mse", zero), "content": terms.get("content", zero),
                "adversarial": terms.get("adversarial", zero), "psnr": L.psnr(hr, sr)}

    # ---------------------------------------------------------------- exports

    def ema_generator(self):
        """A generator carrying the EMA weights (BatchNorm statistics from the live generator).

        The same (separate) model is returned on every call, refreshed with the current EMA
        values; without EMA this is the live generator itself.
        """
        if not self.ema_weights:
            return self.generator
        backends.current().sync_state(self)
        g = getattr(self, "_ema_export", None)
        if g is None:
            g = type(self.generator).from_config(self.generator.get_config())
            g(ops.zeros(self.generator.example_input_shape()), training=False)
            g.zoo_name = getattr(self.generator, "zoo_name", None)  # the saved config names its zoo entry
            object.__setattr__(self, "_ema_export", g)  # not tracked: not part of this model's state
        # Copies, not the same buffers: JAX deletes donated buffers.
        for dst, src in zip(g.trainable_variables, self.ema_weights):
            dst.assign(ops.copy(src.value))
        for dst, src in zip(g.non_trainable_variables, self.generator.non_trainable_variables):
            dst.assign(ops.copy(src.value))
        return g

    def checkpoint_variables(self) -> list:
        """Every variable a resumed run needs, in a fixed order: weights, EMA, optimizer state.

        The frozen extractor's weights are left out (they come from the extractor's own source).
        """
        frozen = {id(v) for v in self.extractor.variables} if self.extractor is not None else set()
        own = [v for v in list(self.trainable_variables) + list(self.non_trainable_variables) if id(v) not in frozen]
        return own + list(self.optimizer.variables)
