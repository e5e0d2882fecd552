"""Cohort report and plots of a cohort with several reads (readers) of one patient, and plots of
scans on or before day 0.

Two readers' reads of one patient were counted as two patients ("3 patient(s)" for 2), shown as
two rows without the reader, and as two waterfall bars / spider lines / swimmer rows with the
same label.  The spider plot started every line at (0, 0) and kept only days > 0: a follow-up on
day -1 was dropped and a baseline on day -5 drawn at day 0."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hcc_imaging.export import as_export_read, write_cohort_report
from hcc_imaging.export.deid import Deidentifier
from hcc_imaging.export.plots import change_points, read_labels, spider_figure, swimmer_figure, waterfall_figure
from hcc_imaging.export.report import cohort_report_html
from hcc_imaging.response import ReadDocument
from hcc_imaging.response.engine import assess

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def _read(name: str, **changes):
    doc = json.loads((EXAMPLES / name).read_text())
    for k, v in changes.items():
        doc[k] = v
    return doc


def _assessed(doc: dict):
    return as_export_read(doc, assess(ReadDocument.from_json(doc), ["recist1.1"]).to_json())


@pytest.fixture
def cohort():
    """DEMO-TACE-01 read by R1 and by R2 (who measures L1 at FU2 70 mm: PD), DEMO-LEN-02 by R1."""
    r2 = _read("read_tace.json", reader_id="R2")
    r2["timepoints"][2]["lesions"][0]["longest_diameter_mm"] = 70.0
    return [_assessed(_read("read_tace.json")), _assessed(r2), _assessed(_read("read_enhancing.json"))]


def test_read_labels_name_the_reader_only_where_a_patient_has_several_reads(cohort) -> None:
    assert read_labels(cohort) == ["DEMO-TACE-01 (R1)", "DEMO-TACE-01 (R2)", "DEMO-LEN-02"]
    same = [cohort[0], cohort[0], cohort[2]]  # one reader's read twice: numbered
    assert read_labels(same) == ["DEMO-TACE-01 (read 1)", "DEMO-TACE-01 (read 2)", "DEMO-LEN-02"]
    assert read_labels(cohort[2:]) == ["DEMO-LEN-02"]


def test_cohort_report_counts_patients_and_shows_the_reader(cohort) -> None:
    text = cohort_report_html(cohort)
    assert "Cohort response report - 2 patient(s), 3 reads</h1>" in text
    assert "<h2>RECIST1.1 (2 patient(s), 3 reads)</h2>" in text
    assert "<th>patient</th><th>reader</th><th>criterion</th>" in text
    assert "<tr><td>DEMO-TACE-01</td><td>R1</td><td>RECIST1.1</td>" in text
    assert "<tr><td>DEMO-TACE-01</td><td>R2</td><td>RECIST1.1</td>" in text
    assert "Cohort response report - 1 patient(s)</h1>" in cohort_report_html(cohort[2:])


def test_plots_label_each_read(cohort) -> None:
    ticks = [t.get_text() for t in waterfall_figure(cohort, "RECIST1.1").axes[0].get_xticklabels()]
    assert sorted(ticks) == ["DEMO-LEN-02", "DEMO-TACE-01 (R1)", "DEMO-TACE-01 (R2)"]
    lines = [ln.get_label() for ln in spider_figure(cohort, "RECIST1.1").axes[0].get_lines()
             if not ln.get_label().startswith("_")]
    assert lines == ["DEMO-TACE-01 (R1)", "DEMO-TACE-01 (R2)", "DEMO-LEN-02"]
    rows = [t.get_text() for t in swimmer_figure(cohort, "RECIST1.1").axes[0].get_yticklabels()]
    assert rows == ["DEMO-TACE-01 (R1)", "DEMO-TACE-01 (R2)", "DEMO-LEN-02"]


def test_deidentified_cohort_report_shows_reader_pseudonyms(tmp_path: Path, cohort) -> None:
    deid = Deidentifier(tmp_path / "map.json")
    path = write_cohort_report(cohort, tmp_path / "out" / "c.html", deidentifier=deid)
    text = path.read_text(encoding="utf-8")
    assert "DEMO-TACE-01" not in text and "<td>R1</td>" not in text and "<td>R2</td>" not in text
    assert "2 patient(s), 3 reads" in text
    pseudos = {deid.reader("R1"), deid.reader("R2")}  # as the tables show them
    assert len(pseudos) == 2
    for pseudo in pseudos:
        assert f"<td>{pseudo}</td>" in text


def test_spider_plots_the_days_of_the_table_also_on_or_before_day_0() -> None:
    doc = _read("read_enhancing.json")  # BL day -5, FU1 56, FU2 112
    doc["timepoints"][1]["day"] = -1  # FU1 before the start of treatment
    read = as_export_read(doc, assess(ReadDocument.from_json(doc), ["mrecist"]).to_json())
    table = {t.timepoint_id: (t.day, t.change_from_baseline_frac) for t in read.responses_for("mRECIST")}
    assert table["BL"][0] == -5 and table["FU1"][0] == -1
    pts = change_points(read, "mRECIST")
    assert [p[0] for p in pts] == [-5.0, -1.0, 112.0]
    assert pts[0][1] == 0.0 and pts[1][1] == pytest.approx(100 * table["FU1"][1])
    (line,) = [ln for ln in spider_figure([read], "mRECIST").axes[0].get_lines() if ln.get_label() == "DEMO-LEN-02"]
    assert list(line.get_xdata()) == [-5.0, -1.0, 112.0]
