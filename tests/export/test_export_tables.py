"""CSV/Parquet tables with a versioned schema, JSON reads, and CDISC SDTM TU/TR/RS."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from hcc_imaging.export import TABLES_SCHEMA_VERSION, as_export_read, write_sdtm, write_tables
from hcc_imaging.export.sdtm import RS_COLUMNS, TR_COLUMNS, TU_COLUMNS, SdtmExportError
from hcc_imaging.export.tables import TABLE_SCHEMAS, TableExportError, lesion_table, schema_markdown

from .conftest import ASSESSMENT, read_document

REPO = Path(__file__).resolve().parents[2]


def test_tables_columns_values_and_schema_version(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    info = write_tables(read_document(), tmp_path, assessments=ASSESSMENT)
    for name, spec in TABLE_SCHEMAS.items():
        csv = pd.read_csv(info.tables[name]["csv"])
        pqt = pd.read_parquet(info.tables[name]["parquet"])
        assert list(csv.columns) == [c.name for c in spec] == list(pqt.columns)
        assert set(csv.schema_version.astype(str)) == {TABLES_SCHEMA_VERSION}
        meta = pq.read_schema(info.tables[name]["parquet"]).metadata
        assert meta[b"hcc_imaging.tables_schema_version"] == TABLES_SCHEMA_VERSION.encode()
    les = pd.read_parquet(info.tables["lesions"]["parquet"]).set_index(["timepoint_id", "lesion_id"])
    assert les.loc[("BL", "L1"), "longest_diameter_mm"] == 16.0
    assert les.loc[("BL", "L1"), "volume_ml"] == pytest.approx(1.5)
    assert les.loc[("BL", "L1"), "couinaud_segment"] == "VII"
    assert les.loc[("BL", "L1"), "ld_end_x_mm"] == 4.0
    assert les.loc[("BL", "N1"), "recist_diameter_mm"] is pd.NA  # node without short axis
    assert les.loc[("FU1", "L1"), "day"] == 63
    resp = pd.read_csv(info.tables["responses"]["csv"]).set_index(["criterion", "timepoint_id"])
    assert resp.loc[("mRECIST", "FU1"), "response"] == "PR"
    assert resp.loc[("RECIST1.1", "FU1"), "change_from_baseline_frac"] == pytest.approx(-0.1852)
    summ = pd.read_csv(info.tables["summary"]["csv"]).set_index("criterion")
    assert summ.loc["mRECIST", "bor_unconfirmed"] == "PR"
    assert summ.loc["mRECIST", "best_change_frac"] == pytest.approx(-0.5789)
    (jpath,) = info.reads
    payload = json.loads(jpath.read_text())
    assert payload["read_document"]["patient_id"] == read_document()["patient_id"]
    assert payload["summary"][0]["criterion"] == "RECIST1.1"


def test_every_table_counts_days_from_day_0_as_the_read_document(tmp_path: Path) -> None:
    # read_tace.json: start_date 2024-03-01, baseline scanned 2024-02-26 (day -4)
    from hcc_imaging.response import ReadDocument, assess

    path = REPO / "docs" / "examples" / "read_tace.json"
    raw = json.loads(path.read_text())
    doc = ReadDocument.from_json(raw)
    assert [t.day for t in doc.timepoints] == [-4, 35, 91]
    info = write_tables(raw, tmp_path, assessments=assess(doc, ["recist1.1"]), formats=("csv",))
    les = pd.read_csv(info.tables["lesions"]["csv"])
    resp = pd.read_csv(info.tables["responses"]["csv"])
    summ = pd.read_csv(info.tables["summary"]["csv"]).set_index("criterion")
    assert list(les[les.lesion_id == "L1"].day) == [-4, 35, 91]
    assert list(resp.day) == [-4, 35, 91]
    assert summ.loc["RECIST1.1", "last_day"] == 91
    assert TABLES_SCHEMA_VERSION.split(".")[0] == "2"


def test_summary_carries_the_endpoints_of_the_assessment(tmp_path: Path) -> None:
    from hcc_imaging.response import ReadDocument, assess

    raw = json.loads((REPO / "docs" / "examples" / "read_atezo_irecist.json").read_text())
    a = assess(ReadDocument.from_json(raw), ["recist1.1", "mrecist", "irecist"])
    info = write_tables(raw, tmp_path, assessments=a, formats=("csv", "parquet"))
    summ = pd.read_parquet(info.tables["summary"]["parquet"]).set_index("criterion")
    rec, mrec = summ.loc["RECIST1.1"], summ.loc["mRECIST"]
    assert (rec.pfs_event, rec.pfs_day, rec.ttp_event, rec.ttp_day) == (True, 42, True, 42)
    assert rec.dor_event is pd.NA and rec.dor_days is pd.NA  # BOR PD: no response
    # mRECIST: PR from day 84, confirmed, CR later, no PD: DOR censored at day 294
    assert (mrec.pfs_event, mrec.pfs_day) == (False, 294)
    assert (mrec.dor_event, mrec.dor_days) == (False, 210)
    assert (mrec.dor_unconfirmed_event, mrec.dor_unconfirmed_days) == (False, 210)
    csv = pd.read_csv(info.tables["summary"]["csv"]).set_index("criterion")
    assert csv.loc["iRECIST", "dor_days"] == 168
    # an assessment JSON without endpoints (earlier versions) leaves the columns empty
    old = a.to_json()
    for res in old["results"].values():
        res.pop("endpoints")
    info = write_tables(raw, tmp_path / "old", assessments=old, formats=("csv",))
    assert pd.read_csv(info.tables["summary"]["csv"]).pfs_day.isna().all()


def test_sr_offsets_count_from_the_baseline_scan(tmp_path: Path) -> None:
    from hcc_imaging.export import read_sr, write_sr

    raw = json.loads((REPO / "docs" / "examples" / "read_tace.json").read_text())
    info = write_sr(raw, tmp_path / "sr.dcm")
    days = {g.time_point: g.day for g in read_sr(info.path).groups}
    assert days == {"BL": 0, "FU1": 39, "FU2": 95}  # offsets from the baseline event
    raw2 = {"patient_id": "P", "timepoints": [
        {"id": "BL", "day": -10, "lesions": [{"lesion_id": "L1", "longest_diameter_mm": 30.0}]},
        {"id": "FU1", "day": 50, "lesions": [{"lesion_id": "L1", "longest_diameter_mm": 20.0}]}]}
    assert [(t.day, t.day_from_baseline) for t in as_export_read(raw2).timepoints] == [
        (-10, 0), (50, 60)]
    info = write_sr(raw2, tmp_path / "sr2.dcm")
    assert {g.time_point: g.day for g in read_sr(info.path).groups} == {"BL": 0, "FU1": 60}


def test_tables_from_real_response_engine_assessment(tmp_path: Path) -> None:
    from hcc_imaging.response import ReadDocument
    from hcc_imaging.response.engine import assess

    doc = ReadDocument.from_json(read_document())
    a = assess(doc, ["recist1.1", "mrecist"])
    info = write_tables(doc, tmp_path, assessments=a, formats=("csv",))
    resp = pd.read_csv(info.tables["responses"]["csv"])
    assert set(resp.criterion) == {"RECIST1.1", "mRECIST"}
    fu = resp[(resp.criterion == "RECIST1.1") & (resp.timepoint_id == "FU1")].iloc[0]
    assert fu.response == "SD" and fu.sum_value == 22.0


def test_tables_schema_is_documented() -> None:
    text = (REPO / "docs" / "tables-schema.md").read_text()
    assert f"`{TABLES_SCHEMA_VERSION}`" in text
    for name, spec in TABLE_SCHEMAS.items():
        for c in spec:
            assert f"`{c.name}`" in text, f"{name}.{c.name} missing from docs/tables-schema.md"
    assert schema_markdown().count("| `") == sum(len(s) for s in TABLE_SCHEMAS.values())


def test_tables_for_a_cohort_and_bad_format(tmp_path: Path) -> None:
    df = lesion_table([read_document("P1"), read_document("P2")])
    assert sorted(set(df.patient_id)) == ["P1", "P2"] and len(df) == 12
    with pytest.raises(TableExportError, match="unknown table format"):
        write_tables(read_document(), tmp_path, formats=("xlsx",))
    with pytest.raises(TableExportError, match="no table format"):  # wrote the JSON reads, no table
        write_tables(read_document(), tmp_path / "none", formats=())
    assert not (tmp_path / "none").exists()


def test_several_reads_of_a_patient_each_get_their_json(tmp_path: Path) -> None:
    """Two reads of one patient (two readers; a read and its SR import, same reader) were both
    written to reads/<patient>.json, the second silently replacing the first."""
    second = read_document()
    second["reader_id"] = "dr.jones"
    third = read_document()
    third["timepoints"][0]["lesions"][0]["longest_diameter_mm"] = 17.0
    info = write_tables([read_document(), second, third, read_document("P2")], tmp_path, formats=("csv",))
    names = [p.name for p in info.reads]
    assert names == ["MRN-778899_dr.smith.json", "MRN-778899_dr.jones.json", "MRN-778899_dr.smith_2.json", "P2.json"]
    assert sorted(p.name for p in (tmp_path / "reads").iterdir()) == sorted(names)
    docs = [json.loads(p.read_text())["read_document"] for p in info.reads]
    assert [d["reader_id"] for d in docs] == ["dr.smith", "dr.jones", "dr.smith", "dr.smith"]
    assert docs[2]["timepoints"][0]["lesions"][0]["longest_diameter_mm"] == 17.0


def test_sdtm_tu_tr_rs(tmp_path: Path) -> None:
    info = write_sdtm(read_document(), tmp_path, assessments=ASSESSMENT, studyid="HCC-01")
    tu, tr, rs = (pd.read_csv(p, keep_default_na=False) for p in (info.tu, info.tr, info.rs))
    assert list(tu.columns) == TU_COLUMNS and list(tr.columns) == TR_COLUMNS and list(rs.columns) == RS_COLUMNS
    assert set(tu.DOMAIN) == {"TU"} and set(tr.DOMAIN) == {"TR"} and set(rs.DOMAIN) == {"RS"}
    assert list(tu.TULNKID) == ["T01", "T02", "NT01"]
    assert list(tu.TUORRES) == ["TARGET", "TARGET", "NON-TARGET"]
    assert list(tu.TULOC) == ["LIVER", "LIVER", "LYMPH NODE"]
    assert set(tu.USUBJID) == {"HCC-01-MRN-778899"}
    assert tu.TUSEQ.tolist() == [1, 2, 3]
    ld = tr[(tr.TRTESTCD == "LDIAM") & (tr.TRLNKID == "T01")]
    assert ld.TRSTRESN.astype(float).tolist() == [16.0, 12.0]
    assert set(ld.TRSTRESU) == {"mm"} and ld.VISIT.tolist() == ["BASELINE", "FU1"]
    assert ld.TRDTC.tolist() == ["2024-01-15", "2024-03-18"]
    sums = tr[(tr.TRTESTCD == "SUMDIAM") & (tr.TRGRPID == "RECIST 1.1")]
    assert sums.TRSTRESN.astype(float).tolist() == [27.0, 22.0]
    pcb = tr[(tr.TRTESTCD == "PCBSD") & (tr.TRGRPID == "mRECIST")]
    assert float(pcb.TRSTRESN.iloc[0]) == pytest.approx(-57.89)
    assert tr[tr.TRLNKID == "NT01"].TRORRES.tolist() == ["PRESENT", "PRESENT"]
    assert tr.TRSEQ.tolist() == list(range(1, len(tr) + 1))
    ovr = rs[rs.RSTESTCD == "OVRLRESP"].set_index("RSCAT")
    assert ovr.loc["RECIST 1.1", "RSSTRESC"] == "SD" and ovr.loc["mRECIST", "RSSTRESC"] == "PR"
    best = rs[rs.RSTESTCD == "BESTRESP"].set_index("RSCAT")
    assert best.loc["RECIST 1.1", "RSORRES"] == "SD"
    assert best.loc["mRECIST", "RSORRES"] == "PR"  # no confirmed BOR -> unconfirmed one
    assert set(rs[rs.RSTESTCD == "NEWLIND"].RSORRES) == {"N"}
    meta = json.loads(info.metadata.read_text())
    assert meta["studyid"] == "HCC-01" and "VLDIAM" in meta["sponsor_defined_tests"]


@pytest.mark.parametrize(
    ("status", "value", "expect"),
    [
        pytest.param("absent", None, ("0.0", "", 0.0), id="absent-is-0-mm"),
        pytest.param("too_small", None, ("TOO SMALL TO MEASURE", "", 5.0), id="too-small-is-5-mm"),
        pytest.param("not_evaluable", None, ("", "NOT DONE", None), id="not-evaluable-not-done"),
        pytest.param("measured", 14.0, ("14.0", "", 14.0), id="measured"),
    ],
)
def test_sdtm_target_statuses(tmp_path: Path, status: str, value: float | None, expect: tuple) -> None:
    doc = read_document()
    les = doc["timepoints"][1]["lesions"][1]
    les["status"] = status
    les["longest_diameter_mm"] = value
    info = write_sdtm(doc, tmp_path)
    tr = pd.read_csv(info.tr, keep_default_na=False)
    row = tr[(tr.TRLNKID == "T02") & (tr.VISIT == "FU1") & (tr.TRTESTCD == "LDIAM")].iloc[0]
    assert (row.TRORRES, row.TRSTAT) == expect[:2]
    assert (float(row.TRSTRESN) if row.TRSTRESN != "" else None) == expect[2]


def test_sdtm_node_target_uses_lperp(tmp_path: Path) -> None:
    doc = read_document()
    for tp in doc["timepoints"]:
        n1 = tp["lesions"][2]
        n1.update(role="target", status="measured", short_axis_mm=18.0, longest_diameter_mm=25.0)
    tr = pd.read_csv(write_sdtm(doc, tmp_path).tr)
    node = tr[tr.TRLNKID == "T03"]
    assert set(node.TRTESTCD) == {"LPERP"} and set(node.TRSTRESN) == {18.0}


def test_sdtm_bad_studyid(tmp_path: Path) -> None:
    with pytest.raises(SdtmExportError, match="STUDYID"):
        write_sdtm(read_document(), tmp_path, studyid="bad id!")


def test_export_read_from_read_document_object() -> None:
    from hcc_imaging.response import ReadDocument

    a = as_export_read(ReadDocument.from_json(read_document()))
    b = as_export_read(read_document())
    assert [(x.timepoint_id, x.lesion_id, x.longest_diameter_mm, x.ld_endpoints_lps) for x in a.lesions] == [
        (x.timepoint_id, x.lesion_id, x.longest_diameter_mm, x.ld_endpoints_lps) for x in b.lesions
    ]
    assert [t.day for t in a.timepoints] == [0, 63]


def test_a_rerun_sets_aside_the_files_it_did_not_write(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A re-run with fewer reads left the earlier ``reads/P2.json`` (and, with CSV only, the earlier
    ``*.parquet``) beside its own: a user took them as this run's.  They are moved to
    ``stale/<time>/``, never deleted; other files of the folder are left alone."""
    out = tmp_path / "tables"
    first = write_tables([read_document("P1"), read_document("P2")], out, formats=("csv", "parquet"))
    assert sorted(p.name for p in first.reads) == ["P1.json", "P2.json"] and first.stale == ()
    p2_text = (out / "reads" / "P2.json").read_text()
    (out / "notes.txt").write_text("mine")
    (out / "reads" / "keep.txt").write_text("mine too")
    with caplog.at_level("WARNING"):
        again = write_tables([read_document("P1")], out, formats=("csv",))
    assert sorted(p.name for p in (out / "reads").glob("*.json")) == ["P1.json"]
    assert sorted(p.name for p in out.glob("*.*")) == ["lesions.csv", "notes.txt", "responses.csv", "summary.csv"]
    (stamp,) = (out / "stale").iterdir()
    moved = sorted(str(p.relative_to(stamp)) for p in again.stale)
    assert moved == ["lesions.parquet", "reads/P2.json", "responses.parquet", "summary.parquet"]
    assert (stamp / "reads" / "P2.json").read_text() == p2_text  # moved whole, not deleted
    assert (out / "notes.txt").exists() and (out / "reads" / "keep.txt").exists()
    assert "4 file(s) of an earlier export" in caplog.text and "stale" in caplog.text
    # the tables and the reads of a run agree: every patient of the tables has its JSON read
    assert set(pd.read_csv(out / "lesions.csv").patient_id) == {"P1"}
    # a run that writes everything it wrote before moves nothing
    assert write_tables([read_document("P1")], out, formats=("csv",)).stale == ()


