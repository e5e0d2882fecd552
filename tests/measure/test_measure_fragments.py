"""A label of several separate pieces: RECIST 1.1's split lesion (the fragments' diameters summed),
or one object with fragments="hull"; noise specks never change the diameters; always a note."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from hcc_imaging.measure import fragments as fr
from hcc_imaging.measure import measure_labels, measure_lesion
from hcc_imaging.volume import LabelVolume

SP = (1.0, 1.0, 1.0)


def _discs(centres: list[tuple[int, int]], r: float = 6.0, n: int = 60, nk: int = 5) -> np.ndarray:
    """Cylinders of radius r (12 mm discs on slices 1-3 at 1 mm) under one label."""
    y, x = np.mgrid[:n, :n]
    m = np.zeros((nk, n, n), np.uint8)
    for cy, cx in centres:
        m[1:4][:, (y - cy) ** 2 + (x - cx) ** 2 <= r * r] = 1
    return m


def _alone(m: np.ndarray, keep: np.ndarray, **kw):
    return measure_lesion(LabelVolume.create(np.where(keep, m, 0).astype(np.uint8), spacing=SP, labels={1: "L1"}), "L1", **kw)


def test_two_discs_one_label_sum_of_fragments(caplog: pytest.LogCaptureFixture) -> None:
    """Two 12 mm discs under one label: the LD ran between them (54.7 mm) while the viable
    diameter on the same mask was 12.1 mm.  Now both are the sum of the fragments' (RECIST 1.1's
    split lesion), each fragment measured exactly as it is alone, and a warning says so."""
    m = _discs([(15, 15), (45, 45)])
    lab = LabelVolume.create(m, spacing=SP, labels={1: "L1"})
    y, x = np.mgrid[:60, :60]
    first = np.broadcast_to((y < 30) & (x < 30), m.shape)
    a, b = _alone(m, first, viable=lab), _alone(m, ~first, viable=lab)
    assert 11.0 < a.longest_diameter_mm < 13.0 and 11.0 < b.longest_diameter_mm < 13.0  # 12 mm discs
    with caplog.at_level(logging.WARNING):
        r = measure_lesion(lab, "L1", viable=lab)
    assert r.n_fragments == 2
    assert r.longest_diameter_mm == a.longest_diameter_mm + b.longest_diameter_mm
    assert sorted(r.fragment_diameters_mm) == sorted([a.longest_diameter_mm, b.longest_diameter_mm])
    # mRECIST follows the same fragments: fully viable, so the viable diameter is the RECIST LD
    assert r.viable_diameter_mm == a.viable_diameter_mm + b.viable_diameter_mm
    assert r.viable_diameter_mm == pytest.approx(r.longest_diameter_mm)
    assert r.who_product_mm2 == pytest.approx(a.who_product_mm2 + b.who_product_mm2)
    assert r.easl_product_mm2 == pytest.approx(a.easl_product_mm2 + b.easl_product_mm2)
    assert r.volume_mm3 == a.volume_mm3 + b.volume_mm3 and r.necrosis_fraction == 0.0
    # the endpoints are those of one fragment (on its slice), never a line between them
    (p, q) = r.ld_endpoints_lps
    assert np.hypot(p[0] - q[0], p[1] - q[1]) == pytest.approx(max(a.longest_diameter_mm, b.longest_diameter_mm))
    assert "L1 has 2 separate pieces" in r.fragments_note and "separate labels" in r.fragments_note
    assert any("L1 has 2 separate pieces" in rec.getMessage() for rec in caplog.records)
    d = r.to_dict()
    assert d["n_fragments"] == 2 and len(d["fragment_diameters_mm"]) == 2 and d["fragments_note"] == r.fragments_note


def test_hull_measures_one_object() -> None:
    """fragments="hull": the label as one object (the LD between the discs, as before), still noted."""
    m = _discs([(15, 15), (45, 45)])
    lab = LabelVolume.create(m, spacing=SP, labels={1: "L1"})
    r = measure_lesion(lab, "L1", fragments="hull")
    assert r.longest_diameter_mm > 50.0  # corner to corner of the two discs: 30 sqrt 2 + 12
    assert r.n_fragments == 2 and r.fragment_diameters_mm is None
    assert "fragments='hull'" in r.fragments_note
    with pytest.raises(fr.FragmentsParameterError):
        measure_lesion(lab, "L1", fragments="largest")


def test_one_piece_record_unchanged() -> None:
    """A lesion of one piece: no fragment fields in its record, the same numbers either rule."""
    m = _discs([(30, 30)], r=10.0)
    lab = LabelVolume.create(m, spacing=SP, labels={1: "L1"})
    s, h = measure_lesion(lab, "L1", viable=lab), measure_lesion(lab, "L1", viable=lab, fragments="hull")
    assert s == h and s.n_fragments == 1 and s.fragments_note is None
    assert "n_fragments" not in s.to_dict() and "fragments" not in s.provenance.parameters


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (2.5, 0.7, 0.7)], ids=["iso1", "ct2.5"])
def test_noise_specks_never_change_the_diameters(spacing) -> None:
    """A 20 mm ball with three 1-2-voxel specks of the same label around it: the LD, short axis,
    Feret and viable diameter are the ball's alone (they ran to the specks); the volume counts
    every voxel."""
    n = [int(np.ceil(40 / s)) for s in spacing]
    k, j, i = np.indices(n).astype(float)
    z, y, x = [(a - (mm - 1) / 2) * s for a, mm, s in zip((k, j, i), n, spacing, strict=True)]
    ball = (z * z + y * y + x * x <= 10.0**2).astype(np.uint8)
    noisy = ball.copy()
    c = [mm // 2 for mm in n]
    noisy[c[0], 1, 1] = 1
    noisy[c[0], -2, c[2]] = noisy[c[0], -2, c[2] + 1] = 1  # two voxels: 1.4 mm at 0.7 mm
    noisy[0, c[1], -2] = 1
    assert ndimage.label(noisy, np.ones((3, 3, 3)))[1] == 4
    b = measure_lesion(LabelVolume.create(ball, spacing=spacing), 1, viable=LabelVolume.create(ball, spacing=spacing))
    r = measure_lesion(LabelVolume.create(noisy, spacing=spacing), 1, viable=LabelVolume.create(noisy, spacing=spacing))
    assert r.n_fragments == 1 and r.fragments_note is None
    assert r.longest_diameter_mm == b.longest_diameter_mm and r.ld_endpoints_lps == b.ld_endpoints_lps
    assert r.short_axis_mm == b.short_axis_mm and r.feret_3d_mm == b.feret_3d_mm
    assert r.viable_diameter_mm == b.viable_diameter_mm
    assert r.volume_mm3 == pytest.approx(b.volume_mm3 + 4 * float(np.prod(spacing)))
    assert r.viable_volume_mm3 == r.volume_mm3  # every voxel viable, the specks' too


def test_viable_follows_the_fragments() -> None:
    """Two discs, only one with viable tissue: the viable diameter is that fragment's (the other
    adds 0 mm), the RECIST LD the sum of both."""
    m = _discs([(15, 15), (45, 45)])
    y, x = np.mgrid[:60, :60]
    first = np.broadcast_to((y < 30) & (x < 30), m.shape)
    via = LabelVolume.create(np.where(first, m, 0).astype(np.uint8), spacing=SP)
    r = measure_lesion(LabelVolume.create(m, spacing=SP, labels={1: "L1"}), "L1", viable=via)
    a = _alone(m, first, viable=via)
    assert sorted(r.fragment_viable_diameters_mm) == [0.0, a.viable_diameter_mm]
    assert r.viable_diameter_mm == a.viable_diameter_mm
    assert r.necrosis_fraction == pytest.approx(0.5)
    assert r.n_fragments == 2 and r.longest_diameter_mm > 2 * a.longest_diameter_mm - 1e-9


def test_measure_labels_and_batch_rows_carry_the_note() -> None:
    from hcc_imaging.batch.tables import _lesion_rows

    m = _discs([(15, 15), (45, 45)])
    m[1:4, 28:32, 5:9] = 2  # a second, one-piece label
    (r1, r2) = measure_labels(LabelVolume.create(m, spacing=SP, labels={1: "L1", 2: "L2"}))
    assert r1.n_fragments == 2 and r2.n_fragments == 1
    rows = _lesion_rows({"lesions": [r1.to_dict(), r2.to_dict()]}, "BL")
    assert rows[0]["mask_problems"] == r1.fragments_note and rows[1]["mask_problems"] == ""


def test_n_pieces_equals_scipy_26_connectivity(monkeypatch: pytest.MonkeyPatch) -> None:
    """The compiled count and the scipy path give scipy's 26-connected count."""
    from hcc_imaging.measure import _kernels

    rng = np.random.default_rng(7)
    masks = []
    for s in range(300):
        a = rng.random((int(rng.integers(1, 7)), int(rng.integers(1, 14)), int(rng.integers(1, 14)))) < rng.uniform(0.05, 0.9)
        if s % 3 == 0:
            a = ndimage.binary_closing(a, iterations=2)
        masks.append(a)
    want = [ndimage.label(a, np.ones((3, 3, 3)))[1] for a in masks]
    assert [fr.n_pieces(a) for a in masks] == want
    # a strided view (as a lesion's crop of its label map) is read in place
    assert [fr.n_pieces(np.pad(a, 2)[1:-1, ::-1, 2:-2]) for a in masks] == want
    monkeypatch.setattr(_kernels, "get", lambda name: None)
    assert [fr.n_pieces(a) for a in masks] == want


