"""Liver segmentation: classical method on the phantom, backend selection and errors."""

from __future__ import annotations

import functools
import importlib.util

import numpy as np
import pytest

from hcc_imaging.phantoms import make_study
from hcc_imaging.segment import BackendUnavailableError, LiverParams, SegmentationError, segment_liver
from hcc_imaging.volume import Volume

from ._phantom import dice


@functools.lru_cache(maxsize=1)
def _study():  # type: ignore[no-untyped-def]
    return make_study(2)


def test_portal_venous_liver_dice() -> None:
    st = _study()
    lv = segment_liver(st.volumes)  # picks the portal-venous phase
    assert lv.meta["phase"] == "portal_venous"
    assert lv.labels == {1: "liver"}
    assert dice(lv.array, st.liver.array) >= 0.85
    assert lv.geometry.equals(st.liver.geometry)


def test_seed_inside_the_liver_sets_the_value() -> None:
    st = _study()
    seed = st.liver.index_to_lps(np.argwhere(st.liver.array).mean(axis=0))
    lv = segment_liver(st.volumes["portal_venous"], seed_lps=seed)
    assert dice(lv.array, st.liver.array) >= 0.85
    assert 95.0 <= lv.meta["liver_hu"] <= 125.0  # phantom liver: 110 HU portal venous


def test_totalsegmentator_backend_never_downloads() -> None:
    st = _study()
    if importlib.util.find_spec("totalsegmentator") is None:
        with pytest.raises(BackendUnavailableError, match="TotalSegmentator"):
            segment_liver(st.volumes, backend="totalsegmentator")
    auto = segment_liver(st.volumes, backend="auto")
    assert auto.array.any()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"backend": "deep"}, "backend must be", id="backend"),
        pytest.param({"phase": "hepatobiliary"}, "not among", id="phase"),
        pytest.param({"seed_lps": (9000.0, 0.0, 0.0)}, "outside the image", id="seed"),
        pytest.param({"params": LiverParams(search_range_hu=(500.0, 600.0))}, "no liver-like tissue", id="range"),
    ],
)
def test_errors(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(SegmentationError, match=match):
        segment_liver(_study().volumes, **kwargs)  # type: ignore[arg-type]


def test_no_body_and_empty_mapping() -> None:
    air = Volume.create(np.full((8, 16, 16), -1000, np.int16), spacing=(2.0, 2.0, 2.0))
    with pytest.raises(SegmentationError, match="no body"):
        segment_liver(air)
    with pytest.raises(SegmentationError, match="empty phase mapping"):
        segment_liver({})
    with pytest.raises(SegmentationError, match="work_spacing_mm"):
        LiverParams(half_width_hu=0.0)


def test_erosion_too_strong() -> None:
    st = _study()
    with pytest.raises(SegmentationError, match="erosion"):
        segment_liver(st.volumes, params=LiverParams(erosion_radius_mm=200.0))


def test_totalsegmentator_without_weights(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Package present but weights missing: a clear error, never a download."""
    import hcc_imaging.segment.liver as liver_mod

    real = importlib.util.find_spec
    monkeypatch.setattr(liver_mod.importlib.util, "find_spec", lambda name, *a: object() if name == "totalsegmentator" else real(name, *a))
    monkeypatch.setenv("TOTALSEG_WEIGHTS_PATH", str(tmp_path))
    assert liver_mod.totalsegmentator_weights_dir() == tmp_path
    with pytest.raises(BackendUnavailableError, match="never downloads"):
        segment_liver(_study().volumes, backend="totalsegmentator")


def test_classical_liver_refuses_mr() -> None:
    from dataclasses import replace

    mr = replace(_study().volumes["portal_venous"], modality="MR")
    with pytest.raises(SegmentationError, match="Hounsfield"):
        segment_liver(mr)
