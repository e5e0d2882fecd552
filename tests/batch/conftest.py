"""Generated archives for the batch tests (small grids so the suite stays fast)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hcc_imaging.phantoms import write_longitudinal

#: Small grid covering the phantom anatomy (350 x 350 x 135 mm) at coarse resolution.
SMALL = {"shape": (30, 64, 64), "spacing": (4.5, 5.5, 5.5), "noise_sd_hu": 10.0}


def make_archive(root: Path, n_patients: int, timepoints: tuple[str, ...] = ("baseline", "fu1"), **grid: object) -> Path:
    """``root/PAT-00k/<timepoint>/...`` for k = 1..n (seed k), each with truth + annotations."""
    kw = {**SMALL, **grid}
    for k in range(1, n_patients + 1):
        write_longitudinal(root / f"PAT-{k:03d}", seed=k, timepoints=timepoints, patient_id=f"PAT-{k:03d}", **kw)  # type: ignore[arg-type]
    return root


@pytest.fixture(scope="session")
def small_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 patients x (baseline, fu1)."""
    return make_archive(tmp_path_factory.mktemp("archive"), 2)


@pytest.fixture(scope="session")
def broken_archive(tmp_path_factory: pytest.TempPathFactory, small_archive: Path) -> Path:
    """The small archive plus a study with a missing slice and a study without masks."""
    root = tmp_path_factory.mktemp("broken")
    shutil.copytree(small_archive, root, dirs_exist_ok=True)
    write_longitudinal(root / "GAP-001", seed=50, timepoints=("baseline",), patient_id="GAP-001", **SMALL)  # type: ignore[arg-type]
    files = sorted((root / "GAP-001" / "baseline" / "portal_venous").glob("*.dcm"))
    files[len(files) // 2].unlink()
    write_longitudinal(root / "NOMASK-001", seed=51, timepoints=("baseline",), patient_id="NOMASK-001", **SMALL)  # type: ignore[arg-type]
    shutil.rmtree(root / "NOMASK-001" / "baseline" / "masks")
    return root
