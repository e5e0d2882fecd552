"""A NIfTI whose affine is in the sform only (qform_code 0, pixdim 1) is placed by its sform, as
nibabel reads it; a SERIES NIfTI with no orientation is refused (hcc_imaging.io._nifti_geometry).

SimpleITK took the voxel size from pixdim (1 x 1 x 1 mm): a mask 10,482 voxels off its lesions, a
SERIES image read as 1 mm cubes (tester finding, issue 5)."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from hcc_imaging.commands.segment import _load_volumes
from hcc_imaging.errors import MissingGeometryError
from hcc_imaging.io.masks import load_mask

_AFFINE = np.array([[-2.3, 0, 0, 171.35], [0, -2.3, 0, 171.35], [0, 0, 3.0, -64.5], [0, 0, 0, 1]])


def _write(path: Path, data: np.ndarray, sform_code: int, qform_code: int) -> Path:
    n = nib.Nifti1Image(data, None)
    n.set_sform(_AFFINE if sform_code else None, sform_code)
    n.set_qform(_AFFINE if qform_code else None, qform_code)
    nib.save(n, str(path))
    return path


def _data(dtype: type) -> np.ndarray:
    d = np.zeros((12, 10, 6), dtype)  # (i, j, k)
    d[3:7, 2:5, 1:4] = 1
    return d


def test_a_sform_only_mask_is_placed_by_its_sform(tmp_path: Path) -> None:
    both = load_mask(_write(tmp_path / "both.nii.gz", _data(np.uint8), 1, 1))
    only = load_mask(_write(tmp_path / "sform.nii.gz", _data(np.uint8), 1, 0))
    assert only.spacing == pytest.approx((3.0, 2.3, 2.3))  # old code: (1, 1, 1) from pixdim
    assert only.origin == pytest.approx(both.origin)
    np.testing.assert_allclose(only.direction, both.direction, atol=1e-6)


def test_a_sform_only_series_nifti_is_placed_by_its_sform(tmp_path: Path) -> None:
    vol = next(iter(_load_volumes(str(_write(tmp_path / "img.nii.gz", _data(np.int16), 1, 0))).values()))
    assert vol.spacing == pytest.approx((3.0, 2.3, 2.3))  # old code: (1, 1, 1)
    assert vol.origin == pytest.approx((-171.35, -171.35, -64.5))
    assert vol.voxel_volume_mm3 == pytest.approx(3.0 * 2.3 * 2.3)


def test_a_series_nifti_without_orientation_is_refused(tmp_path: Path) -> None:
    p = _write(tmp_path / "none.nii.gz", _data(np.int16), 0, 0)
    with pytest.raises(MissingGeometryError, match=r"none\.nii\.gz holds no orientation.*qform_code and sform_code"):
        _load_volumes(str(p))  # old code: read at an arbitrary origin, silently
