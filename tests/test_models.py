"""The Keras model family: shapes, configs, parameter counts, extractors, errors, cross-backend weights."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import zoo
from msrgan.models import (
    Discriminator,
    Generator,
    ImageNetVGG19Features,
    MiniVGG19,
    MiniVGG19Features,
)
from tests.helpers import other_backends, run_in_backend


def _np(x):
    import keras

    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("scale", [2, 4, 8])
def test_generator_output_shape(scale, channels):
    g = Generator(num_blocks=1, filters=8, channels=channels, scale=scale)
    x = np.random.default_rng(0).random((2, 12, 10, channels), dtype=np.float32)
    assert tuple(g(x).shape) == (2, 12 * scale, 10 * scale, channels)


@pytest.mark.parametrize("batch_norm", [True, False])
def test_generator_is_fully_convolutional(batch_norm):
    g = Generator(num_blocks=2, filters=8, channels=1, scale=2, batch_norm=batch_norm)
    for h, w in [(9, 17), (32, 8)]:
        assert tuple(g(np.zeros((1, h, w, 1), "float32")).shape) == (1, 2 * h, 2 * w, 1)
    has_bn = any("bn" in v.path for v in g.weights)
    assert has_bn == batch_norm


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_discriminator_accepts_patch_and_larger(channels):
    d = Discriminator(channels=channels, filters=4, dense_units=16)
    n_weights = None
    for size in (32, 48, 80):
        out = d(np.random.default_rng(size).random((2, size, size, channels), dtype=np.float32))
        assert tuple(out.shape) == (2, 1)
        n_weights = n_weights or d.count_params()
        assert d.count_params() == n_weights  # one set of weights for every size


def test_discriminator_structure_matches_srgan():
    d = Discriminator(channels=1)
    d(np.zeros((1, 16, 16, 1), "float32"))
    filters = [c.filters for c in d.convs]
    strides = [c.strides for c in d.convs]
    assert filters == [64, 64, 128, 128, 256, 256, 512, 512]
    assert strides == [1, 2, 1, 2, 1, 2, 1, 2]
    assert d.dense.units == 1024 and d.logit.units == 1


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_minivgg19_logits_and_taps(channels):
    m = MiniVGG19(channels=channels, width=0.125)
    x = np.zeros((2, 64, 64, channels), "float32")
    assert tuple(m(x).shape) == (2, 13)
    feats = m.features(x)
    expect = [(2, 64, 64, 8), (2, 32, 32, 16), (2, 16, 16, 32), (2, 8, 8, 64), (2, 4, 4, 64)]
    assert [tuple(f.shape) for f in feats] == expect
    n_convs = sum(len(b) for b in m.blocks)
    assert n_convs == 16


def test_paper_generator_parameter_count():
    g = zoo.create("msrgan-x4")
    g(np.zeros((1, 16, 16, 3), "float32"))
    # SRResNet (Ledig et al. 2017), counted layer by layer from the paper's description.
    f, c = 64, 3
    conv = lambda k, cin, cout: k * k * cin * cout + cout  # noqa: E731
    bn = 4 * f  # gamma, beta, moving mean, moving variance
    prelu = f
    block = 2 * conv(3, f, f) + 2 * bn + prelu
    expected = (conv(9, c, f) + prelu + 16 * block + conv(3, f, f) + bn
                + 2 * (conv(3, f, 4 * f) + prelu) + conv(9, f, c))
    assert g.count_params() == expected
    # Guards the hand count itself: SRResNet is published as about 1.5M parameters, so a
    # mistake in the formula above (which the model would then have to match) cannot pass.
    assert 1.5e6 < expected < 1.6e6


def _copy_weights(src, dst):
    for a, b in zip(src.weights, dst.weights):
        b.assign(a.value)


CLASSES = [
    (Generator, dict(num_blocks=2, filters=8, channels=4, scale=2, batch_norm=False), (1, 12, 12, 4)),
    (Discriminator, dict(channels=1, filters=4, dense_units=8, batch_norm=True), (1, 32, 32, 1)),
    (MiniVGG19, dict(num_classes=5, channels=3, width=0.0625, dropout=0.1), (1, 32, 32, 3)),
    (MiniVGG19Features, dict(layers=["block1", "block3"], backbone_config=dict(channels=1, width=0.0625)),
     (1, 32, 32, 1)),
    (ImageNetVGG19Features, dict(layers=["block1_conv2", "block2_conv2"], weights=None, channels=4),
     (1, 32, 32, 4)),
]


@pytest.mark.parametrize("cls,kwargs,shape", CLASSES, ids=[c[0].__name__ for c in CLASSES])
def test_config_round_trip(cls, kwargs, shape):
    import keras

    model = cls(**kwargs)
    x = np.random.default_rng(3).random(shape, dtype=np.float32)
    y = model(x)
    config = model.get_config()
    clone = cls.from_config(config)
    assert clone.get_config() == config
    # Through Keras' own serialization too (registered class name, no custom_objects needed).
    clone2 = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(model))
    assert type(clone2) is cls and clone2.get_config() == config
    clone(x)
    _copy_weights(model, clone)
    y2 = clone(x)
    ys, y2s = (y, y2) if isinstance(y, list) else ([y], [y2])
    for a, b in zip(ys, y2s):
        np.testing.assert_array_equal(_np(a), _np(b))


def test_extractors_are_frozen_and_return_documented_shapes():
    backbone = MiniVGG19(channels=3, width=0.125)
    fx = MiniVGG19Features(backbone, layers=("block2", "block5"))
    x = np.random.default_rng(0).random((2, 64, 48, 3), dtype=np.float32)
    feats = fx(x)
    assert [tuple(f.shape[1:]) for f in feats] == fx.feature_shapes(64, 48) == [(32, 24, 16), (4, 3, 64)]
    assert fx.trainable_weights == [] and len(fx.non_trainable_weights) > 0

    vx = ImageNetVGG19Features(layers=("block2_conv2", "block5_conv4"), weights=None, channels=1)
    feats = vx(x[..., :1])
    assert [tuple(f.shape[1:]) for f in feats] == vx.feature_shapes(64, 48) == [(32, 24, 128), (4, 3, 512)]
    assert vx.trainable_weights == []


def test_imagenet_extractor_channel_rule():
    """1 channel is repeated to RGB; 4 channels map to (microtubules, protein, nucleus)."""
    rng = np.random.default_rng(1)
    x4 = rng.random((1, 32, 32, 4), dtype=np.float32)
    fx4 = ImageNetVGG19Features(layers=("block1_conv1",), weights=None, channels=4)
    fx3 = ImageNetVGG19Features(layers=("block1_conv1",), weights=None, channels=3)
    _copy_weights(fx4, fx3)
    merged = x4[..., [1, 3, 0]]
    np.testing.assert_allclose(_np(fx4(x4)[0]), _np(fx3(merged)[0]), rtol=1e-5, atol=1e-4)
    x1 = x4[..., :1]
    fx1 = ImageNetVGG19Features(layers=("block1_conv1",), weights=None, channels=1)
    _copy_weights(fx1, fx3)
    np.testing.assert_allclose(_np(fx1(x1)[0]), _np(fx3(np.repeat(x1, 3, axis=-1))[0]), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("bad", [0, 2, 5, "3", 3.0])
def test_bad_channels_raise(bad):
    with pytest.raises(ValueError, match="channels"):
        Generator(channels=bad)
    with pytest.raises(ValueError, match="channels"):
        Discriminator(channels=bad)
    with pytest.raises(ValueError, match="channels"):
        MiniVGG19(channels=bad)


@pytest.mark.parametrize("bad", [1, 3, 16])
def test_bad_scale_raises(bad):
    with pytest.raises(ValueError, match=r"scale must be one of \(2, 4, 8\), got " + str(bad)):
        Generator(scale=bad)


def test_wrong_input_channel_count_is_named():
    g = Generator(num_blocks=1, filters=4, channels=3, scale=2)
    with pytest.raises(ValueError, match=r"1 channel\(s\).*expects 3"):
        g(np.zeros((1, 8, 8, 1), "float32"))
    with pytest.raises(ValueError, match="shape"):
        g(np.zeros((8, 8, 3), "float32"))


def test_unknown_taps_raise():
    with pytest.raises(ValueError, match="block9"):
        MiniVGG19Features(layers=("block9",))
    with pytest.raises(ValueError, match="block6_conv1"):
        ImageNetVGG19Features(layers=("block6_conv1",), weights=None)


def test_weights_saved_on_one_backend_load_on_the_others(tmp_path, backend):
    g = zoo.create("msrgan-x4-small", num_blocks=2, filters=8, channels=3)
    x = np.random.default_rng(7).random((1, 12, 16, 3), dtype=np.float32)
    g(x)
    # Non-trivial BatchNorm statistics, so inference-mode outputs depend on them.
    for v in g.weights:
        if "moving" in v.path:
            v.assign(np.random.default_rng(1).uniform(0.5, 1.5, v.shape).astype("float32"))
    y = _np(g(x))
    g.save_pretrained(tmp_path / "g")
    np.save(tmp_path / "x.npy", x)
    code = f"""
        import json, numpy as np, keras, zoo, msrgan
        g = zoo.from_pretrained({str(tmp_path / 'g')!r})
        y = keras.ops.convert_to_numpy(g(np.load({str(tmp_path / 'x.npy')!r})))
        np.save({str(tmp_path)!r} + "/y_" + keras.backend.backend() + ".npy", y)
        print(json.dumps({{"backend": keras.backend.backend()}}))
    """
    for other in other_backends(backend):
        assert run_in_backend(other, code)["backend"] == other
        y_other = np.load(tmp_path / f"y_{other}.npy")
        assert np.max(np.abs(y_other - y)) <= 1e-4, other


def _value_and_grads(fn, x, kernel, upstream):
    """``fn(x, kernel)`` and the gradients of ``sum(fn(x, kernel) * upstream)`` by the backend's autodiff."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        def loss(a, b):
            return (fn(a, b) * upstream).sum()

        return np.asarray(fn(x, kernel)), *(np.asarray(g) for g in jax.grad(loss, argnums=(0, 1))(x, kernel))
    if backend == "tensorflow":
        import tensorflow as tf

        xt, kt = tf.constant(x), tf.constant(kernel)
        with tf.GradientTape() as tape:
            tape.watch([xt, kt])
            y = fn(xt, kt)
            loss = tf.reduce_sum(y * upstream)
        return y.numpy(), *(g.numpy() for g in tape.gradient(loss, [xt, kt]))
    import torch

    xt, kt = torch.tensor(x, requires_grad=True), torch.tensor(kernel, requires_grad=True)
    y = fn(xt, kt)
    (y * torch.tensor(upstream)).sum().backward()
    return y.detach().numpy(), xt.grad.numpy(), kt.grad.numpy()


