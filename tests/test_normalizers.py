"""The one normalizer: a registry of kinds, fit / before / after, and every user reads the same object."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from msrgan.data.normalize import (
    NORMALIZATIONS,
    IdentityNormalizer,
    Normalizer,
    PercentileNormalizer,
    UnitRangeNormalizer,
    _fit_percentiles,
    denormalize,
    fit_normalization,
    get_normalizer,
    normalize,
    percentiles_from_counts,
    to_unit_range,
)

pytestmark = pytest.mark.one_backend


def _image(dtype, shape=(37, 41, 3), seed=0):
    rng = np.random.default_rng(seed)
    if np.issubdtype(dtype, np.integer):
        return rng.integers(0, np.iinfo(dtype).max // 3, shape).astype(dtype)
    return (rng.random(shape) * 2.0 - 0.5).astype(dtype)


def test_the_registry_names_each_kind_once_and_keeps_the_old_spelling():
    import zoo

    assert isinstance(NORMALIZATIONS, zoo.Registry)
    assert list(NORMALIZATIONS) == ["percentile", "unit", "none"]  # listed once: no alias in choices
    assert "range" in NORMALIZATIONS and NORMALIZATIONS.canonical("range") == "unit"
    assert type(get_normalizer("range")) is UnitRangeNormalizer is NORMALIZATIONS["unit"]
    assert type(get_normalizer("percentile")) is PercentileNormalizer
    assert type(get_normalizer("none")) is IdentityNormalizer
    with pytest.raises(ValueError, match="unknown normalization 'zscore'; choose one of: percentile, unit, none"):
        get_normalizer("zscore")
    with pytest.raises(ValueError, match="normalization must be one of"):
        get_normalizer(3)


def test_command_line_choices_are_the_registry():
    from msrgan.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for command in ("upscale", "evaluate"):
        action = next(a for a in sub.choices[command]._actions if a.dest == "normalization")
        assert tuple(action.choices) == tuple(NORMALIZATIONS) and "range" in action.choices
    args = build_parser().parse_args(["upscale", "in.png", "-o", "out", "--normalization", "range"])
    assert NORMALIZATIONS.canonical(args.normalization) == "unit"


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("kind", ["percentile", "unit"])
def test_after_inverts_before_exactly_for_integers(dtype, kind):
    x = _image(dtype)
    n = get_normalizer(kind).fit(x)
    y = n.before(x)
    assert y.dtype == np.float32 and n.fitted
    back = n.after(y)
    assert back.dtype == x.dtype
    np.testing.assert_array_equal(back, x)
    # A crop of the fitted image maps with the whole image's values.
    np.testing.assert_array_equal(n.before(x[5:20, 3:30]), y[5:20, 3:30])


def test_identity_passes_floats_and_refuses_integers():
    x = _image(np.float64)
    n = get_normalizer("none").fit(x)
    np.testing.assert_array_equal(n.before(x), x.astype(np.float32))
    assert n.after(n.before(x)).dtype == np.float64
    assert get_normalizer("none", clip=True).before(x).max() == 1.0
    with pytest.raises(ValueError, match="normalization='none' feeds images\\[2\\].*uint8"):
        get_normalizer("none").fit(_image(np.uint8), name="images[2]")


def test_after_needs_a_fitted_normalizer():
    with pytest.raises(ValueError, match="not fitted"):
        get_normalizer("percentile").after(np.zeros((4, 4, 1), np.float32))


def test_before_of_an_unfitted_normalizer_fits_on_its_argument():
    x = _image(np.uint16)
    np.testing.assert_array_equal(get_normalizer("percentile").before(x), normalize(x)[0])
    np.testing.assert_array_equal(get_normalizer("percentile", clip=True).before(x), normalize(x, clip=True)[0])


def test_the_arithmetic_of_each_former_caller_is_kept():
    """The numbers the patches, evaluation, classifier and inference computed before the normalizer."""
    for dtype in (np.uint8, np.uint16, np.float32):
        x = _image(dtype)
        ref = fit_normalization(x)
        # training patches: float32 arithmetic on the whole image's values, clipped
        low, span = ref.low.astype(np.float32), (ref.high - ref.low).astype(np.float32)
        patches = PercentileNormalizer(clip=True, compute_dtype="float32").fit(x)
        np.testing.assert_array_equal(patches.before(x[:16, :16]),
                                      np.clip((x[:16, :16].astype(np.float32) - low) / span, 0.0, 1.0))
        # evaluation and classifier: float64 arithmetic, clipped
        evaluated = ((x.astype(np.float64) - ref.low) / (ref.high - ref.low)).astype(np.float32)
        np.testing.assert_array_equal(get_normalizer("percentile", clip=True).before(x), np.clip(evaluated, 0, 1))
        np.testing.assert_array_equal(get_normalizer("unit", clip=True).before(x),
                                      np.clip(to_unit_range(x), 0.0, 1.0).astype(np.float32))
        # inference: float64 arithmetic, not clipped, exact inverse
        tiles = get_normalizer("percentile").fit(x)
        np.testing.assert_array_equal(tiles.before(x), evaluated)
        np.testing.assert_array_equal(tiles.after(evaluated), denormalize(evaluated, ref))


def test_histogram_percentiles_are_numpys_bit_for_bit():
    rng = np.random.default_rng(7)
    for dtype in (np.uint8, np.uint16):
        for _ in range(40):
            shape = (int(rng.integers(1, 60)), int(rng.integers(1, 60)), 2)
            a = rng.integers(0, int(rng.integers(1, np.iinfo(dtype).max)), shape).astype(dtype)
            for q in ((2.0, 99.8), (0.0, 100.0), (1.0, 99.0), (0.5, 50.0)):
                ref, got = fit_normalization(a, *q), _fit_percentiles(a, *q)
                np.testing.assert_array_equal(got.low, ref.low)
                np.testing.assert_array_equal(got.high, ref.high)
    counts = np.bincount([3, 1, 4, 1, 5, 9, 2, 6])
    np.testing.assert_array_equal(percentiles_from_counts(counts, [0, 25, 50, 99.8, 100]),
                                  np.percentile([3, 1, 4, 1, 5, 9, 2, 6], [0, 25, 50, 99.8, 100]))


def test_a_new_kind_is_one_registration():
    from msrgan.data.normalize import register_normalization

    class Halves(UnitRangeNormalizer):
        name = "test-halves"

        def _forward(self, x, name):
            return super()._forward(x, name) / 2

    register_normalization(Halves, description="the dtype range, halved")
    try:
        assert isinstance(get_normalizer("test-halves"), Normalizer)
        assert get_normalizer("test-halves").before(np.full((2, 2, 1), 255, np.uint8)).max() == 0.5
    finally:
        NORMALIZATIONS._items.pop("test-halves")
        NORMALIZATIONS._descriptions.pop("test-halves")
