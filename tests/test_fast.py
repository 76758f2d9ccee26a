"""The inference fast path (msrgan.models.fast) and the native PyTorch reference of the benchmark.

Both must compute exactly the function of ``Generator(x, training=False)`` (within 1e-4): the fast
path because it replaces the model at inference time, the reference because the benchmark's
"identical architecture" claim rests on it. The generators get non-trivial weights (BatchNorm
statistics far from 0/1, non-zero PReLU slopes), so folding and channel orders are really tested.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import sys
import zlib

import keras
import numpy as np
import pytest

from msrgan.models import Generator
from msrgan.models.fast import (
    FastGenerator,
    fast_generator,
    fold_batch_norm,
    generator_forward,
    generator_params,
    slopes_in_unit_interval,
)
from tests.helpers import ROOT

TOL = 1e-4


def randomize(model, alpha_range=(0.0, 0.3)):
    """Deterministic non-trivial weights, so a wrong fold or channel order cannot pass."""
    for v in model.variables:
        rng = np.random.default_rng(zlib.crc32(v.path.encode()))
        shape = tuple(v.shape)
        if v.path.endswith("kernel"):
            val = rng.normal(0.0, np.sqrt(1.0 / np.prod(shape[:-1])), shape)
        elif v.path.endswith("moving_variance"):
            val = rng.uniform(0.3, 3.0, shape)
        elif v.path.endswith("gamma"):
            val = rng.uniform(0.5, 1.5, shape)
        elif v.path.endswith("alpha"):
            val = rng.uniform(*alpha_range, shape)
        else:  # biases, beta, moving_mean
            val = rng.normal(0.0, 0.2, shape)
        v.assign(val.astype("float32"))
    return model


def make_generator(scale, channels, batch_norm, *, blocks=2, filters=8, alpha_range=(0.0, 0.3), residual="none"):
    g = Generator(num_blocks=blocks, filters=filters, channels=channels, scale=scale, batch_norm=batch_norm,
                  residual=residual)
    g(np.zeros((2, 11, 9, channels), "float32"))  # the shape of lr_batch(): eager JAX compiles per shape
    return randomize(g, alpha_range)


@functools.lru_cache(maxsize=None)
def shared_generator(scale, channels, batch_norm):
    """One generator per case for the tests that only read it (building is slow on eager JAX)."""
    return make_generator(scale, channels, batch_norm)


def lr_batch(channels, batch=2, h=11, w=9, seed=0):
    return np.random.default_rng(seed).random((batch, h, w, channels), dtype=np.float32)


def reference(g, x):
    return np.asarray(keras.ops.convert_to_numpy(g(x, training=False)))


# Every scale and every channel count, each with and without BatchNorm (a covering set, not the
# full product: the three factors change independent parts of the network).
CASES = [(2, 1, True), (2, 3, False), (4, 4, True), (4, 1, False), (8, 3, True), (8, 4, False)]


@pytest.mark.parametrize("scale,channels,batch_norm", CASES)
def test_fast_path_matches_model(scale, channels, batch_norm, backend):
    g = shared_generator(scale, channels, batch_norm)
    x = lr_batch(channels)
    want = reference(g, x)
    assert want.shape == (2, 11 * scale, 9 * scale, channels)
    assert np.abs(want).max() > 0.1  # the comparison is not between near-zero outputs
    formats = ["channels_last"] if backend == "tensorflow" else ["channels_last", "channels_first"]
    variants = [(fmt, False) for fmt in formats] + [(fmt, True) for fmt in formats]  # and a stacked-rows tail
    for fmt, rows in variants:
        got = FastGenerator(g, jit=False, data_format=fmt, stack_tail_rows=rows).predict(x)
        assert got.shape == want.shape and got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=0, atol=TOL,
                                   err_msg=f"{fmt}, stacked tail {rows}, scale {scale}, {channels} ch")


@pytest.mark.parametrize("scale,channels", [(2, 3), (4, 1), (8, 4)])
def test_fast_path_keeps_the_bicubic_skip(scale, channels, backend):
    g = make_generator(scale, channels, False, residual="bicubic")
    x = lr_batch(channels)
    want = reference(g, x)
    without = reference(make_generator(scale, channels, False), x)
    assert np.abs(want - without).max() > 0.1  # the skip changes the output
    for jit in (False, True):
        np.testing.assert_allclose(FastGenerator(g, jit=jit).predict(x), want, rtol=0, atol=TOL)


def test_compiled_fast_path_matches_model_and_reports_compile_time(backend):
    g = shared_generator(4, 4, True)
    fast = fast_generator(g)  # jit=True, the backend's default layout
    assert fast.jit and fast.data_format == ("channels_first" if backend == "torch" else "channels_last")
    x = lr_batch(4, batch=1, h=10, w=12)
    np.testing.assert_allclose(fast.predict(x), reference(g, x), rtol=0, atol=TOL)
    assert list(fast.compile_seconds) == [(1, 10, 12, 4)] and fast.compile_seconds[(1, 10, 12, 4)] > 0
    again = fast.predict(x)  # second call: no new compile entry
    assert list(fast.compile_seconds) == [(1, 10, 12, 4)]
    np.testing.assert_allclose(again, reference(g, x), rtol=0, atol=TOL)
    # the stacked-rows tail run outside the compiled function (PyTorch's default on AVX-512 CPUs), any CPU
    split = fast_generator(g, stack_tail_rows="uncompiled")
    assert split.stack_tail_rows and split._tail_uncompiled
    np.testing.assert_allclose(split.predict(x), reference(g, x), rtol=0, atol=TOL)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_precision_fast_path_is_close_to_float32(dtype, backend):
    g = shared_generator(2, 3, False)
    x = lr_batch(3)
    want = reference(g, x)
    fast = FastGenerator(g, jit=False, dtype=dtype)
    got = fast.predict(x)
    assert got.dtype == np.float32 and got.shape == want.shape
    err = np.abs(got - want).max()
    # Half precision keeps 8 (bfloat16) or 11 (float16) significant bits: the error is about a
    # few units in the last place of the outputs' magnitude, not zero and not larger.
    eps = {"bfloat16": 2.0 ** -8, "float16": 2.0 ** -11}[dtype]
    assert 0 < err < 16 * eps * max(1.0, float(np.abs(want).max()))
    with pytest.raises(ValueError, match="dtype"):
        FastGenerator(g, dtype="float64")


@contextlib.contextmanager
def changed(variable, value):
    """Temporarily assigns ``value`` to a shared generator's variable."""
    old = keras.ops.convert_to_numpy(variable).copy()
    variable.assign(np.broadcast_to(np.asarray(value, "float32"), old.shape))
    try:
        yield
    finally:
        variable.assign(old)


