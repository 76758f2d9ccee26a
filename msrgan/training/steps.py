"""The thin per-backend ``train_step``s of ``MSRGAN``, picked by ``keras.backend.backend()``.

Each one differentiates the model's stateless objectives (``MSRGAN.generator_objective`` and
``MSRGAN.discriminator_objective``, written once in ``keras.ops``) with its backend's autodiff
and applies the gradients with the network's own optimizer:

- TensorFlow: ``tf.GradientTape`` and ``optimizer.apply``;
- PyTorch: ``zero_grad`` / ``loss.backward()`` and ``optimizer.apply`` under ``torch.no_grad()``;
- JAX: ``jax.value_and_grad`` and ``optimizer.stateless_apply`` on the ``(trainable,
  non_trainable, optimizer, metrics)`` state that Keras's JAX trainer passes in and expects back.

The structure (phase logic, order G then D, EMA, metrics) is the same in all three.
"""

from __future__ import annotations

import keras

from msrgan.training.phases import D_PHASES, G_PHASES


def train_step(model, *args):
    backend = keras.backend.backend()
    if backend == "jax":
        return jax_train_step(model, *args)
    if backend == "tensorflow":
        return tensorflow_train_step(model, *args)
    if backend == "torch":
        return torch_train_step(model, *args)
    raise ValueError(f"MSRGAN trains on the tensorflow, torch and jax backends, not {backend!r}")


def _unpack(data):
    if isinstance(data, dict) or not isinstance(data, (tuple, list)) or len(data) < 2:
        raise ValueError("MSRGAN trains on (lr, hr) batches; got a batch that is not an (lr, hr) pair")
    return data[0], data[1]


def _values(variables):
    return [v.value for v in variables]


def _generator_objective(model, lr, hr, constants):
    """``model.generator_objective`` on the live variables; D's and the extractor's via ``constants``."""
    g, d, e = model.generator, model.discriminator, model.extractor
    return model.generator_objective(
        _values(g.trainable_variables), _values(g.non_trainable_variables),
        constants(d.trainable_variables) if d is not None else [],
        constants(d.non_trainable_variables) if d is not None else [],
        constants(e.variables) if e is not None else [], lr, hr)


# ----------------------------------------------------------------------------- TensorFlow


def tensorflow_train_step(model, data):
    import tensorflow as tf

    lr, hr = _unpack(data)
    g, d = model.generator, model.discriminator
    g_loss = d_loss = None
    terms = {}
    if model.phase in G_PHASES:
        g_opt, _ = model.generator_optimizer()
        with tf.GradientTape() as tape:
            g_loss, (sr, g_ntv, terms) = _generator_objective(model, lr, hr, _values)
            scaled = g_opt.scale_loss(g_loss)
        grads = tape.gradient(scaled, g.trainable_variables)
        g_opt.apply(grads, g.trainable_variables)
        _assign(g.non_trainable_variables, g_ntv)
        _ema(model)
    else:
        sr = model.generate(_values(g.trainable_variables), _values(g.non_trainable_variables), lr)
    sr = tf.stop_gradient(sr)
    if model.phase in D_PHASES:
        with tf.GradientTape() as tape:
            d_loss, d_ntv = model.discriminator_objective(
                _values(d.trainable_variables), _values(d.non_trainable_variables), sr, hr)
            scaled = model.d_optimizer.scale_loss(d_loss)
        grads = tape.gradient(scaled, d.trainable_variables)
        model.d_optimizer.apply(grads, d.trainable_variables)
        _assign(d.non_trainable_variables, d_ntv)
    model.optimizer.iterations.assign_add(1)
    return model.update_trackers(model.step_values(g_loss, d_loss, terms, sr, hr))


# ----------------------------------------------------------------------------- PyTorch


