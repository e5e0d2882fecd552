"""SDTM TU / TR / RS: exact result values, --SEQ and link ids across reads, CDISC lengths."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hcc_imaging.export.sdtm import write_sdtm

from .conftest import read_document


def _doc(bl: float, fu: float, vol_bl: float, vol_fu: float, patient: str = "FMT-01", reader: str = "R1") -> dict:
    return {"schema_version": "1.0", "patient_id": patient, "reader_id": reader, "timepoints": [
        {"id": "BL", "date": "2024-01-10", "lesions": [
            {"lesion_id": "L1", "role": "target", "longest_diameter_mm": bl, "volume_mm3": vol_bl}]},
        {"id": "FU1", "date": "2024-03-10", "lesions": [
            {"lesion_id": "L1", "role": "target", "longest_diameter_mm": fu, "volume_mm3": vol_fu}]},
    ]}


def _assessment(patient: str = "FMT-01", reader: str = "R1", bl: float = 100.01, fu: float = 70.01) -> dict:
    """A hand-made assessment of ``_doc(bl, fu, ...)`` (its sums are the read's: a stale one is refused)."""
    return {"patient_id": patient, "reader_id": reader, "results": {"RECIST1.1": {"timepoints": [
        {"id": "BL", "sum": bl, "response": None},
        {"id": "FU1", "sum": fu, "change_from_baseline": -0.29997, "change_from_nadir": -0.29997,
         "target_response": "SD", "response": "SD"},
    ]}}}


def test_sdtm_results_keep_every_digit_and_no_exponent(tmp_path: Path) -> None:
    info = write_sdtm(_doc(100.01, 70.01, 23456.78, 1232.43), tmp_path, assessments=_assessment())
    tr = pd.read_csv(info.tr, keep_default_na=False, dtype=str)
    got = {(r.VISIT, r.TRTESTCD): (r.TRORRES, r.TRSTRESC, float(r.TRSTRESN)) for r in tr.itertuples()}
    assert got[("BASELINE", "LDIAM")] == ("100.01", "100.01", 100.01)
    assert got[("BASELINE", "VOLUME")] == ("23456.78", "23456.78", 23456.78)
    assert got[("FU1", "VOLUME")] == ("1232.43", "1232.43", 1232.43)
    assert got[("BASELINE", "SUMDIAM")] == ("100.01", "100.01", 100.01)
    assert got[("FU1", "PCBSD")] == ("-29.997", "-29.997", -29.997)  # not -30: PR's -30 % is not met
    assert got[("FU1", "LDIAM")][0] == "70.01"
    assert not any("e" in v.lower() for v in tr.TRORRES if v[:1].isdigit() or v[:1] == "-")


def test_sdtm_seq_and_link_ids_unique_per_subject_across_reads(tmp_path: Path) -> None:
    reads = [_doc(40.0, 30.0, 900.0, 800.0, "MRN-555", "R1"), _doc(42.0, 31.0, 950.0, 810.0, "MRN-555", "R2"),
             _doc(20.0, 25.0, 300.0, 400.0, "MRN-777", "R1")]
    assess = [_assessment("MRN-555", "R1", 40.0, 30.0), _assessment("MRN-555", "R2", 42.0, 31.0),
              _assessment("MRN-777", "R1", 20.0, 25.0)]
    info = write_sdtm(reads, tmp_path, assessments=assess)
    for path, seq in ((info.tu, "TUSEQ"), (info.tr, "TRSEQ"), (info.rs, "RSSEQ")):
        df = pd.read_csv(path, keep_default_na=False)
        assert not df.duplicated(["USUBJID", seq]).any(), path.name
        for _, g in df.groupby("USUBJID", sort=False):
            assert g[seq].tolist() == list(range(1, len(g) + 1)), path.name
    tu = pd.read_csv(info.tu, keep_default_na=False)
    assert tu.TULNKID.tolist() == ["R1-T01", "R2-T01", "T01"]  # one-read patient: unchanged
    assert not tu.duplicated(["USUBJID", "TULNKID"]).any()
    tr = pd.read_csv(info.tr, keep_default_na=False)
    ld = tr[tr.TRTESTCD == "LDIAM"]
    assert dict(zip(zip(ld.TRLNKID, ld.VISIT), ld.TREVALID)) == {
        ("R1-T01", "BASELINE"): "R1", ("R1-T01", "FU1"): "R1", ("R2-T01", "BASELINE"): "R2",
        ("R2-T01", "FU1"): "R2", ("T01", "BASELINE"): "R1", ("T01", "FU1"): "R1"}
    same_reader = write_sdtm(reads[:1] * 2, tmp_path / "same", assessments=assess[:1] * 2)
    assert pd.read_csv(same_reader.tu).TULNKID.tolist() == ["READ1-T01", "READ2-T01"]


def test_sdtm_test_names_and_codes_fit_cdisc_lengths(tmp_path: Path) -> None:
    """SDTM: --TEST at most 40 characters, --TESTCD at most 8 (every test this export can write)."""
    from hcc_imaging.export.sdtm import _RS_TESTS, _TR_TESTS

    for code, name in (_TR_TESTS | _RS_TESTS | {"TUMIDENT": "Tumor Identification"}).items():
        assert len(code) <= 8 and len(name) <= 40, (code, name)
    info = write_sdtm(_doc(100.01, 70.01, 23456.78, 1232.43), tmp_path, assessments=_assessment())
    for path, dom in ((info.tu, "TU"), (info.tr, "TR"), (info.rs, "RS")):
        df = pd.read_csv(path, keep_default_na=False)
        assert df[f"{dom}TEST"].str.len().max() <= 40 and df[f"{dom}TESTCD"].str.len().max() <= 8
    tr = pd.read_csv(info.tr, keep_default_na=False)
    assert set(tr[tr.TRTESTCD == "PCBSD"].TRTEST) == {"Percent Change From Baseline in Sum Diam"}


def test_every_tr_row_has_its_visit_date(tmp_path: Path) -> None:
    """The summary rows (SUMDIAM, PCBSD, PCNSD per criterion) had an empty TRDTC: the date of the
    scan the sum is of is the date of its visit, as on the lesion rows."""
    info = write_sdtm(_doc(100.01, 70.01, 23456.78, 1232.43), tmp_path, assessments=_assessment())
    tr = pd.read_csv(info.tr, keep_default_na=False, dtype=str)
    summary = tr[tr.TRGRPID != ""]
    assert set(summary.TRTESTCD) == {"SUMDIAM", "PCBSD", "PCNSD"}
    dates = {"BASELINE": "2024-01-10", "FU1": "2024-03-10"}
    assert [(r.VISIT, r.TRDTC) for r in tr.itertuples()] == [(r.VISIT, dates[r.VISIT]) for r in tr.itertuples()]


def test_a_non_ascii_studyid_is_refused(tmp_path: Path) -> None:
    """SDTM datasets are ASCII; ``str.isalnum`` let ``ÉTUDE-1`` into every STUDYID and USUBJID."""
    import pytest

    from hcc_imaging.export.sdtm import SdtmExportError

    for bad in ("ÉTUDE-1", "HCC１", "STUDYⅣ"):  # accented letter, full-width digit, Roman numeral
        with pytest.raises(SdtmExportError, match=r"ASCII.*--studyid"):
            write_sdtm(_doc(40.0, 30.0, 900.0, 800.0), tmp_path / "out", assessments=_assessment(), studyid=bad)
    assert not (tmp_path / "out").exists()  # refused before anything is written


def _read_with_role_by_criteria() -> dict:
    """The export tests' read, its L2 a target under RECIST 1.1 but a non-target under mRECIST."""
    doc = read_document()
    for tp in doc["timepoints"]:
        for les in tp["lesions"]:
            if les["lesion_id"] == "L2":
                les["role_by_criteria"] = {"mRECIST": "non_target"}
    return doc


def test_sdtm_carries_the_role_of_a_lesion_under_each_criterion(tmp_path: Path) -> None:
    """``role_by_criteria`` was ignored: a lesion that is a RECIST 1.1 target but an mRECIST
    non-target was a TARGET in TU with LDIAM rows only, and the mRECIST sum (assessed without it)
    did not add up from TR.  It has a TU row per criterion now (TUGRPID = the criterion, as the TR
    summary rows), each with its own link id and the TR rows of its role there."""
    from hcc_imaging.response import ReadDocument
    from hcc_imaging.response.engine import assess

    doc = _read_with_role_by_criteria()
    assessment = assess(ReadDocument.from_json(doc), ["recist1.1", "mrecist"]).to_json()
    info = write_sdtm(doc, tmp_path, assessments=assessment)
    tu = pd.read_csv(info.tu, keep_default_na=False)
    tr = pd.read_csv(info.tr, keep_default_na=False)
    assert [(r.TUSPID, r.TUGRPID, r.TUORRES) for r in tu.itertuples()] == [
        ("L1", "", "TARGET"), ("L2", "RECIST 1.1", "TARGET"), ("L2", "mRECIST", "NON-TARGET"),
        ("N1", "", "NON-TARGET")]
    assert not tu.duplicated(["USUBJID", "TULNKID"]).any()
    # every lesion TR row links to the TU row of its group
    tu_group = dict(zip(tu.TULNKID, tu.TUGRPID))
    lesion_rows = tr[tr.TRLNKID != ""]
    assert all(tu_group[r.TRLNKID] == r.TRGRPID for r in lesion_rows.itertuples())
    l2 = dict(zip(tu[tu.TUSPID == "L2"].TUGRPID, tu[tu.TUSPID == "L2"].TULNKID))
    tests = lambda lnk: set(tr[tr.TRLNKID == lnk].TRTESTCD)  # noqa: E731
    assert tests(l2["RECIST 1.1"]) == {"LDIAM", "VOLUME"}
    assert tests(l2["mRECIST"]) == {"TUMSTATE", "VOLUME"}  # a non-target under mRECIST: no VLDIAM
    # each criterion's sum is the sum of its targets' TR values (the assessment agrees with TU/TR)
    targets = set(tu[tu.TUORRES == "TARGET"].TULNKID)
    for grp, test in (("RECIST 1.1", "LDIAM"), ("mRECIST", "VLDIAM")):
        for visit in ("BASELINE", "FU1"):
            rows = tr[(tr.VISIT == visit) & tr.TRLNKID.isin(targets) & (tr.TRTESTCD == test)
                      & tr.TRGRPID.isin(["", grp])]
            total = tr[(tr.VISIT == visit) & (tr.TRGRPID == grp) & (tr.TRTESTCD == "SUMDIAM")].TRSTRESN
            assert float(pd.to_numeric(rows.TRSTRESN).sum()) == float(total.iloc[0]), (grp, visit)
    # a lesion with one role under every criterion: as before, one row without a group
    plain_doc = read_document()  # its own assessment: the one above is of the read with role_by_criteria
    plain = write_sdtm(plain_doc, tmp_path / "plain",
                       assessments=assess(ReadDocument.from_json(plain_doc), ["recist1.1", "mrecist"]).to_json())
    assert set(pd.read_csv(plain.tu, keep_default_na=False).TUGRPID) == {""}


def test_sdtm_roles_without_an_assessment(tmp_path: Path) -> None:
    """No assessment: the criteria are the read document's ``criteria``; a read naming none has its
    lesion's ``role`` without a group and a row for each criterion that gives another role."""
    doc = _read_with_role_by_criteria()
    tu = pd.read_csv(write_sdtm(doc, tmp_path / "a").tu, keep_default_na=False)
    assert [(r.TUGRPID, r.TUORRES) for r in tu[tu.TUSPID == "L2"].itertuples()] == [
        ("RECIST 1.1", "TARGET"), ("mRECIST", "NON-TARGET")]
    del doc["criteria"]
    tu = pd.read_csv(write_sdtm(doc, tmp_path / "b").tu, keep_default_na=False)
    assert [(r.TUGRPID, r.TUORRES) for r in tu[tu.TUSPID == "L2"].itertuples()] == [
        ("", "TARGET"), ("mRECIST", "NON-TARGET")]
    doc["criteria"] = ["mRECIST"]  # one criterion: its role, no group
    tu = pd.read_csv(write_sdtm(doc, tmp_path / "c").tu, keep_default_na=False)
    assert [(r.TUGRPID, r.TUORRES, r.TULNKID) for r in tu[tu.TUSPID == "L2"].itertuples()] == [
        ("", "NON-TARGET", "NT01")]


def test_non_ascii_patient_or_reader_ids_are_refused(tmp_path: Path, capsys) -> None:
    """SDTM datasets are ASCII: a non-ASCII patient id went into every USUBJID, a reader id into
    --EVALID, unrefused (only STUDYID was checked).  The message names the field and the way out."""
    import json

    import pytest

    from hcc_imaging.cli import main
    from hcc_imaging.export.deid import Deidentifier
    from hcc_imaging.export.sdtm import SdtmExportError

    for patient, reader, field in (("MÜLLER-01", "R1", "patient_id"), ("FMT-01", "Dr.Çelik", "reader_id"),
                                   ("患者7", "R1", "patient_id")):
        with pytest.raises(SdtmExportError, match=rf"{field} .*non-ASCII.*--deidentify") as err:
            write_sdtm(_doc(40.0, 30.0, 900.0, 800.0, patient, reader), tmp_path / "out",
                       assessments=_assessment(patient, reader, 40.0, 30.0))
        assert "mapping" in str(err.value)
    assert not (tmp_path / "out").exists()  # refused before anything is written
    # de-identified: pseudonyms (ASCII) replace both ids
    deid = Deidentifier(tmp_path / "map.json")
    info = write_sdtm(_doc(40.0, 30.0, 900.0, 800.0, "MÜLLER-01", "Dr.Çelik"), tmp_path / "deid",
                      assessments=_assessment("MÜLLER-01", "Dr.Çelik", 40.0, 30.0), deidentifier=deid)
    for p in (info.tu, info.tr, info.rs):
        assert p.read_bytes().isascii()
    # the CLI names the read's file
    read = tmp_path / "müller.json"
    read.write_text(json.dumps(_doc(40.0, 30.0, 900.0, 800.0, "MÜLLER-01")), encoding="utf-8")
    assert main(["export", "sdtm", str(read), "--out", str(tmp_path / "cli")]) == 2
    msg = capsys.readouterr().err
    assert str(read) in msg and "patient_id 'MÜLLER-01'" in msg and "--deidentify" in msg
    assert not (tmp_path / "cli").exists()


def test_other_non_ascii_text_is_refused_by_column(tmp_path: Path) -> None:
    """A lesion id (TUSPID) or a time point id (VISIT) outside ASCII is refused, naming the column."""
    import pytest

    from hcc_imaging.export.sdtm import SdtmExportError

    doc = _doc(40.0, 30.0, 900.0, 800.0)
    for tp in doc["timepoints"]:
        tp["lesions"][0]["lesion_id"] = "Läsion1"
    with pytest.raises(SdtmExportError, match=r"column \w+SPID .*'Läsion1'"):
        write_sdtm(doc, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_targets_viable_status_gives_its_vldiam_row(tmp_path: Path) -> None:
    """A target's viable part too small to measure counts 5 mm in mRECIST's sum and a not evaluable one
    makes the visit NE (criteria.md): TR wrote VLDIAM only for a diameter, so the 5 mm counted in SUMDIAM
    was in no row and the NE had no reason.  Now as LDIAM's rules: TOO SMALL TO MEASURE / 5, NOT DONE."""
    doc = {"schema_version": "1.0", "patient_id": "VS-01", "reader_id": "R1", "criteria": ["RECIST1.1", "mRECIST"],
           "timepoints": [
               {"id": "BL", "date": "2024-01-10", "lesions": [
                   {"lesion_id": "L1", "role": "target", "longest_diameter_mm": 40.0, "viable_diameter_mm": 30.0},
                   {"lesion_id": "L2", "role": "target", "longest_diameter_mm": 30.0, "viable_diameter_mm": 20.0}]},
               {"id": "FU1", "date": "2024-03-10", "lesions": [
                   {"lesion_id": "L1", "role": "target", "longest_diameter_mm": 38.0, "viable_status": "too_small"},
                   {"lesion_id": "L2", "role": "target", "longest_diameter_mm": 29.0, "viable_status": "not_evaluable"}]},
               {"id": "FU2", "date": "2024-05-10", "lesions": [
                   {"lesion_id": "L1", "role": "target", "longest_diameter_mm": 36.0, "viable_status": "absent"},
                   {"lesion_id": "L2", "role": "target", "longest_diameter_mm": 28.0, "viable_diameter_mm": 4.0}]},
           ]}
    from hcc_imaging.response import ReadDocument, assess

    info = write_sdtm(doc, tmp_path, assessments=assess(ReadDocument.from_json(doc), ["RECIST1.1", "mRECIST"]))
    tr = pd.read_csv(info.tr, keep_default_na=False, dtype=str)
    v = {(r.VISIT, r.TRLNKID[-3:]): r for r in tr.itertuples() if r.TRTESTCD == "VLDIAM"}
    fu1 = sorted(k for k in v if k[0] == "FU1")
    assert len(fu1) == 2, sorted(v)
    small, ne = (v[k] for k in fu1)
    assert (small.TRORRES, small.TRSTRESN, small.TRSTAT) == ("TOO SMALL TO MEASURE", "5.0", "")
    assert (ne.TRSTAT, ne.TRREASND, ne.TRORRES) == ("NOT DONE", "NOT EVALUABLE", "")
    fu2 = sorted(k for k in v if k[0] == "FU2")
    assert [v[k].TRSTRESN for k in fu2] == ["0.0", "4.0"]
