"""An assessment of an older version of the read (a diameter corrected after ``assess``) is refused
by every export that takes one: its responses ("sum 67 mm, SD") would sit beside the corrected
measurements (L1 90 mm, which the read makes PD).  ``assess --json`` records the read's content
hash (``read_sha256``); an older assessment without it is checked by its sums."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hcc_imaging.cli import main
from hcc_imaging.export.model import ExportInputError, as_export_read
from hcc_imaging.response import ReadDocument
from hcc_imaging.response.engine import assess
from hcc_imaging.response.fingerprint import read_sha256

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "read_tace.json"


@pytest.fixture
def stale(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Path]:
    """read.json (L1 at FU2 corrected 46 -> 90 mm after it was assessed), a.json (assess --json of the
    read before), a_old.json (the same without read_sha256, as assess wrote it before 2026-12-06)."""
    read = json.loads(EXAMPLE.read_text())
    before = tmp_path / "before.json"
    before.write_text(json.dumps(read))
    assert main(["assess", str(before), "--criteria", "recist1.1,mrecist", "--json"]) == 0
    a = json.loads(capsys.readouterr().out)
    assert a["read_sha256"] == read_sha256(ReadDocument.from_json(read))
    (tmp_path / "a.json").write_text(json.dumps(a))
    (tmp_path / "a_old.json").write_text(json.dumps({k: v for k, v in a.items() if k != "read_sha256"}))
    fu2 = read["timepoints"][2]["lesions"][0]
    assert (fu2["lesion_id"], fu2["longest_diameter_mm"]) == ("L1", 46.0)
    fu2["longest_diameter_mm"] = 90.0
    (tmp_path / "read.json").write_text(json.dumps(read))
    return {"before": before, "read": tmp_path / "read.json", "a": tmp_path / "a.json",
            "a_old": tmp_path / "a_old.json"}


def _out(tmp_path: Path, kind: str) -> Path:
    return tmp_path / {"report": "r.html", "sr": "sr.dcm"}.get(kind, "out")


@pytest.mark.parametrize("which", ["a", "a_old"])
@pytest.mark.parametrize("kind", ["report", "csv", "sr", "sdtm"])
def test_stale_assessment_is_refused_by_every_export(tmp_path: Path, stale, capsys, kind: str, which: str) -> None:
    out = _out(tmp_path, kind)
    rc = main(["export", kind, str(stale["read"]), "--assessment", str(stale[which]), "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert f"--assessment {stale[which]}" in err and str(stale["read"]) in err  # both files
    assert "RECIST1.1 sum at FU2: 67 mm in the assessment, 111 mm from the read" in err  # what differs
    assert "hcc-imaging assess" in err and "Traceback" not in err  # the way out
    assert ("read_sha256" in err) == (which == "a")
    assert not out.exists()


def test_stale_assessment_is_refused_in_a_cohort_report(tmp_path: Path, stale, capsys) -> None:
    rc = main(["export", "report", str(stale["before"]), str(stale["read"]), "--assessment", str(stale["a"]),
               "--assessment", str(stale["a"]), "--out", str(tmp_path / "cohort") + "/"])
    err = capsys.readouterr().err
    assert rc == 2 and f"the read {stale['read']}" in err and "sum at FU2" in err
    assert not (tmp_path / "cohort").exists()


@pytest.mark.parametrize("which", ["a", "a_old"])
def test_the_assessment_of_the_read_as_it_is_is_accepted(tmp_path: Path, stale, capsys, which: str) -> None:
    """The read it was made from passes, also as the JSON read ``export csv`` writes (the read wrapped,
    derived tracking UIDs added: they change no response and are not hashed)."""
    assert main(["export", "csv", str(stale["before"]), "--assessment", str(stale[which]),
                 "--out", str(tmp_path / "t")]) == 0
    (wrapped,) = (tmp_path / "t" / "reads").glob("*.json")
    assert "tracking_uid" in wrapped.read_text() and "tracking_uid" not in stale["before"].read_text()
    assert main(["export", "report", str(wrapped), "--assessment", str(stale[which]),
                 "--out", str(tmp_path / "r.html")]) == 0
    bor = (tmp_path / "r.html").read_text().split("Best overall response")[1][:400]
    assert '<td>RECIST1.1</td><td><span class="resp SD">SD</span>' in bor  # the assessment's BOR


def test_the_python_api_refuses_it_too(stale) -> None:
    read = json.loads(stale["read"].read_text())
    for which in ("a", "a_old"):
        with pytest.raises(ExportInputError, match=r"RECIST1\.1 sum at FU2: 67 mm in the assessment, 111 mm"):
            as_export_read(read, json.loads(stale[which].read_text()))
    # a fresh assessment (the Assessment object as well as its JSON) goes with it
    fresh = assess(ReadDocument.from_json(read), ["recist1.1"])
    assert as_export_read(read, fresh).summary_for("RECIST1.1").bor_unconfirmed == "PD"


def test_a_change_that_leaves_the_sums_is_refused_when_the_hash_is_recorded(stale) -> None:
    """A changed note leaves every sum as it was: the hash still tells the read changed; an old
    assessment (no hash) has nothing else to go by and is accepted."""
    read = json.loads(stale["before"].read_text())
    read["timepoints"][1]["note"] = "re-read after adjudication"
    with pytest.raises(ExportInputError, match="read_sha256.*its sums are the same, but another field changed"):
        as_export_read(read, json.loads(stale["a"].read_text()))
    as_export_read(read, json.loads(stale["a_old"].read_text()))


def test_read_hash_ignores_layout_and_tracking_uids() -> None:
    """Key order, indentation, 46 / 46.0, a day written or computed from the date, tracking UIDs:
    same hash; a diameter: another."""
    read = json.loads(EXAMPLE.read_text())
    h = read_sha256(ReadDocument.from_json(read))
    shuffled = json.loads(json.dumps(read, sort_keys=True, indent=4))
    for tp in shuffled["timepoints"]:
        for les in tp["lesions"]:
            les["tracking_uid"] = "2.25.1234"
            if les.get("longest_diameter_mm") == 46.0:
                les["longest_diameter_mm"] = 46
    assert read_sha256(ReadDocument.from_json(shuffled)) == h
    shuffled["timepoints"][2]["lesions"][0]["longest_diameter_mm"] = 46.5
    assert read_sha256(ReadDocument.from_json(shuffled)) != h
