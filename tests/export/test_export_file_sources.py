"""A lesion source that names a file (an imported mask's; its name may be a patient's) never reaches
the SR as an algorithm, nor a de-identified export (``export/_file_sources.py``).

Until 2026-12-06 ``imported:Doe_John_liver_seg.nii.gz (hcc_imaging 0.1.0)`` ended in a version-like
word, so the SR wrote it as TID 4019 Algorithm Name ``imported:Doe_John_liver_seg.nii.gz (hcc_imaging``
(kept by the DICOM de-identification: algorithm names are kept), and de-identified tables and JSON
reads kept it as an algorithm's ``NAME VERSION``.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from hcc_imaging.export import sr_to_read_document, write_sr, write_tables
from hcc_imaging.export._file_sources import IMPORTED_MASK_SOURCE, names_a_file
from hcc_imaging.export._sr_roundtrip import IMPORTED_SOURCE, split_algorithm_source
from hcc_imaging.export.deid import Deidentifier

from .conftest import read_document

NAME = "Doe_John"
FILE_SOURCES = [
    f"imported:{NAME}_liver_seg.nii.gz (hcc_imaging 0.1.0)",  # as the napari plugin built it
    f"imported:{NAME}_liver_seg.nii.gz",
    f"{NAME}_seg.nii.gz 2.0",
    f"/data/{NAME}/lesions.nrrd 1.2",
    f"file:{NAME}.dcm",
    f"mask {NAME}.SEG.DCM v1.0",
]


def _doc(source: str) -> dict:
    doc = read_document()
    for tp in doc["timepoints"]:
        for les in tp["lesions"]:
            les["source"] = source if les["lesion_id"] == "L1" else "hcc_imaging.batch 0.1.0"
    return doc


@pytest.mark.parametrize("source", FILE_SOURCES)
def test_a_source_naming_a_file_is_no_algorithm_and_deidentifies_to_imported_mask(source: str, tmp_path: Path) -> None:
    assert names_a_file(source)
    assert split_algorithm_source(source) is None
    assert Deidentifier(tmp_path / "map.json").source(source) == IMPORTED_MASK_SOURCE


@pytest.mark.parametrize("source", ["hcc_imaging.batch 0.1.0", "dcmqi 1.2.4", "TotalSegmentator 2.4.0", "R1",
                                    "reader:R1", IMPORTED_SOURCE, "algorithm:hcc_imaging.measure.measure_lesion/0.1.0"])
def test_algorithms_and_readers_name_no_file(source: str) -> None:
    assert not names_a_file(source)


def test_imported_mask_is_kept_not_made_a_reader(tmp_path: Path) -> None:
    """(It was made a reader pseudonym, as any unknown source is.)"""
    deid = Deidentifier(tmp_path / "map.json")
    assert deid.source(IMPORTED_MASK_SOURCE) == IMPORTED_MASK_SOURCE
    assert deid.source("hcc_imaging.batch 0.1.0") == "hcc_imaging.batch 0.1.0"


def test_the_napari_reads_algorithm_source_is_an_algorithm(tmp_path: Path) -> None:
    """napari writes a segmentation's source ``algorithm:NAME/VERSION``: the SR's lesion gets its TID
    4019 algorithm and de-identification keeps it (it was no algorithm to either: no TID 4019, and
    a de-identified export made it a reader pseudonym, ``READER-01``)."""
    source = "algorithm:segment_lesion/1.64"
    assert split_algorithm_source(source) == ("segment_lesion", "1.64")
    assert Deidentifier(tmp_path / "map.json").source(source) == source
    assert split_algorithm_source("algorithm:segment_lesion/latest") is None  # no version: not an algorithm's
    info = write_sr(_doc(source), tmp_path / "sr.dcm")
    back, _ = sr_to_read_document(info.path)
    sources = {les["lesion_id"]: les["source"] for tp in back["timepoints"] for les in tp["lesions"]}
    assert sources["L1"] == "segment_lesion 1.64"


def test_the_sr_names_no_file_as_its_algorithm(tmp_path: Path) -> None:
    info = write_sr(_doc(FILE_SOURCES[0]), tmp_path / "sr.dcm")  # a plain (not de-identified) SR
    assert NAME.encode() not in info.path.read_bytes()
    back, _ = sr_to_read_document(info.path)
    sources = {les["lesion_id"]: les["source"] for tp in back["timepoints"] for les in tp["lesions"]}
    assert sources["L1"] == IMPORTED_SOURCE and sources["L2"] == "hcc_imaging.batch 0.1.0"


def test_deidentified_tables_and_reads_carry_no_file_name(tmp_path: Path) -> None:
    deid = Deidentifier(tmp_path / "keys" / "map.json", rng=random.Random(3))
    info = write_tables(_doc(FILE_SOURCES[0]), tmp_path / "out", deidentifier=deid, formats=("csv",))
    files = [p for d in info.tables.values() for p in d.values()] + list(info.reads)
    assert files
    for p in files:
        assert NAME not in Path(p).read_text(), p
    assert IMPORTED_MASK_SOURCE in Path(info.tables["lesions"]["csv"]).read_text()