def test_lesions_table_has_viable_status_next_to_viable_diameter(tmp_path: Path) -> None:
    """A viable part too small to measure (mRECIST counts 5 mm), not evaluable, or not recorded
    was an empty viable_diameter_mm each, with nothing to tell them apart (before table schema 2.2)."""
    doc = read_document()
    fu = {les["lesion_id"]: les for les in doc["timepoints"][1]["lesions"]}
    fu["L1"].update(viable_status="too_small", viable_diameter_mm=None)
    fu["L2"].update(viable_status="not_evaluable", viable_diameter_mm=None)
    info = write_tables(doc, tmp_path, formats=("csv",))
    csv = pd.read_csv(info.tables["lesions"]["csv"], keep_default_na=False)
    cols = list(csv.columns)
    assert cols.index("viable_status") == cols.index("viable_diameter_mm") + 1
    got = {(r.timepoint_id, r.lesion_id): (r.viable_status, r.viable_diameter_mm) for r in csv.itertuples()}
    assert got[("FU1", "L1")] == ("too_small", "")
    assert got[("FU1", "L2")] == ("not_evaluable", "")
    assert got[("BL", "L1")] == ("", "8.0")  # measured: no viable_status recorded
    assert got[("BL", "N1")] == ("", "")  # not measured


def test_lesions_table_has_role_by_criteria_next_to_role(tmp_path: Path) -> None:
    """A RECIST 1.1 target that is an mRECIST non-target (``role_by_criteria``) showed only
    ``role: target`` in the table, so it read as an mRECIST target (before table schema 2.3)."""
    doc = read_document()
    for tp in doc["timepoints"]:
        for les in tp["lesions"]:
            if les["lesion_id"] == "L2":
                les["role_by_criteria"] = {"mrecist": "non_target", "RECIST1.1": les.get("role", "target")}
    info = write_tables(doc, tmp_path, formats=("csv", "parquet"))
    csv = pd.read_csv(info.tables["lesions"]["csv"], keep_default_na=False)
    cols = list(csv.columns)
    assert cols.index("role_by_criteria") == cols.index("role") + 1
    got = {(r.timepoint_id, r.lesion_id): (r.role, r.role_by_criteria) for r in csv.itertuples()}
    assert got[("BL", "L2")] == ("target", "mRECIST=non_target")  # (the same role is not repeated)
    assert got[("FU1", "L2")] == ("target", "mRECIST=non_target")
    assert got[("BL", "L1")] == ("target", "")
    pq = pd.read_parquet(info.tables["lesions"]["parquet"])
    assert pq.set_index(["timepoint_id", "lesion_id"]).loc[("BL", "L2"), "role_by_criteria"] == "mRECIST=non_target"


def test_write_tables_leaves_alone_the_files_it_is_told_to(tmp_path: Path) -> None:
    """A caller's file that only looks like an earlier export's (``reads/*.json``) stays where it is
    with ``leave_alone=`` (the demo passes what a user put in its folder); others are set aside."""
    write_tables(read_document(), tmp_path, formats=("csv",))
    mine = tmp_path / "reads" / "corrected-by-DrX.json"
    old = tmp_path / "reads" / "old-export.json"
    for p in (mine, old):
        p.write_text("{}")
    info = write_tables(read_document(), tmp_path, formats=("csv",), leave_alone=[mine])
    assert mine.read_text() == "{}"
    assert not old.exists() and [p.name for p in info.stale] == ["old-export.json"]
