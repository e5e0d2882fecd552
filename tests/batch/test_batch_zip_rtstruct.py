"""An RTSTRUCT inside a zip SOURCE (``ZIP::member``) is read from the zip's bytes, by
``io.masks.load_mask`` and by ``hcc-imaging batch`` (docs/batch.md says so; it failed at
``masks`` with "mask path ...zip::.../rs.dcm does not exist")."""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import numpy as np
import pytest

from hcc_imaging.batch import run_batch
from hcc_imaging.errors import SourceNotFoundError
from hcc_imaging.io import load_series
from hcc_imaging.io.masks import MaskFormatError, load_mask


@pytest.fixture(scope="module")
def sts_zip(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The IBSI soft-tissue-sarcoma case STS_002 (CT and its expert RTSTRUCT, CC BY 3.0) zipped
    as ``site/STS-002/ct/`` (a temp copy, never in the project)."""
    ct = shared_data / "ibsi_sts_tumour" / "STS_002" / "dicom" / "CT"
    z = tmp_path_factory.mktemp("ziprt") / "sts.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for p in sorted((ct / "image").glob("*.dcm")):
            zf.write(p, f"site/STS-002/ct/{p.name}")
        zf.write(ct / "mask" / "RS.dcm", "site/STS-002/ct/rs.dcm")
    return z


def test_load_mask_reads_an_rtstruct_inside_a_zip(sts_zip: Path, shared_data: Path) -> None:
    ref = load_series(f"{sts_zip}::site/STS-002/ct")
    inside = load_mask(f"{sts_zip}::site/STS-002/ct/rs.dcm", ref)
    outside = load_mask(shared_data / "ibsi_sts_tumour" / "STS_002" / "dicom" / "CT" / "mask" / "RS.dcm", ref)
    assert inside.labels == outside.labels == {1: "GTV_Mass_CT"}
    assert np.count_nonzero(inside.array) > 1000 and np.array_equal(inside.array, outside.array)


def test_zip_member_errors_name_the_zip_and_member(sts_zip: Path) -> None:
    with pytest.raises(SourceNotFoundError, match=r"has no member 'site/STS-002/ct/nope.dcm'.*ZIP::member"):
        load_mask(f"{sts_zip}::site/STS-002/ct/nope.dcm")
    first = sorted(n for n in zipfile.ZipFile(sts_zip).namelist() if not n.endswith("rs.dcm"))[0]
    with pytest.raises(MaskFormatError, match=rf"mask '{first}' inside the zip .*sts.zip is DICOM CT .*not a DICOM SEG "
                                              "or RTSTRUCT.*Extract the zip"):
        load_mask(f"{sts_zip}::{first}")


def test_batch_measures_a_zip_source_from_its_rtstruct(sts_zip: Path, tmp_path: Path) -> None:
    s = run_batch(str(sts_zip), tmp_path / "out", workers=1, processes=False)
    assert (s.n_studies, s.n_failed_studies, s.n_failures) == (1, 0, 0)
    with (tmp_path / "out" / "lesions.csv").open(newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert (row["lesion_id"], row["mask_source"]) == ("GTV_Mass_CT", "DICOM RTSTRUCT")
    assert 40.0 < float(row["longest_diameter_mm"]) < 70.0