@pytest.mark.slow
def test_ircadb17_two_tumours_one_label(ircadb17: Path) -> None:
    """3D-IRCADb-01 patient 17's two expert tumour masks as one binary mask (a segmentation
    network's single 'tumour' label): one lesion with LD 177.7 mm across the liver; now the sum of
    the two tumours' LDs, each exactly as measured apart (65.4 + 77.8 mm)."""
    from hcc_imaging.io import load_series
    from hcc_imaging.io.masks import load_mask

    ct = load_series(ircadb17 / "PATIENT_DICOM")
    t1, t2 = (load_mask(ircadb17 / "MASKS_DICOM" / n, reference=ct) for n in ("livertumor1", "livertumor2"))
    (m1,), (m2,) = measure_labels(t1, image=ct), measure_labels(t2, image=ct)
    both = LabelVolume.like(ct, ((np.asarray(t1.array) != 0) | (np.asarray(t2.array) != 0)).astype(np.uint8))
    (m,) = measure_labels(both, image=ct)
    assert m.n_fragments == 2
    assert m.longest_diameter_mm == m1.longest_diameter_mm + m2.longest_diameter_mm
    assert round(m.longest_diameter_mm, 1) == 143.2
    assert m.volume_mm3 == m1.volume_mm3 + m2.volume_mm3
    (h,) = measure_labels(both, image=ct, fragments="hull")
    assert h.longest_diameter_mm > 170.0  # the old one-object LD, 177.7 mm
