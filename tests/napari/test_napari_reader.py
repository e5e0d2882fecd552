"""The npe2 reader through napari: layers per phase/time point, HU, geometry = the core's LPS."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hcc_imaging.constants import LIVER_WINDOW_HU
from hcc_imaging.napari_plugin import _core
from hcc_imaging.napari_plugin._layers import METADATA_KEY, lps_to_world
from hcc_imaging.napari_plugin._reader import get_reader

from .conftest import SAMPLE

pytestmark = [
    pytest.mark.gui,
    pytest.mark.skipif(not _core.available("io"), reason="hcc_imaging.io loader not in this build"),
]


def test_reader_layers_geometry_and_hu(make_napari_viewer: Any) -> None:
    from hcc_imaging.io import load_series

    viewer = make_napari_viewer()
    viewer.open(str(SAMPLE), plugin="hcc-imaging")
    names = [layer.name for layer in viewer.layers]
    assert len(names) == 8
    assert "baseline · arterial" in names and "fu1 · portal_venous" in names
    layer = viewer.layers["baseline · portal_venous"]
    md = layer.metadata[METADATA_KEY]
    assert md["patient_id"] == "PHANTOM-001" and md["phase"] == "portal_venous"
    for key in ("series_instance_uid", "study_instance_uid", "frame_of_reference_uid"):
        assert md[key]
    assert tuple(str(u) for u in layer.units) == ("millimeter",) * 3
    assert tuple(layer.contrast_limits) == LIVER_WINDOW_HU
    # the core's own load of the same series: same HU, and world point == LPS (reversed)
    vol = load_series(str(SAMPLE / "baseline" / "portal_venous"))
    assert np.array_equal(np.asarray(layer.data), vol.array)
    for idx in [(0, 0, 0), (43, 149, 149), (21, 70.5, 33.25)]:
        np.testing.assert_allclose(layer.data_to_world(idx), lps_to_world(vol.index_to_lps(idx)), atol=1e-6)
    # only the reference phase of the first time point is shown
    assert [lyr.name for lyr in viewer.layers if lyr.visible] == ["baseline · portal_venous"]


def test_reader_opens_a_zip_and_declines_other_paths(make_napari_viewer: Any, tmp_path: Path) -> None:
    z = tmp_path / "study.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in sorted((SAMPLE / "fu1" / "arterial").glob("*.dcm")):
            zf.write(f, f"fu1/arterial/{f.name}")
    assert get_reader(str(tmp_path / "notes.txt")) is None
    viewer = make_napari_viewer()
    viewer.open(str(z), plugin="hcc-imaging")
    assert [layer.name for layer in viewer.layers] == ["baseline · arterial"]  # one study: its baseline


@pytest.mark.filterwarnings("ignore:Non-orthogonal slicing:UserWarning")  # napari on the resampled (oblique) grid
def test_a_tilted_series_opens_resampled_and_a_refused_one_says_why(make_napari_viewer: Any, shared_data: Path) -> None:
    """dicom2nifti's failing series through napari: the gantry-tilted series opens resampled onto an
    orthogonal grid (its layer metadata says so) with a warning naming it; a series of mixed
    orientations cannot be shown: the reader's error says why.  Until 2026-12-04 the reader raised a
    bare ``StopIteration`` on every one of these folders (no layer, no reason)."""
    failing = shared_data / "dicom2nifti_failing_series"
    viewer = make_napari_viewer()
    with pytest.warns(UserWarning, match=r"resampled onto a regular grid: slices are stacked at 14\.0 deg"):
        viewer.open(str(failing / "gantrytilting"), plugin="hcc-imaging")
    assert [layer.name for layer in viewer.layers] == ["baseline · unknown"]
    md = viewer.layers[0].metadata[METADATA_KEY]
    assert np.allclose(np.asarray(md["direction"]) @ np.asarray(md["direction"]).T, np.eye(3), atol=1e-6)
    with pytest.raises(Exception) as info:  # (napari's reader error, its cause ours)
        viewer.open(str(failing / "sliceorientation"), plugin="hcc-imaging")
    chain, err = [], info.value
    while err is not None:
        chain.append(str(err))
        err = err.__cause__ or err.__context__
    assert any("can be shown" in m and "different orientations" in m for m in chain), chain
    assert len(viewer.layers) == 1  # nothing added for the refused series


def test_two_studies_without_a_patient_id_open_as_two_patients(tmp_path: Path) -> None:
    """Until 2026-12-04 both were patient "" in the index, so the dock read them as "anonymous": one
    read file and one store patient for every patient without an id (3D-IRCADb's, say)."""
    from hcc_imaging.io import patient_key
    from hcc_imaging.napari_plugin._reader import read_dicom
    from tests.io._synth import write_series

    vals = np.full((3, 6, 6), 1100, np.uint16)
    for name in ("a", "b"):
        write_series(tmp_path / name, vals, study_uid=f"1.2.826.0.1.3680043.99.{ord(name)}", extra={"PatientID": ""})
    layers = read_dicom(str(tmp_path))
    pids = sorted(kw["metadata"][METADATA_KEY]["patient_id"] for _, kw, _ in layers)
    assert pids == sorted(patient_key("", f"1.2.826.0.1.3680043.99.{ord(n)}") for n in "ab")
    assert all(kw["metadata"][METADATA_KEY]["timepoint_id"] == "baseline" for _, kw, _ in layers)


def test_a_study_with_ct_mr_and_pet_shows_the_ct_and_names_the_others(shared_data: Path) -> None:
    """IBSI STS_002 holds a CT, an MR and a PET (OT) of one study, none with a contrast phase: a time
    point shows one series per phase.  It showed the MR (its slices 0.00005 mm finer than the CT's)
    and dropped the CT and the PET without a word; now CT comes first and each series not shown is
    a warning naming it and the one shown."""
    from hcc_imaging.napari_plugin._reader import read_dicom

    with pytest.warns(UserWarning) as record:
        layers = read_dicom(str(shared_data / "ibsi_sts_tumour" / "STS_002" / "dicom"))
    assert [kw["metadata"][METADATA_KEY]["modality"] for _, kw, _ in layers] == ["CT"]
    dropped = [str(w.message) for w in record if "not shown" in str(w.message)]
    assert len(dropped) == 2 and any("(MR," in m for m in dropped) and any("(OT," in m for m in dropped)
