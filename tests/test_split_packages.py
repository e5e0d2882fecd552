"""``hcc_imaging.phantoms`` and ``hcc_imaging.response.document`` were one module each (1365 and
1392 lines), as were ``hcc_imaging.batch.pipeline`` (1177) and ``hcc_imaging.export.model``
(1008), and are packages of private modules now: every name their callers import still imports
from the old path, and no part grows back past the house guideline of ~600 lines."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest

#: The guideline (docs/style.md: "keep files under ~600 lines").
MAX_LINES = 600

#: Names imported from the two modules by the package, tests, benchmarks and scripts (private
#: ones included: scripts/segment_ceiling.py reads _PORTAL_VEIN / _PVTT_T, tests/io reads _AORTA;
#: burden/liver.py reads the exact unit factors by their public names).
IMPORTED = {
    "hcc_imaging.phantoms": (
        "DEFAULT_SHAPE", "DEFAULT_SPACING_MM", "Ellipsoid", "INFILTRATIVE_BLUR_MM", "LesionKind",
        "NODE_FAT_PLANE_MM", "PATIENT_ID", "PhantomError", "Phase", "RIM_THICKNESS_MM", "STUDY_PHASES",
        "TIMEPOINTS", "TISSUE_HU", "_AORTA", "_PORTAL_VEIN", "_PVTT_T", "ellipsoid_lesion",
        "expected_responses", "make_study", "write_longitudinal",
    ),
    "hcc_imaging.response.document": (
        "AscitesGrade", "AxisEndpoints", "CeusExam", "EncephalopathyGrade", "IRecistCategory",
        "LesionKind", "LesionObservation", "LesionStatus", "LiverFunction", "MarkerValue", "ReadDocument",
        "Role", "SCHEMA_PATH", "SCHEMA_VERSION", "TimePoint", "TreatmentEvent", "TreatmentKind",
        "ALBUMIN_G_L_PER_G_DL", "BILIRUBIN_UMOL_L_PER_MG_DL", "exact", "schema",
    ),
    # the batch's runner, tables and export, io.dicomweb, commands.demo, tests and benchmarks
    # (batch.export reads _iso, batch.tables _timepoint_ids, tests/batch _input_hash)
    "hcc_imaging.batch.pipeline": (
        "ALGORITHM", "BatchError", "MASK_BYTES", "PipelineOptions", "StudyInputs", "StudyStepError", "StudyTask",
        "_input_hash", "_iso", "_timepoint_ids", "assess_document", "build_read_document", "discover_studies",
        "index_shard", "index_sharded", "link_carried", "load_annotations", "mask_folders", "masks_only",
        "measure_lesions", "merge_shard_tasks", "process_study", "root_notes", "run_study", "shard_files",
        "split_mask_studies", "study_thickness_mm", "tasks_from_index",
    ),
    # every exporter, batch.export, commands.export, batch.pipeline (name_based_tracking_uid), tests
    "hcc_imaging.export.model": (
        "CriterionSummary", "ExportInputError", "ExportRead", "LesionObservation", "Point3", "Segment3",
        "TimepointInfo", "TimepointResponse", "TreatmentEvent", "as_export_read", "assessment_to_dict",
        "derived_tracking_uid", "document_to_dict", "iter_reads", "name_based_tracking_uid",
        "read_from_measurements", "unwrap_read_document", "with_tracking_uids",
    ),
}


@pytest.mark.parametrize("package", sorted(IMPORTED))
def test_callers_names_import_from_the_old_path(package: str) -> None:
    module = importlib.import_module(package)
    missing = [name for name in IMPORTED[package] + tuple(module.__all__) if not hasattr(module, name)]
    assert not missing, f"{package} no longer has {missing}: re-export them from its __init__.py"


@pytest.mark.parametrize("package", sorted(IMPORTED))
def test_no_part_over_the_line_guideline(package: str) -> None:
    module = importlib.import_module(package)
    files = [Path(module.__file__ or "")]
    for info in pkgutil.iter_modules(getattr(module, "__path__", [])):
        files.append(Path(module.__path__[0]) / f"{info.name}.py")
    long = [f"{f} has {n} lines" for f in files if (n := len(f.read_text(encoding="utf-8").splitlines())) > MAX_LINES]
    assert not long, f"{package}: {', '.join(long)}, over {MAX_LINES}: split the file by what its parts do"


def test_schema_file_is_found() -> None:
    from hcc_imaging.response.document import SCHEMA_PATH, schema

    assert SCHEMA_PATH.name == "read_document.schema.json" and SCHEMA_PATH.parent.name == "response"
    assert schema()["$schema"].startswith("https://json-schema.org/draft/2020-12")


def test_no_module_imports_a_private_name_of_the_read_document() -> None:
    """The read document's private names stay inside its package: ``burden.liver`` imported the unit
    factors ``_ALBUMIN_G_L_PER_G_DL`` / ``_BILIRUBIN_UMOL_L_PER_MG_DL``; they are public now, with units
    in their names, and equal the float factors ``burden.liver`` publishes."""
    import ast
    from fractions import Fraction

    import hcc_imaging
    from hcc_imaging.burden import liver
    from hcc_imaging.response import document

    root = Path(hcc_imaging.__file__).parent
    inside = root / "response" / "document"
    found = []
    for f in sorted(root.rglob("*.py")):
        if inside in f.parents:
            continue
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("response.document"):
                found += [f"{f.relative_to(root)}: {a.name}" for a in node.names if a.name.startswith("_")]
    assert not found, f"private names of the read document imported from outside it: {found}"
    assert {"BILIRUBIN_UMOL_L_PER_MG_DL", "ALBUMIN_G_L_PER_G_DL"} <= set(document.__all__)
    assert document.BILIRUBIN_UMOL_L_PER_MG_DL == Fraction("17.1") and document.ALBUMIN_G_L_PER_G_DL == 10
    assert liver.BILIRUBIN_MG_DL_TO_UMOL_L == 17.1 and liver.ALBUMIN_G_DL_TO_G_L == 10.0


def test_the_batch_logs_under_its_old_name(caplog: pytest.LogCaptureFixture) -> None:
    """The pipeline's parts log as ``hcc_imaging.batch.pipeline``, as the one module did (a run's log
    filters and handlers name it)."""
    import logging

    from hcc_imaging.batch.pipeline import StudyInputs, StudyTask, split_mask_studies

    task = StudyTask(key="k", patient_id="P", study_instance_uid="1.2.3", study_date="20240101", root="/r",
                     series=(), inputs=StudyInputs(), input_hash="h", extra={"masks_only": True})
    with caplog.at_level(logging.WARNING, logger="hcc_imaging.batch.pipeline"):
        run, masks = split_mask_studies([task])
    assert run == [] and masks == [task]
    assert [r.name for r in caplog.records] == ["hcc_imaging.batch.pipeline"]