def torch_train_step(model, data):
    import torch

    lr, hr = _unpack(data)
    g, d = model.generator, model.discriminator
    g_loss = d_loss = None
    terms = {}
    if model.phase in G_PHASES:
        g_opt, _ = model.generator_optimizer()
        model.zero_grad(set_to_none=True)
        # D's weights enter the G loss as constants (detached): autograd then computes no D
        # weight gradients in the G step, which the G update would throw away anyway.
        g_loss, (sr, g_ntv, terms) = _generator_objective(model, lr, hr, _detached)
        g_opt.scale_loss(g_loss).backward()
        grads = [v.value.grad for v in g.trainable_variables]
        with torch.no_grad():
            g_opt.apply(grads, g.trainable_variables)
            _assign(g.non_trainable_variables, g_ntv)
            _ema(model)
        g_loss = g_loss.detach()
        terms = {k: t.detach() for k, t in terms.items()}
    else:
        with torch.no_grad():
            sr = model.generate(_values(g.trainable_variables), _values(g.non_trainable_variables), lr)
    sr = sr.detach()
    if model.phase in D_PHASES:
        model.zero_grad(set_to_none=True)
        d_loss, d_ntv = model.discriminator_objective(
            _values(d.trainable_variables), _values(d.non_trainable_variables), sr, hr)
        model.d_optimizer.scale_loss(d_loss).backward()
        grads = [v.value.grad for v in d.trainable_variables]
        with torch.no_grad():
            model.d_optimizer.apply(grads, d.trainable_variables)
            _assign(d.non_trainable_variables, d_ntv)
        d_loss = d_loss.detach()
        model.zero_grad(set_to_none=True)
    with torch.no_grad():
        model.optimizer.iterations.assign_add(1)
        return model.update_trackers(model.step_values(g_loss, d_loss, terms, sr, hr))


def _detached(variables):
    return [v.value.detach() for v in variables]


def _assign(variables, values):
    for v, x in zip(variables, values):
        v.assign(x)


def _ema(model):
    if not model.ema_weights:
        return
    new, count = model.ema_update(_values(model.ema_weights), model.ema_count.value,
                                  _values(model.generator.trainable_variables))
    _assign(model.ema_weights, new)
    model.ema_count.assign(count)


# ----------------------------------------------------------------------------- JAX


def jax_train_step(model, state, data):
    import jax

    tv, ntv, ov, mv = state
    lr, hr = _unpack(data)
    v = model.views(tv, ntv, ov)
    groups = {}
    g_loss = d_loss = None
    terms = {}
    if model.phase in G_PHASES:
        g_opt, key = model.generator_optimizer()

        def g_fn(g_tv):
            loss, aux = model.generator_objective(g_tv, v["g_ntv"], v["d_tv"], v["d_ntv"], v["e_ntv"], lr, hr)
            return g_opt.scale_loss(loss), (loss, aux)

        (_, (g_loss, (sr, g_ntv, terms))), grads = jax.value_and_grad(g_fn, has_aux=True)(v["g_tv"])
        g_tv, g_ov = g_opt.stateless_apply(v[key], grads, v["g_tv"])
        groups.update({"g_tv": g_tv, "g_ntv": g_ntv, key: g_ov})
        if model.ema_weights:
            ema, count = model.ema_update(v["ema"], v["ema_count"][0], g_tv)
            groups.update(ema=ema, ema_count=[count])
    else:
        sr = model.generate(v["g_tv"], v["g_ntv"], lr)
    sr = jax.lax.stop_gradient(sr)
    if model.phase in D_PHASES:
        def d_fn(d_tv):
            loss, d_ntv = model.discriminator_objective(d_tv, v["d_ntv"], sr, hr)
            return model.d_optimizer.scale_loss(loss), (loss, d_ntv)

        (_, (d_loss, d_ntv)), grads = jax.value_and_grad(d_fn, has_aux=True)(v["d_tv"])
        d_tv, d_ov = model.d_optimizer.stateless_apply(v["d_ov"], grads, v["d_tv"])
        groups.update(d_tv=d_tv, d_ntv=d_ntv, d_ov=d_ov)
    groups["step"] = [v["step"][0] + 1]
    tv, ntv, ov = model.merge(tv, ntv, ov, groups)

    values = model.step_values(g_loss, d_loss, terms, sr, hr)
    with keras.StatelessScope(state_mapping=list(zip(model.metrics_variables, mv))) as scope:
        logs = model.update_trackers(values)
    mv = [scope.get_current_value(m) for m in model.metrics_variables]
    mv = [new if new is not None else m.value for new, m in zip(mv, model.metrics_variables)]
    return logs, (tv, ntv, ov, mv)


__all__ = ["train_step", "tensorflow_train_step", "torch_train_step", "jax_train_step"]
