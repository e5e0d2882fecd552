"""The batch gives exactly the numbers of ``hcc-imaging measure`` and ``hcc-imaging assess``."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from hcc_imaging.batch import PipelineOptions, run_batch
from hcc_imaging.cli import main

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "sample_data" / "liver_phantom"
FIELDS = ("longest_diameter_mm", "short_axis_mm", "feret_3d_mm", "volume_mm3", "viable_diameter_mm",
          "viable_short_axis_mm", "viable_volume_mm3", "necrosis_fraction", "easl_product_mm2", "who_product_mm2",
          "recist_measurability", "mrecist_measurable", "ld_slice_index", "ld_endpoints_lps")


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample")
    s = run_batch(SAMPLE, out, workers=1, processes=False)
    assert s.n_failures == 0
    return out


@pytest.mark.parametrize("tp", ["baseline", "fu1"])
def test_same_numbers_as_measure_cli(sample_run, tp, capsys) -> None:
    rc = main(["measure", str(SAMPLE / tp / "portal_venous"), "--masks", str(SAMPLE / tp / "masks" / "lesions.nii.gz"),
               "--viable", str(SAMPLE / tp / "masks" / "viable.nii.gz"), "--nodes", "L6", "--json"])
    assert rc == 0
    cli = {m["lesion_id"]: m for m in json.loads(capsys.readouterr().out)}
    les = pd.read_parquet(sample_run / "lesions.parquet")
    rows = les[les.timepoint_id == tp]
    assert sorted(rows.lesion_id) == sorted(cli)
    for row in rows.itertuples():
        ref = cli[row.lesion_id]
        for f in FIELDS:
            got = getattr(row, f)
            if f.endswith("_lps"):
                got = json.loads(got)
            want = ref[f]
            if want is None:
                assert got is None or pd.isna(got), (row.lesion_id, f)
            else:
                assert got == want, (row.lesion_id, f, got, want)


def test_same_responses_as_assess_cli(sample_run, capsys) -> None:
    read = sample_run / "reads" / "PHANTOM-001.json"
    rc = main(["assess", str(read), "--criteria", "recist1.1,mrecist", "--json"])
    assert rc == 0
    cli = json.loads(capsys.readouterr().out)["results"]
    ours = json.loads((sample_run / "assessments" / "PHANTOM-001.json").read_text())["results"]
    assert cli == ours
    truth = json.loads((SAMPLE / "truth.json").read_text())["expected"]
    assert ours["RECIST1.1"]["timepoints"][1]["response"] == truth["recist_1_1"][1]["overall"] == "SD"
    assert ours["mRECIST"]["timepoints"][1]["response"] == truth["mrecist"][1]["overall"] == "PR"


@pytest.mark.parametrize("tp", ["baseline", "fu1"])
def test_same_numbers_as_napari_adapter(sample_run, tp) -> None:
    """The napari plugin's (Qt-free) core adapter records the same diameters as the batch read."""
    import numpy as np

    from hcc_imaging.io import load_series
    from hcc_imaging.io.masks import load_mask
    from hcc_imaging.napari_plugin import _core
    from hcc_imaging.volume import LabelVolume

    read = json.loads((sample_run / "reads" / "PHANTOM-001.json").read_text())
    (tpd,) = [t for t in read["timepoints"] if t["id"] == tp]
    batch = {o["lesion_id"]: o for o in tpd["lesions"]}
    ref = load_series(SAMPLE / tp / "portal_venous")
    les = load_mask(SAMPLE / tp / "masks" / "lesions.nii.gz", reference=ref)
    via = load_mask(SAMPLE / tp / "masks" / "viable.nii.gz", reference=ref)
    n = 0
    for v in les.present_labels():
        lid = les.labels[v]
        if "longest_diameter_mm" not in batch[lid]:
            continue  # non-measured kinds (PVTT, ascites) are recorded "present"
        one = LabelVolume.like(ref, (les.array == v).astype(np.uint8), labels={1: lid})
        vone = LabelVolume.like(ref, ((via.array != 0) & (les.array == v)).astype(np.uint8), labels={1: lid})
        obs = _core.measure(one, vone, lesion_id=lid, is_lymph_node=lid == "L6", source="test", image=ref)
        for f in ("longest_diameter_mm", "short_axis_mm", "viable_diameter_mm", "viable_short_axis_mm"):
            assert getattr(obs, f) == batch[lid][f], (lid, f)
        n += 1
    assert n >= 5


def test_response_rows_carry_the_endpoints_of_export_summary(tmp_path) -> None:
    """The batch's response rows carry PFS / TTP / DOR as ``hcc-imaging export csv``'s summary
    table gives them for the run's reads and assessments (same columns, same values, from the
    same ``endpoints_json``): the batch wrote BORs without them."""
    from hcc_imaging.export.tables import TABLE_SCHEMAS, summary_table

    from .conftest import make_archive

    src = make_archive(tmp_path / "src", 1, timepoints=("baseline", "fu1", "fu2"))
    out = tmp_path / "out"
    s = run_batch(src, out, workers=1, processes=False,
                  options=PipelineOptions(criteria=("RECIST1.1", "mRECIST", "iRECIST")))
    assert s.n_failures == 0
    summary_columns = [c.name for c in TABLE_SCHEMAS["summary"]]
    ENDPOINT_COLUMNS = summary_columns[summary_columns.index("pfs_event"):]  # noqa: N806 (schema 2.1's)
    assert len(ENDPOINT_COLUMNS) == 8
    docs = [json.loads(p.read_text()) for p in sorted((out / "reads").glob("*.json"))]
    ass = {d["patient_id"]: json.loads((out / "assessments" / f"{d['patient_id']}.json").read_text()) for d in docs}
    want = summary_table(docs, ass).set_index(["patient_id", "criterion"])
    for resp in (pd.read_csv(out / "responses.csv"), pd.read_parquet(out / "responses.parquet")):
        assert set(ENDPOINT_COLUMNS) <= set(resp.columns), sorted(resp.columns)
        assert len(resp) == 3 * 3
        for row in resp.itertuples():
            ref = want.loc[(row.patient_id, row.criterion)]
            for c in ENDPOINT_COLUMNS:
                got, exp = getattr(row, c), ref[c]
                assert (pd.isna(got) and pd.isna(exp)) or got == exp, (row.criterion, row.timepoint_id, c, got, exp)
    # the run holds a progression and a responder, so the columns are not all empty
    assert bool(want.pfs_event.any()) and want.dor_unconfirmed_days.notna().any()
    # days are whole numbers in the CSV ("112", not "112.0"), events true/false or empty
    import csv

    with open(out / "responses.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            for c in ENDPOINT_COLUMNS:
                allowed = {"True", "False", ""} if c.endswith("_event") else None
                assert (row[c] in allowed) if allowed else (row[c] == "" or row[c].isdigit()), (c, row[c])
