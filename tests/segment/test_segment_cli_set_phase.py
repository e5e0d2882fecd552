"""``hcc-imaging segment --set-phase WHICH=PHASE`` (hcc_imaging.commands._segment_phase): a series'
phase stated by the user, as the API's ``phase_overrides``.  An ``unknown`` series could not get
``--viable-out`` nor ``--phase arterial`` ("SERIES holds ['unknown']"; tester finding, issue 5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hcc_imaging.cli import main
from hcc_imaging.commands._segment_phase import parse_set_phase, series_overrides
from hcc_imaging.commands.segment import SegmentArgumentError
from hcc_imaging.io import index_archive
from hcc_imaging.volume import Phase

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "liver_phantom"


def test_a_nifti_series_phase_is_set_on_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import SimpleITK as sitk

    from ._phantom import perf_phantom

    ph = perf_phantom(0)
    img = tmp_path / "ct.nii.gz"
    sitk.WriteImage(ph.volume.to_sitk(), str(img))
    seed = ",".join(map(str, ph.seed_index))
    assert main(["segment", str(img), "--seed", seed, "--phase", "arterial", "--out", str(tmp_path / "m.nii.gz")]) == 2
    assert "SERIES holds ['unknown']" in capsys.readouterr().err
    assert main(["segment", str(img), "--seed", seed, "--set-phase", "unknown=arterial", "--phase", "arterial",
                 "--out", str(tmp_path / "m.nii.gz"), "--json"]) == 0  # old code: no such option (exit 2)
    assert json.loads(capsys.readouterr().out)["provenance"]["phase"] == "arterial"


def test_which_names_one_series_by_uid_description_or_phase() -> None:
    series = index_archive(SAMPLE / "baseline").studies[0].series
    art = next(s for s in series if s.phase.phase == Phase.ARTERIAL)
    assert series_overrides(parse_set_phase([f"{art.series_instance_uid}=delayed"]), series, "B") == {
        art.series_instance_uid: Phase.DELAYED}
    assert series_overrides(parse_set_phase([f"{art.series_description.upper()}=delayed"]), series, "B") == {
        art.series_instance_uid: Phase.DELAYED}
    assert series_overrides(parse_set_phase(["arterial=arterial_late"]), series, "B") == {
        art.series_instance_uid: Phase.ARTERIAL_LATE}
    with pytest.raises(SegmentArgumentError, match=r"--set-phase nothing=arterial: no series of SERIES B.*called"):
        series_overrides(parse_set_phase(["nothing=arterial"]), series, "B")
    with pytest.raises(SegmentArgumentError, match=r"'venus' is not a phase; give one of"):
        parse_set_phase(["unknown=venus"])
    with pytest.raises(SegmentArgumentError, match=r"give WHICH=PHASE"):
        parse_set_phase(["arterial"])