def test_weights_are_a_snapshot(backend):
    g = shared_generator(2, 1, True)
    x = lr_batch(1)
    before = reference(g, x)
    fast = FastGenerator(g, jit=False)
    with changed(g.head.kernel, 0.0):  # training goes on after the fast copy was made
        np.testing.assert_allclose(fast.predict(x), before, rtol=0, atol=TOL)
        after = reference(g, x)
        assert np.abs(after - before).max() > 1e-3
        np.testing.assert_allclose(FastGenerator(g, jit=False).predict(x), after, rtol=0, atol=TOL)


def test_prelu_slopes_outside_unit_interval_use_the_general_form(backend):
    g = shared_generator(2, 3, False)
    rng = np.random.default_rng(5)
    slopes = [rng.uniform(-0.5, 1.8, tuple(b.act.alpha.shape)) for b in g.blocks]
    with contextlib.ExitStack() as stack:
        for block, a in zip(g.blocks, slopes):
            stack.enter_context(changed(block.act.alpha, a))
        assert not slopes_in_unit_interval(g)
        x = lr_batch(3)
        fast = FastGenerator(g, jit=False)
        assert not fast.unit_slopes
        want = reference(g, x)
        np.testing.assert_allclose(fast.predict(x), want, rtol=0, atol=TOL)
        # the two-pass form would be wrong for such slopes: the flag matters
        wrong = generator_forward(fast.params, x, fast.data_format, unit_slopes=True)
        assert np.abs(keras.ops.convert_to_numpy(wrong) - want).max() > 1e-3
    assert slopes_in_unit_interval(g)