@pytest.mark.parametrize("form,kernel_size,strides,padding", [
    ("stacked_rows", (9, 9), 1, "same"), ("stacked_rows", (4, 3), 1, "same"), ("stacked_rows", (2, 5), 1, "same"),
    ("im2col", (3, 3), 1, "same"), ("im2col", (3, 3), 2, "same"), ("im2col", (4, 4), 2, "same"),
    ("im2col", (3, 2), 2, "valid"), ("im2col", (1, 1), 1, "same"),
    ("tap_gradient", (3, 3), 1, "same"), ("tap_gradient", (3, 3), 2, "same"), ("tap_gradient", (4, 4), 2, "same"),
    ("tap_gradient", (3, 2), 2, "valid"), ("tap_gradient", (9, 1), 1, "same"),
    ("tap_gradient", (3, 2), 1, "valid"), ("tap_gradient", (4, 3), 1, "same"),
])
def test_rewritten_convolutions_equal_ops_conv_in_values_and_gradients(form, kernel_size, strides, padding,
                                                                         backend):
    """stacked_rows_conv, im2col_conv and JAX's tap_gradient_conv (its own kernel gradient) compute
    ops.conv, and autodiff gives its gradients."""
    from keras import ops

    if form == "tap_gradient" and backend != "jax":  # deliberate: a JAX-only rewrite; the other forms run here
        pytest.skip("tap_gradient_conv is the JAX backend's (a jax.custom_vjp)")

    from msrgan.backends.convolution import im2col_conv, stacked_rows_conv

    # tap_gradient_conv's two kernel gradients: one product per tap, or (stride 1, out <= in / 2) one
    # product with the output gradient shifted per tap
    for out_channels in (3, 8) if form == "tap_gradient" else (3,):
        rng = np.random.default_rng(sum(kernel_size) + strides)
        x = rng.random((2, 11, 10, 6), dtype=np.float32)  # odd and even sizes: asymmetric "same" padding
        kernel = rng.normal(size=(*kernel_size, 6, out_channels)).astype(np.float32)

        def plain(a, k):
            return ops.conv(a, k, strides=strides, padding=padding)

        def rewritten(a, k):
            if form == "stacked_rows":
                return stacked_rows_conv(a, k, lambda v, w: ops.conv(v, w, padding="same"))
            if form == "tap_gradient":
                from msrgan.backends.jax import tap_gradient_conv

                return tap_gradient_conv(a, k, (strides, strides), padding.upper())
            return im2col_conv(a, k, (strides, strides), padding)

        oh = -(-11 // strides) if padding == "same" else (11 - kernel_size[0]) // strides + 1
        ow = -(-10 // strides) if padding == "same" else (10 - kernel_size[1]) // strides + 1
        upstream = rng.normal(size=(2, oh, ow, out_channels)).astype(np.float32)
        want = _value_and_grads(plain, x, kernel, upstream)
        got = _value_and_grads(rewritten, x, kernel, upstream)
        assert want[0].shape == got[0].shape == (2, oh, ow, out_channels)
        for name, g, w in zip(("value", "input gradient", "kernel gradient"), got, want):
            assert g.shape == w.shape, name
            np.testing.assert_allclose(g, w, rtol=0, atol=1e-4 * max(1.0, np.abs(w).max()),
                                       err_msg=f"{name}, {out_channels} outputs")


@pytest.mark.parametrize("filters,kernel_size,in_channels,strides", [(3, 9, 8, 1), (1, (5, 3), 4, 1), (8, 3, 128, 1),
                                                                      (8, 3, 128, 2)])
def test_conv_layer_fast_forms_equal_the_keras_layer(filters, kernel_size, in_channels, strides, backend,
                                                     monkeypatch):
    """Few-output convolutions (stacked rows, every backend) and wide ones (im2col on JAX on CPUs)."""
    import keras

    from msrgan.backends import convolution
    from msrgan.backends.convolution import IM2COL_MIN_CHANNELS, STACK_ROWS_MAX_FILTERS
    from msrgan.models.blocks import Conv2D

    real, calls = convolution.im2col_conv, []

    def counting(*args, **kwargs):
        calls.append(args[1].shape)
        return real(*args, **kwargs)

    monkeypatch.setattr(convolution, "im2col_conv", counting)  # whichever backend module would use it

    rng = np.random.default_rng(filters)
    x = rng.random((2, 9, 10, in_channels), dtype=np.float32)
    ours = Conv2D(filters, kernel_size, strides=strides, padding="same")
    ref = keras.layers.Conv2D(filters, kernel_size, strides=strides, padding="same")
    ours.build(x.shape)
    ref.build(x.shape)
    assert ours.stacks_rows == (filters <= STACK_ROWS_MAX_FILTERS and strides == 1)
    assert in_channels < IM2COL_MIN_CHANNELS or filters > STACK_ROWS_MAX_FILTERS  # the cases cover each form
    for a, b in zip(ours.weights, ref.weights):
        value = rng.normal(size=tuple(a.shape)).astype(np.float32) / np.sqrt(np.prod(a.shape[:-1]))
        a.assign(value)
        b.assign(value)
    got, want = (keras.ops.convert_to_numpy(layer(x)) for layer in (ours, ref))
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    assert bool(calls) == (backend == "jax" and in_channels >= IM2COL_MIN_CHANNELS)  # this machine is CPU-only
    if calls:  # past the memory limit on the stacked taps: the plain convolution, same values
        taps = 2 * -(-9 // strides) * -(-10 // strides) * 3 * 3 * in_channels  # batch x output pixels x tap values
        monkeypatch.setattr(convolution, "IM2COL_MAX_TAPS", taps - 1)
        count = len(calls)
        np.testing.assert_allclose(keras.ops.convert_to_numpy(ours(x)), want, rtol=0, atol=1e-5)
        assert len(calls) == count
    assert ours.get_config() == {**ref.get_config(), "name": ours.name}  # same config as Keras's layer


@pytest.mark.parametrize("strides", [1, 2])
def test_conv_and_pool_layers_equal_the_keras_ones(strides, backend):
    """msrgan's Conv2D / MaxPooling2D (layout-copy-free on torch) compute Keras's values and gradients."""
    import keras

    from msrgan.models.blocks import Conv2D, MaxPooling2D

    rng = np.random.default_rng(strides)
    x = rng.random((2, 9, 10, 3), dtype=np.float32)  # odd sizes: asymmetric "same" padding at stride 2
    ours = Conv2D(5, 3, strides=strides, padding="same")
    ref = keras.layers.Conv2D(5, 3, strides=strides, padding="same")
    ours.build(x.shape)
    ref.build(x.shape)
    kernel = rng.normal(size=(3, 3, 3, 5)).astype(np.float32)
    ours.kernel.assign(kernel)
    ref.kernel.assign(kernel)
    ours.bias.assign(np.arange(5, dtype=np.float32))
    ref.bias.assign(np.arange(5, dtype=np.float32))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(ours.kernel), kernel)  # the layout is invisible
    got, want = (keras.ops.convert_to_numpy(layer(x)) for layer in (ours, ref))
    assert got.shape == want.shape == (2, -(-9 // strides), -(-10 // strides), 5)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    pool, ref_pool = MaxPooling2D(2), keras.layers.MaxPooling2D(2)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(pool(x)), keras.ops.convert_to_numpy(ref_pool(x)))
    if backend == "torch":
        import torch

        # The kernel is stored so that torch's (out, in, kh, kw) view of it is channels-last memory.
        assert ours.kernel.value.permute(3, 2, 0, 1).is_contiguous(memory_format=torch.channels_last)
        xt = torch.tensor(x, requires_grad=True)
        xr = torch.tensor(x, requires_grad=True)
        (ours(xt) ** 2).sum().backward()
        (ref(xr) ** 2).sum().backward()
        np.testing.assert_allclose(xt.grad.numpy(), xr.grad.numpy(), rtol=0, atol=1e-4)
        np.testing.assert_allclose(ours.kernel.value.grad.numpy(), ref.kernel.value.grad.numpy(), rtol=1e-5, atol=1e-4)
        # the bias is added by torch's convolution itself; its gradient is the same sum
        np.testing.assert_allclose(ours.bias.value.grad.numpy(), ref.bias.value.grad.numpy(), rtol=1e-5, atol=1e-4)


def _gradients(layer, x, training):
    """``(outputs, d sum(outputs * w) / d inputs, ... / d gamma, ... / d beta)`` on the running backend."""
    import keras
    from keras import ops

    w = ops.convert_to_tensor(np.linspace(-1, 1, int(np.prod(x.shape)), dtype=np.float32).reshape(x.shape))

    def loss(tv, ntv, inputs):
        y, _ = layer.stateless_call(tv, ntv, inputs, training=training)
        return ops.sum(y * w), y

    tv, ntv = [v.value for v in layer.trainable_variables], [v.value for v in layer.non_trainable_variables]
    name = keras.backend.backend()
    if name == "jax":
        import jax

        (_, y), (g_tv, g_x) = jax.value_and_grad(loss, argnums=(0, 2), has_aux=True)(tv, ntv, ops.convert_to_tensor(x))
    elif name == "tensorflow":
        import tensorflow as tf

        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            tape.watch(tv)
            total, y = loss(tv, ntv, xt)
        g_x, g_tv = tape.gradient(total, [xt, tv])
    else:
        import torch

        xt = torch.tensor(x, requires_grad=True)
        tv = [t.detach().clone().requires_grad_(True) for t in tv]
        total, y = loss(tv, ntv, xt)
        grads = torch.autograd.grad(total, tv + [xt])
        g_tv, g_x = list(grads[:-1]), grads[-1]
    return [ops.convert_to_numpy(t) for t in (y, g_x, *g_tv)]


@pytest.mark.parametrize("shape", [(4, 6, 5, 3), (9, 7)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_layer_equals_the_keras_one(shape, training, backend):
    """msrgan's BatchNormalization (torch's fused kernel on PyTorch) computes Keras's values, gradients and
    moving statistics (Keras's biased batch variance), in training and in inference."""
    import keras
    from keras import ops

    from msrgan.models.blocks import BatchNormalization

    rng = np.random.default_rng(len(shape))
    x = rng.normal(2.0, 3.0, shape).astype(np.float32)
    ours, ref = BatchNormalization(momentum=0.9), keras.layers.BatchNormalization(momentum=0.9)
    for layer in (ours, ref):
        layer.build(shape)
        layer.gamma.assign(np.linspace(0.5, 1.5, shape[-1], dtype=np.float32))
        layer.beta.assign(np.linspace(-1.0, 1.0, shape[-1], dtype=np.float32))
        layer.moving_mean.assign(np.linspace(1.0, 3.0, shape[-1], dtype=np.float32))
        layer.moving_variance.assign(np.linspace(4.0, 9.0, shape[-1], dtype=np.float32))
    for got, want in zip(_gradients(ours, x, training), _gradients(ref, x, training)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=2e-5)
    for _ in range(2):  # the moving statistics as Keras updates them
        ours(x, training=training)
        ref(x, training=training)
    for a, b in ((ours.moving_mean, ref.moving_mean), (ours.moving_variance, ref.moving_variance)):
        np.testing.assert_allclose(ops.convert_to_numpy(a), ops.convert_to_numpy(b), rtol=1e-5, atol=1e-6)
    if training:  # and they moved: biased variance of the batch, momentum 0.9, twice
        axes = tuple(range(len(shape) - 1))
        want = np.linspace(4.0, 9.0, shape[-1]) * 0.81 + x.var(axis=axes) * (1 - 0.81)
        np.testing.assert_allclose(ops.convert_to_numpy(ours.moving_variance), want, rtol=1e-5)
    assert ours.get_config() == {**ref.get_config(), "name": ours.name}


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_bicubic_upsample_equals_pillow_in_the_interior(scale):
    """Independent reference: Pillow's bicubic resize (Keys a = -0.5) of each channel."""
    from PIL import Image

    from msrgan.models.blocks import bicubic_upsample

    x = np.random.default_rng(scale).random((2, 12, 10, 3)).astype("float32")
    got = np.asarray(keras.ops.convert_to_numpy(bicubic_upsample(keras.ops.convert_to_tensor(x), scale)))
    for b in range(2):
        for c in range(3):
            ref = np.asarray(Image.fromarray(x[b, ..., c], mode="F").resize((10 * scale, 12 * scale), Image.BICUBIC))
            m = 2 * scale  # the two LR pixels next to the border are padded differently (edge vs renormalised)
            np.testing.assert_allclose(got[b, m:-m, m:-m, c], ref[m:-m, m:-m], atol=1e-5)


def test_residual_generator_starts_as_bicubic_and_round_trips():
    from msrgan.models.blocks import bicubic_upsample

    g = Generator(num_blocks=1, filters=8, channels=1, scale=4, residual="bicubic")
    x = np.random.default_rng(0).random((1, 9, 7, 1)).astype("float32")
    out = keras.ops.convert_to_numpy(g(x))
    np.testing.assert_array_equal(out, keras.ops.convert_to_numpy(bicubic_upsample(keras.ops.convert_to_tensor(x), 4)))
    assert Generator.from_config(g.get_config()).residual == "bicubic"
    with pytest.raises(ValueError, match="residual"):
        Generator(residual="nearest")


def test_per_channel_equals_each_channel_alone():
    from msrgan.models.channels import PerChannel

    g = Generator(num_blocks=1, filters=8, channels=1, scale=2)
    x = np.random.default_rng(1).random((2, 8, 6, 3)).astype("float32")
    got = PerChannel(g, 3).predict_on_batch(x)
    for c in range(3):
        np.testing.assert_allclose(got[..., c:c + 1], keras.ops.convert_to_numpy(g(x[..., c:c + 1])), atol=1e-6)
    with pytest.raises(ValueError, match="single-channel"):
        PerChannel(Generator(num_blocks=1, filters=8, channels=3, scale=2), 4)
