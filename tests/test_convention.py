"""Knowledge written once: the localization classes and the Hub id form, read where they are used."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.one_backend


def test_the_localization_classes_are_one_tuple():
    from msrgan.convention import CHANNEL_LAYOUTS, LOCALIZATION_CLASSES
    from msrgan.data.synthetic import CHANNEL_NAMES_3, CHANNEL_NAMES_4, CLASS_NAMES
    from msrgan.models import LOCALIZATION_CLASSES as MODEL_CLASSES

    assert len(LOCALIZATION_CLASSES) == 13 and CLASS_NAMES is LOCALIZATION_CLASSES is MODEL_CLASSES
    assert (CHANNEL_NAMES_3, CHANNEL_NAMES_4) == (CHANNEL_LAYOUTS[3], CHANNEL_LAYOUTS[4])


def test_data_sources_and_model_cards_read_zoos_hub_id_form(tmp_path, monkeypatch):
    from msrgan.card import _datasets
    from msrgan.data.source import source_kind

    monkeypatch.chdir(tmp_path)  # no local folder of these names
    assert source_kind("lab/cells") == source_kind("hf://datasets/lab/cells") == "hf"
    for spec in ("lab/a..b", "lab/_x", "./lab/x", "a/b/c"):
        assert source_kind(spec) == "folder", spec
    meta = {"training": {"data": {"spec": "lab/cells"}}, "evaluation": {"dataset": "lab/a..b"}}
    assert _datasets(meta) == ["lab/cells"]