def test_slopes_in_unit_interval_for_typical_weights():
    g = shared_generator(2, 3, False)
    assert slopes_in_unit_interval(g)
    assert FastGenerator(g, jit=False).unit_slopes


def test_stands_in_for_the_generator_in_tiled_upscaling(backend):
    from msrgan.inference import upscale

    g = shared_generator(2, 1, True)
    fast = FastGenerator(g, jit=False)
    assert (fast.scale, fast.channels, fast.receptive_margin) == (2, 1, g.receptive_margin)
    img = (np.random.default_rng(1).random((30, 26)) * 65535).astype(np.uint16)
    want = upscale(img, g, tile=24, overlap=4, blend=4)
    got = upscale(img, fast, tile=24, overlap=4, blend=4)
    assert got.shape == (60, 52) and got.dtype == np.uint16
    assert np.abs(got.astype(np.int64) - want.astype(np.int64)).max() <= 2  # uint16 rounding of 1e-6 diffs


@pytest.mark.parametrize("center,scale", [(True, True), (False, True), (True, False), (False, False)])
def test_fold_batch_norm_equals_conv_then_batch_norm(center, scale):
    rng = np.random.default_rng(3)
    conv = keras.layers.Conv2D(5, 3, padding="same", use_bias=center)  # a conv without bias too
    bn = keras.layers.BatchNormalization(center=center, scale=scale, epsilon=1e-3)
    x = rng.random((2, 7, 6, 4), dtype=np.float32)
    y = conv(x)
    bn.build(y.shape)
    bn.moving_mean.assign(rng.normal(0, 1, 5).astype("float32"))
    bn.moving_variance.assign(rng.uniform(0.2, 4, 5).astype("float32"))
    if scale:
        bn.gamma.assign(rng.uniform(0.5, 2, 5).astype("float32"))
    if center:
        bn.beta.assign(rng.normal(0, 1, 5).astype("float32"))
    want = keras.ops.convert_to_numpy(bn(conv(x), training=False))
    k, b = fold_batch_norm(conv.kernel, conv.bias if center else None, bn)
    assert k.dtype == np.float32 and k.shape == (3, 3, 4, 5) and b.shape == (5,)
    got = keras.ops.convert_to_numpy(keras.ops.conv(x, k, padding="same") + b)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    # no BatchNorm: the conv unchanged (zero bias when it had none)
    k0, b0 = fold_batch_norm(conv.kernel, None, None)
    np.testing.assert_array_equal(k0, keras.ops.convert_to_numpy(conv.kernel))
    np.testing.assert_array_equal(b0, np.zeros(5, np.float32))


def test_params_have_the_folded_structure():
    g = shared_generator(8, 3, True)
    p = generator_params(g)
    assert len(p["blocks"]) == 2 and len(p["up"]) == 3
    assert all(len(block) == 5 for block in p["blocks"])  # conv, bias, slope, conv, bias: no BatchNorm left
    assert tuple(p["tail"][0].shape) == (9, 9, 8, 3)
    pcf = generator_params(g, "channels_first")
    assert tuple(pcf["head"][1].shape) == (8, 1, 1) and tuple(pcf["head"][2].shape) == (8, 1, 1)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(pcf["up"][0][0]),
                                  keras.ops.convert_to_numpy(p["up"][0][0]))


