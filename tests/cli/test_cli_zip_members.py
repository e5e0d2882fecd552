"""``"archive.zip::member/path"`` strings on the command line (docs/io.md): a file of the zip loads,
a folder of the zip loads the series under it (as a folder path does), a member the zip lacks is a
named error listing what the zip holds (exit 2; a raw ``KeyError`` traceback, exit 1, before), and
``index`` / ``segment`` / ``measure`` take them too (they said the path "does not exist")."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from hcc_imaging.cli import main
from hcc_imaging.errors import SourceNotFoundError
from hcc_imaging.io import load_series
from hcc_imaging.io.index import resolve_zip_member

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "liver_phantom"


@pytest.fixture(scope="module")
def lp_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The arterial and portal-venous baseline series of the sample, zipped as ``zip -r`` would."""
    z = tmp_path_factory.mktemp("zip") / "lp.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("baseline/", "")
        for phase in ("arterial", "portal_venous"):
            zf.writestr(f"baseline/{phase}/", "")
            for f in sorted((SAMPLE / "baseline" / phase).iterdir()):
                zf.write(f, f"baseline/{phase}/{f.name}")
        zf.write(SAMPLE / "truth.json", "truth.json")
    return z


def _json_out(capsys: pytest.CaptureFixture[str]) -> dict:
    cap = capsys.readouterr()
    assert "Traceback" not in cap.err
    return json.loads(cap.out)


def test_a_folder_inside_the_zip_loads_its_series(lp_zip: Path, capsys) -> None:
    assert main(["load", f"{lp_zip}::baseline/arterial", "--json"]) == 0
    got = _json_out(capsys)
    assert main(["load", str(SAMPLE / "baseline" / "arterial"), "--json"]) == 0
    want = _json_out(capsys)
    assert got["series_instance_uid"] == want["series_instance_uid"]
    assert got["shape"] == want["shape"]
    # a trailing slash is the same folder
    assert main(["load", f"{lp_zip}::baseline/arterial/", "--json"]) == 0
    assert _json_out(capsys)["series_instance_uid"] == want["series_instance_uid"]


def test_a_file_inside_the_zip_still_loads_one_file(lp_zip: Path) -> None:
    first = sorted(p.name for p in (SAMPLE / "baseline" / "arterial").iterdir())[0]
    files, skipped = resolve_zip_member(f"{lp_zip}::baseline/arterial/{first}")
    assert files == [f"{lp_zip}::baseline/arterial/{first}"] and skipped == []
    # a leading slash names the same member (it gave a KeyError)
    assert resolve_zip_member(f"{lp_zip}::/baseline/arterial/{first}")[0] == files
    assert load_series(f"{lp_zip}::/baseline/arterial/{first}").shape[0] == 1


@pytest.mark.parametrize("member", ["nonexist.dcm", "baseline/venous", "baseline/arter"])
def test_a_member_the_zip_lacks_is_a_named_error(lp_zip: Path, capsys, member: str) -> None:
    assert main(["load", f"{lp_zip}::{member}"]) == 2
    cap = capsys.readouterr()
    assert "Traceback" not in cap.err and "KeyError" not in cap.err
    assert cap.err.startswith(f"error: SourceNotFoundError: ZIP {lp_zip} has no member '{member}'; "
                              "its top-level entries are 'baseline/', 'truth.json'."), cap.err
    with pytest.raises(SourceNotFoundError, match="has no member"):
        load_series(f"{lp_zip}::{member}")


def test_index_takes_a_folder_inside_the_zip(lp_zip: Path, capsys) -> None:
    assert main(["index", f"{lp_zip}::baseline/arterial", "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("LIVER ARTERIAL") >= 1 and "PORTAL" not in out


def test_measure_takes_a_zip_member_study(lp_zip: Path, capsys) -> None:
    argv = ["measure", f"{lp_zip}::baseline/portal_venous", "--masks", str(SAMPLE / "baseline" / "masks" / "lesions.nii.gz"),
            "--json"]
    assert main(argv) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["lesion_id"] for r in rows} >= {"L1", "L2"}


def test_measure_says_a_zip_folder_is_no_mask(lp_zip: Path, capsys) -> None:
    # a SEG / RTSTRUCT file of a zip is read (tests/measure/test_measure_zip_masks.py); a folder is not
    assert main(["measure", f"{lp_zip}::baseline/portal_venous", "--masks", f"{lp_zip}::baseline/arterial"]) == 2
    err = capsys.readouterr().err
    assert "is a folder of the zip" in err and "one DICOM SEG or RTSTRUCT file" in err and "Traceback" not in err


def test_segment_takes_a_zip_member_series(lp_zip: Path, tmp_path: Path, capsys) -> None:
    # the existence check passes (it said "does not exist" before); the segmenter itself answers
    rc = main(["segment", f"{lp_zip}::baseline/arterial", "--seed", "5,5,5", "--out", str(tmp_path / "m.nii.gz")])
    err = capsys.readouterr().err
    assert "does not exist" not in err and "Traceback" not in err
    assert rc == 2 and "LowContrastError" in err, err
    assert main(["segment", f"{lp_zip}::nope", "--seed", "5,5,5", "--out", str(tmp_path / "m.nii.gz")]) == 2
    assert "has no member 'nope'" in capsys.readouterr().err
