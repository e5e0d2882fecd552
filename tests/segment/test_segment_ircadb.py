"""3D-IRCADb-01 patient 17 (real contrast CT, expert masks): liver and tumour segmentation.

Honest regression floors at the values measured when this was written (docs/validation.md
section 2.3).  Algorithm 1.2 (star-shaped refinement) reaches the issue's tumour target (>= 0.85
from one click at the centre) with the expert liver mask: 0.890 / 0.868.  Without a liver mask
tumour 2 leaks into the soft tissue next to the liver (0.592).  The classical liver mask reaches
0.946 (target 0.90; 0.913 before it left out the extrahepatic IVC and the heart over the dome)
with the tumour-inclusion and dark-edge steps and holds both tumours' centres; a click with that
mask gives 0.866 / 0.858 since the liver's step 6b (a hypodense tumour's capsular rim in front of
the lung, shaped on this case; 0.838 / 0.858 with 1.56's step 2c alone, rays past the classical
mask where the tumour's tissue goes on; 0.834 / 0.844 before it, 0.834 / 0.820 before the IVC and
heart steps, 0.849 / 0.823 before the dark-edge step; docs/validation.md sections 2.3 and 5); the
floors keep these from getting worse.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hcc_imaging.io import load_series
from hcc_imaging.io.masks import load_mask
from hcc_imaging.measure import measure_lesion
from hcc_imaging.segment import segment_lesion, segment_liver

from ._phantom import dice

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ircad(ircadb17: Path):  # type: ignore[no-untyped-def]
    ct = load_series(ircadb17 / "PATIENT_DICOM")
    liver = load_mask(ircadb17 / "MASKS_DICOM" / "liver", ct)
    tumours = {p.name: load_mask(p, ct) for p in sorted((ircadb17 / "MASKS_DICOM").glob("livertumor*"))}
    assert len(tumours) == 2
    return ct, liver, tumours


@pytest.fixture(scope="module")
def our_liver(ircad):  # type: ignore[no-untyped-def]
    return segment_liver(ircad[0])


def _centre(mask: np.ndarray) -> tuple[int, int, int]:
    idx = np.argwhere(mask)
    return tuple(int(v) for v in idx[np.argmin(((idx - idx.mean(0)) ** 2).sum(1))])  # type: ignore[return-value]


def test_liver_dice_vs_expert(ircad, our_liver) -> None:  # type: ignore[no-untyped-def]
    _, liver, _ = ircad
    # measured 0.946 (0.9456 with step 6b, 0.9459 before it; 0.927 with the IVC step alone, 0.913
    # before the IVC and heart steps, 0.909 before the dark-edge refinement, 0.906 before the
    # nearest-organ trim, 0.896 before tumour inclusion)
    assert dice(our_liver.array, liver.array) >= 0.94
    assert our_liver.meta["tumour_pieces_included"] >= 1
    assert our_liver.meta["ivc_voxels_removed"] > 0 and our_liver.meta["heart_voxels_removed"] > 0
    assert our_liver.meta["tumour_rim_voxels"] > 0  # step 6b: tumour 1's capsular rim


@pytest.mark.parametrize("name", ["livertumor1", "livertumor2"])
def test_tumours_are_inside_our_liver(ircad, our_liver, name: str) -> None:  # type: ignore[no-untyped-def]
    """Tumour 1 bulges out of the dome with a necrotic core; before the tumour-inclusion step our
    mask held 39 % of it and not its centre (tumour 2: 67 %)."""
    ct, _, tumours = ircad
    tm = tumours[name].array > 0
    assert our_liver.array[_centre(tm)]
    # measured 0.963 / 0.955 (step 6b; 0.931 / 0.954 before it, 0.894 / 0.957 before the dark-edge refinement)
    assert (tm & (our_liver.array > 0)).sum() / tm.sum() >= {"livertumor1": 0.95, "livertumor2": 0.85}[name]
    click = segment_lesion(ct, seed_index=_centre(tm), liver=our_liver)
    # 1.56: the classical mask's border is trusted up to LESION_RADIAL_EXOPHYTIC_MM (step 2c): tumour
    # 2's part that our liver cuts off against the stomach is reached, 0.844 -> 0.858 (the issue's
    # 0.85 met with our liver); tumour 1 0.834 -> 0.838 (its capsular part steps down at our border,
    # as a diaphragm does, and is left out: not met); the liver's step 6b takes that capsular rim
    # into our liver (tumour 1 held 0.931 -> 0.963): 0.838 -> 0.866, the 0.85 met for both
    assert click.parameters["past_liver_mask_mm"] == 12.0
    # before 1.56: 0.834 / 0.844 with the liver's IVC and heart steps (tumour 2's mask no longer runs
    # into the heart; 0.834 / 0.820 before them); 0.849 / 0.823 before the liver's dark-edge refinement, which moved
    # the liver border out to the half-maximum level: the liver gains, tumour 1's click loses
    # bright interior voxels, docs/validation.md section 5; 0.827 / 0.810 before step 2b continued
    # rays past the mask's border to a darker edge and the liver's tumour pieces were trimmed to
    # the tissue nearer the liver than another organ; expert liver: 0.890 / 0.868)
    floor = {"livertumor1": 0.85, "livertumor2": 0.85}[name]  # measured 0.866 / 0.858
    assert dice(click.labels.array, tm) >= floor
    # the expert's longest diameter drawn as a line with our liver: its mask leaks to the clamp and
    # the click at its midpoint replaces it (1.38; 0.705 / 0.463 in 1.37): measured 0.866 / 0.850
    # (0.834 / 0.846 before the liver's step 6b, 0.829 / 0.835 before 1.56's step 2c, 0.829 / 0.794
    # before the liver's IVC and heart steps)
    ends = measure_lesion(tumours[name], 1).ld_endpoints_lps
    line = segment_lesion(ct, line_lps=ends, liver=our_liver)
    assert dice(line.labels.array, tm) >= {"livertumor1": 0.85, "livertumor2": 0.84}[name]


@pytest.mark.parametrize("name", [pytest.param("livertumor1", id="tumour1"), pytest.param("livertumor2", id="tumour2")])
def test_tumour_from_one_click_and_from_a_line(ircad, name: str) -> None:  # type: ignore[no-untyped-def]
    ct, liver, tumours = ircad
    tm = tumours[name]
    idx = np.argwhere(tm.array)
    centre = idx[np.argmin(((idx - idx.mean(0)) ** 2).sum(1))]
    seed = tuple(int(v) for v in centre)
    expert = measure_lesion(tm, 1)
    click = segment_lesion(ct, seed_index=seed, liver=liver)
    assert dice(click.labels.array, tm.array) >= 0.85  # measured 0.890 / 0.868 (1.2: 0.892 / 0.870; 1.1: 0.547 / 0.611)
    # the expert's (imported) mask is the reader's border: step 2c is off, the masks as before 1.56
    assert click.parameters["past_liver_mask_mm"] == 0.0
    assert any("star-shaped" in n for n in click.notes)
    ld_click = measure_lesion(click.labels, 1).longest_diameter_mm
    assert 0.75 * expert.longest_diameter_mm <= ld_click <= 1.25 * expert.longest_diameter_mm  # 64.3 vs 65.0, 60.6 vs 77.6
    bare = segment_lesion(ct, seed_index=seed)
    floor = {"livertumor1": 0.85, "livertumor2": 0.55}[name]  # measured 0.883 / 0.592 (1.1: 0.319 / 0.367)
    assert dice(bare.labels.array, tm.array) >= floor
    line = segment_lesion(ct, line_lps=expert.ld_endpoints_lps, liver=liver)
    # 1.38: the line's own mask reaches the leak clamp (0.743 / 0.715 in 1.37: a line runs no step 8,
    # the star-shaped estimate of a heterogeneous lesion); the click at its midpoint covers the line
    # and ends inside the clamp, and replaces it: measured 0.874 / 0.854
    assert dice(line.labels.array, tm.array) >= 0.85
    assert "the mask is the one a click at the line's midpoint gives" in line.notes[0]
    assert line.line_lps is not None and np.allclose(line.line_lps, expert.ld_endpoints_lps)
    ld = measure_lesion(line.labels, 1).longest_diameter_mm
    # the click's mask, so the click's bounds (tumour 2: 61.4 vs 77.8, as the centre click's 60.6; the
    # 1.37 line's mask ran to the clamp and was longer than the tumour)
    assert 0.75 * expert.longest_diameter_mm <= ld <= 1.25 * expert.longest_diameter_mm
    # without a liver mask the click at the midpoint is refused (no border there), and the line's
    # leaked mask is returned as before, flagged
    free = segment_lesion(ct, line_lps=expert.ld_endpoints_lps)
    assert dice(free.labels.array, tm.array) < 0.5  # measured 0.239 / 0.135
    assert any("leak clamp" in n and "click at the line's" not in n for n in free.notes)
    assert "line_clamp" in free.checks and "line_clamp" not in line.checks


def test_both_tumours_carried_to_a_moved_copy(ircad) -> None:  # type: ignore[no-untyped-def]
    """``segment.carry.carry_lesions`` on real CT: the expert's two tumour masks carried, with the
    liver (``in_liver``: the registration read in our liver mask, the tumours kept in the copy's),
    to the same CT with the patient moved 15 / -12 pixels (11 / -9 mm) in the plane, as a follow-up
    on which nothing changed: the registration finds the shift (within a pixel at the tumours), and
    each tumour is found where it moved to, as well as a click at its centre finds it on the
    original with our liver (0.838 / 0.858 since 1.56's step 2c, 0.834 / 0.844 before it and since
    the liver's IVC and heart steps, 0.834 / 0.820 before those; floors as there)."""
    from hcc_imaging.segment.carry import carry_lesions
    from hcc_imaging.volume import LabelVolume

    from ._phantom import shifted_in_plane

    ct, _, tumours = ircad
    dy, dx = 15, -12
    moved = ct.with_array(shifted_in_plane(np.asarray(ct.array), dy, dx, -1024))
    labels = np.zeros(ct.shape, np.uint16)
    for n, name in enumerate(("livertumor1", "livertumor2"), start=1):
        labels[np.asarray(tumours[name].array) > 0] = n
    c = carry_lesions(ct, LabelVolume.like(ct, labels, labels={1: "T1", 2: "T2"}), moved, in_liver=True)
    assert c.registration_in_liver and c.liver is not None and c.failed == {}
    assert c.registration_problems == ()  # the check passes a good registration on real CT
    shift_mm = np.array([dx * ct.spacing[2], dy * ct.spacing[1]])  # LPS x = columns, y = rows
    for n, name in enumerate(("livertumor1", "livertumor2"), start=1):
        moved_by = c.seeds_lps[n] - c.centres_lps[n]
        assert np.allclose(moved_by[:2], shift_mm, atol=ct.spacing[1]) and abs(moved_by[2]) <= ct.spacing[0]
        truth = shifted_in_plane(np.asarray(tumours[name].array) > 0, dy, dx, False)
        # measured 0.838 / 0.858 (0.834 / 0.844 before 1.56's step 2c, 0.834 / 0.820 before the
        # liver's IVC and heart steps; the shift recovered within 0.15 mm)
        assert dice(np.asarray(c.labels.array) == n, truth) >= {"livertumor1": 0.83, "livertumor2": 0.85}[name]


def _parenchyma_clicks(tumours, liver, n: int = 5) -> list[tuple[str, tuple[int, int, int]]]:  # type: ignore[no-untyped-def]
    """``n`` clicks in the expert's liver 2-6 mm from a tumour and ``n`` at least 10 mm from both (seeded)."""
    from scipy import ndimage as ndi

    tum = np.zeros(liver.shape, bool)
    for t in tumours.values():
        tum |= np.asarray(t.array) > 0
    inside = np.asarray(liver.array) > 0
    d = ndi.distance_transform_edt(~tum, sampling=liver.spacing)
    rng = np.random.default_rng(0)
    out: list[tuple[str, tuple[int, int, int]]] = []
    for where, pool in (("near", inside & (d >= 2) & (d <= 6)), ("far", inside & (d >= 10))):
        idx = np.argwhere(pool)
        out += [(where, tuple(int(v) for v in idx[k])) for k in rng.choice(len(idx), n, replace=False)]
    return out


def test_parenchyma_clicks_are_refused_or_flagged(ircad) -> None:  # type: ignore[no-untyped-def]
    """A click on the liver's parenchyma of real CT (no lesion there) never returns a mask silently: it is
    refused, or its mask is step 8's star-shaped estimate and says so (the note asks to check it on every
    slice).  Measured (session of 2026-12-07, eighth; docs/validation.md section 2.3, "Clicks on the
    parenchyma"): of these 10 clicks, without a liver mask 6 are refused and 4 give star masks; with the
    expert's liver mask 8 and 2 (of a 20-click sample: 11 and 13 refused, star masks of 36-304 and 15-190
    mL).  Those masks' median lies 1-18 HU from the surroundings (the tumours' 35-54 HU): such a mask is the
    parenchyma, flagged, not refused; the floors keep the refusals from getting fewer."""
    from hcc_imaging.segment.errors import SegmentationError

    ct, liver, tumours = ircad
    clicks = _parenchyma_clicks(tumours, liver)
    counts: dict[str, tuple[int, int]] = {}
    for mask_name, liv in (("none", None), ("expert", liver)):
        refused = flagged = 0
        for where, seed in clicks:
            try:
                r = segment_lesion(ct, seed_index=seed, liver=liv)
            except SegmentationError:
                refused += 1
                continue
            assert any("star-shaped" in n and "check it" in n for n in r.notes), (mask_name, where, seed, r.notes)
            flagged += 1
        counts[mask_name] = (refused, flagged)
    assert counts["none"][0] >= 6 and counts["expert"][0] >= 8, counts  # measured (6, 4) and (8, 2)
