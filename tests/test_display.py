"""msrgan.display: the one RGB display of the channel layouts (figures, training grids, contact sheets)."""

from __future__ import annotations

import numpy as np
import pytest

from msrgan.convention import rgb_merge_indices
from msrgan.display import display_rgb, merge_colors

pytestmark = pytest.mark.one_backend


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_the_default_is_the_seeds_rgb_merge(channels):
    x = np.random.default_rng(channels).random((9, 11, channels)).astype(np.float32) * 1.4 - 0.2
    merged = np.clip(x, 0.0, 1.0)[..., list(rgb_merge_indices(channels))]
    np.testing.assert_array_equal(display_rgb(x, dtype=np.float32), merged)
    np.testing.assert_array_equal(display_rgb(x), np.floor(merged * 255.0 + 0.5).astype(np.uint8))
    assert display_rgb(x).shape == (9, 11, 3) and display_rgb(x).dtype == np.uint8


def test_merge_colors_name_the_layouts_channels():
    assert merge_colors(1) == {"gray": (1.0, 1.0, 1.0)}
    assert merge_colors(3) == {"microtubules": (1.0, 0.0, 0.0), "protein": (0.0, 1.0, 0.0), "nucleus": (0.0, 0.0, 1.0)}
    assert merge_colors(4)["er"] == (0.0, 0.0, 0.0) and merge_colors(4)["nucleus"] == (0.0, 0.0, 1.0)


def test_colors_and_percentile_stretch():
    x = np.zeros((4, 4, 4), np.uint16)
    x[..., 0] = np.arange(16).reshape(4, 4) * 1000  # nucleus, stretched over its own range
    rgb = display_rgb(x, colors={"nucleus": (0.0, 0.0, 1.0), "microtubules": (0, 0, 0), "er": (0, 0, 0),
                                 "protein": (0, 1, 0)}, percentiles=(0.0, 100.0))
    assert rgb[0, 0].tolist() == [0, 0, 0] and rgb[3, 3].tolist() == [0, 0, 255]
    with pytest.raises(ValueError, match=r"cannot display an image of shape \(4, 4, 2\)"):
        display_rgb(np.zeros((4, 4, 2)))