def test_bad_input_is_a_value_error(backend):
    with pytest.raises(ValueError, match="not built"):
        FastGenerator(Generator(num_blocks=1, filters=4, channels=1, scale=2), jit=False)
    g = shared_generator(2, 3, False)
    with pytest.raises(ValueError, match="data_format"):
        FastGenerator(g, data_format="NHWC")
    with pytest.raises(ValueError, match="data_format"):
        generator_params(g, "nchw")
    fast = FastGenerator(g, jit=False)
    with pytest.raises(ValueError, match=r"1 channel.*expects 3"):
        fast.predict(np.zeros((1, 8, 8, 1), "float32"))
    with pytest.raises(ValueError, match=r"shape \(8, 8, 3\)"):
        fast.predict(np.zeros((8, 8, 3), "float32"))
    if backend == "tensorflow":
        with pytest.raises(ValueError, match="channels_first.*jit=True"):
            FastGenerator(g, jit=False, data_format="channels_first")
    from msrgan import backends

    assert FastGenerator(g, jit=False).stack_tail_rows == bool(backends.current().STACK_TAIL_ROWS)  # where faster


# ---- the benchmark's native PyTorch reference ---------------------------------------------------

def _load_script(name):
    spec = importlib.util.spec_from_file_location(f"_msrgan_script_{name}", ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("scale,channels,batch_norm", [(2, 1, True), (4, 4, True), (8, 3, True), (2, 3, False)])
def test_torch_reference_with_copied_weights_equals_the_model(scale, channels, batch_norm):
    torch = pytest.importorskip("torch")
    tr = _load_script("torch_reference")
    g = shared_generator(scale, channels, batch_norm)
    x = lr_batch(channels)
    net = tr.from_keras(g)
    assert not net.training
    with torch.inference_mode():
        nchw = net(torch.from_numpy(x).permute(0, 3, 1, 2).contiguous())
        net_cl = net.to(memory_format=torch.channels_last)  # the benchmark's layout gives the same
        cl = net_cl(torch.from_numpy(x).permute(0, 3, 1, 2))
    want = reference(g, x)
    np.testing.assert_allclose(nchw.permute(0, 2, 3, 1).numpy(), want, rtol=0, atol=TOL)
    np.testing.assert_allclose(cl.permute(0, 2, 3, 1).numpy(), want, rtol=0, atol=TOL)
    # the sub-pixel channel permutation is needed: without it the x2 stages scramble the image
    assert sorted(tr.subpixel_permutation(8).tolist()) == list(range(32))
    plain = tr.SRResNet(g.num_blocks, g.filters, channels, scale, batch_norm)
    weights = tr.keras_weights(g)
    tr.load_keras_weights(plain, weights)
    with torch.no_grad():
        for i in range(len(plain.upsample) // 3):
            k = np.asarray(weights[f"up{i}_conv/kernel"]).transpose(3, 2, 0, 1)
            plain.upsample[3 * i].weight.copy_(torch.from_numpy(np.ascontiguousarray(k)))
            plain.upsample[3 * i].bias.copy_(torch.from_numpy(np.asarray(weights[f"up{i}_conv/bias"])))
        scrambled = plain.eval()(torch.from_numpy(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()
    assert np.abs(scrambled - want).max() > 1e-3


def test_torch_reference_rejects_bad_scale():
    pytest.importorskip("torch")
    tr = _load_script("torch_reference")
    with pytest.raises(ValueError, match="scale"):
        tr.SRResNet(scale=3)


def test_benchmark_options_are_validated(tmp_path, capsys):
    bench = _load_script("benchmark")
    with pytest.raises(SystemExit):
        bench.parse_args(["--runs", "3"])
    assert "at least 5" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.parse_args(["--backends", "mxnet"])
    assert "mxnet" in capsys.readouterr().err
    existing = tmp_path / "out.json"
    existing.write_text("{}")
    with pytest.raises(SystemExit):
        bench.parse_args(["--json", str(existing)])
    assert "--overwrite" in capsys.readouterr().err
    args = bench.parse_args(["--json", str(existing), "--overwrite", "--quick", "--backends", "jax"])
    assert (args.model, args.size, args.backends) == ("msrgan-x4-small", 64, ["jax"])
    # every worker process builds bit-identical weights from the variable path
    np.testing.assert_array_equal(bench.deterministic_value("block_00/conv1/kernel", (3, 3, 4, 4)),
                                  bench.deterministic_value("block_00/conv1/kernel", (3, 3, 4, 4)))
    assert not np.array_equal(bench.deterministic_value("block_00/conv1/kernel", (3, 3, 4, 4)),
                              bench.deterministic_value("block_01/conv1/kernel", (3, 3, 4, 4)))


def test_torch_reference_discriminator_and_content_features_equal_the_keras_ones():
    torch = pytest.importorskip("torch")
    tr = _load_script("torch_reference")
    from msrgan.models import Discriminator, MiniVGG19, MiniVGG19Features

    x = np.random.default_rng(2).random((2, 33, 30, 3), dtype=np.float32)  # odd and even sides: "same" padding
    d = Discriminator(channels=3, filters=4, dense_units=8)
    d(x)
    randomize(d)
    fx = MiniVGG19Features(MiniVGG19(channels=3, width=0.0625), layers=("block2", "block5"))
    fx(x)
    randomize(fx.backbone)
    xt = torch.from_numpy(x).permute(0, 3, 1, 2)
    net_d = tr.discriminator_from_keras(d).eval()
    net_f = tr.minivgg19_features_from_keras(fx)
    with torch.no_grad():
        got_d = net_d(xt).numpy()
        got_f = [f.permute(0, 2, 3, 1).numpy() for f in net_f(xt)]
    want_d = keras.ops.convert_to_numpy(d(x, training=False))
    assert got_d.shape == (2, 1) and np.abs(want_d).max() > 0.05
    np.testing.assert_allclose(got_d, want_d, rtol=0, atol=TOL)
    for got, want in zip(got_f, fx(x)):
        np.testing.assert_allclose(got, keras.ops.convert_to_numpy(want), rtol=0, atol=TOL)
    # PyTorch's symmetric padding would not be the same network: the Keras padding matters
    with torch.no_grad():
        unit = net_d.convs[1]
        h = net_d.convs[0](xt)
        keras_same = unit.conv(tr._keras_same_pad(h, 3, 2))
        torch_same = torch.nn.functional.conv2d(h, unit.conv.weight, None, stride=2, padding=1)
    assert keras_same.shape == torch_same.shape == (2, 4, 17, 15)
    assert (keras_same - torch_same).abs().max() > 1e-3


def test_torch_reference_srgan_step_updates_both_networks():
    torch = pytest.importorskip("torch")
    tr = _load_script("torch_reference")
    torch.manual_seed(0)
    g = tr.SRResNet(num_blocks=1, filters=8, channels=1, scale=2)
    d = tr.Discriminator(channels=1, filters=4, dense_units=8)
    f = tr.MiniVGG19Features(channels=1, width=0.0625, layers=("block2",))
    step = tr.SRGANStep(g, d, f)
    lr = torch.rand(2, 1, 16, 16).contiguous(memory_format=torch.channels_last)
    hr = torch.rand(2, 1, 32, 32).contiguous(memory_format=torch.channels_last)
    g0, d0 = g.head.weight.detach().clone(), d.logit.weight.detach().clone()
    f0 = f.blocks[0][0].conv.weight.detach().clone()
    g_loss, d_loss = step(lr, hr)
    assert np.isfinite(g_loss) and np.isfinite(d_loss) and g_loss > 0 and d_loss > 0
    assert (g.head.weight - g0).abs().max() > 0 and (d.logit.weight - d0).abs().max() > 0
    assert torch.equal(f.blocks[0][0].conv.weight, f0)  # the content network stays frozen
    with pytest.raises(ValueError, match="adversarial"):
        tr.SRGANStep(g, d, f, adversarial="hinge")
    with pytest.raises(ValueError, match="autocast"):
        tr.SRGANStep(g, d, f, autocast="float64")
