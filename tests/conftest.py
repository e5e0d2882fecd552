"""Shared fixtures.

Real data lives read-only in ``../shared/data`` beside the repository (override with
``HCC_SHARED_DATA``).  Under CI (``CI=true``) a missing folder is an error, never a skip.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _shared_data_dir() -> Path:
    env = os.environ.get("HCC_SHARED_DATA")
    if env:
        return Path(env)
    return REPO.parent / "shared" / "data"


SHARED_DATA = _shared_data_dir()
#: 3D-IRCADb-01 patient 17's archive, relative to the shared data
IRCADB17_ZIP = Path("ircadb01_patient17") / "3Dircadb1.17.zip"


def extract_ircadb17(zpath: Path, out: Path) -> Path:
    """Extract 3D-IRCADb-01 patient 17's archive ``zpath`` into ``out`` (the fixture's temporary
    folder, or ``benchmarks/bench_segment_hard.py``'s) and return the folder holding PATIENT_DICOM
    and MASKS_DICOM."""
    with zipfile.ZipFile(zpath) as zf:
        zf.extractall(out)
    # The archive nests zips (PATIENT_DICOM.zip, MASKS_DICOM.zip ...): extract them too.
    for inner in list(out.rglob("*.zip")):
        with zipfile.ZipFile(inner) as zf:
            zf.extractall(inner.parent)
    roots = [p.parent for p in out.rglob("PATIENT_DICOM") if p.is_dir()]
    if not roots:
        raise FileNotFoundError(f"PATIENT_DICOM not found in {zpath}")
    return roots[0]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Root of the read-only real test data (``../shared/data``)."""
    if not SHARED_DATA.is_dir():
        msg = f"real test data not found at {SHARED_DATA}; set HCC_SHARED_DATA"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return SHARED_DATA


@pytest.fixture(scope="session")
def ircadb17(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3D-IRCADb-01 patient 17 extracted once per session into a temp dir (never modified,
    never copied into the project; CC BY-NC-ND).  Returns the folder holding PATIENT_DICOM
    and MASKS_DICOM."""
    return extract_ircadb17(shared_data / IRCADB17_ZIP, tmp_path_factory.mktemp("ircadb17"))
