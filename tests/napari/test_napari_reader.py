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



def _shown_where_acquired(layer: Any, acquired: Any) -> list[int]:
    """The layer's display axes; asserts each shown voxel is the acquired one, at its LPS position."""
    axes = layer.metadata[METADATA_KEY]["reoriented_axes"]
    np.testing.assert_array_equal(np.asarray(layer.data), np.transpose(acquired.array, axes))
    shape = np.asarray(layer.data).shape
    for idx in [(0, 0, 0), tuple(n - 1 for n in shape), (shape[0] // 2, shape[1] / 3.0, 1)]:
        at = np.empty(3)
        at[list(axes)] = idx  # the same voxel's index on the acquired grid
        np.testing.assert_allclose(layer.data_to_world(idx), lps_to_world(acquired.index_to_lps(at)), atol=1e-6)
    return list(axes)


def test_a_sagittal_two_slice_mr_series_is_drawn_and_read(make_napari_viewer: Any, shared_data: Path,
                                                          tmp_path: Path, qtbot: Any) -> None:
    """dicom2nifti's 2-slice sagittal MR: napari raised ``LinAlgError: Singular matrix`` drawing it
    (napari slices by data axis, and a sagittal series' slice axis is world x, not z: any sagittal
    or coronal series, whatever its slice count).  It is shown with its array axes in world order,
    every voxel at its LPS position, and a lesion painted on it is read."""
    from hcc_imaging.io import load_series
    from hcc_imaging.napari_plugin._widgets._dock import ResponseDock

    folder = shared_data / "dicom2nifti_failing_series" / "slicecount" / "001"
    viewer = make_napari_viewer()
    with pytest.warns(UserWarning, match=r"z, y, x order"):
        viewer.open(str(folder), plugin="hcc-imaging")
    (layer,) = viewer.layers
    _shown_where_acquired(layer, load_series(str(folder)))
    assert viewer.screenshot(canvas_only=True).std() > 0  # drawn
    dock = ResponseDock(viewer, autosave_dir=tmp_path / "reads", db=tmp_path / "study.sqlite")
    session = dock.start_read("R1")
    lab = viewer.layers["lesions · baseline"]
    shape = np.asarray(lab.data).shape
    lab.brush_size = 15
    lab.paint((shape[0] // 2, shape[1] // 2, 0), 1)  # a lesion drawn by hand
    qtbot.waitUntil(lambda: ("L1", "baseline") in session.observations, timeout=10000)
    assert session.observations[("L1", "baseline")].volume_mm3 > 0


def test_a_sagittal_series_seg_and_sr_follow_its_acquired_slices(make_napari_viewer: Any, tmp_path: Path,
                                                                   qtbot: Any) -> None:
    """A sagittal CT shown with its axes in world order: the SEG of a lesion painted on it is on the
    acquired slices (read back on the acquired series), and the SR is written."""
    from hcc_imaging.export import read_seg
    from hcc_imaging.io import load_series
    from hcc_imaging.napari_plugin._layers import as_acquired
    from hcc_imaging.napari_plugin._widgets._dock import ResponseDock
    from tests.io._synth import write_series

    vals = np.full((4, 30, 24), 1100, np.uint16)
    write_series(tmp_path / "sag", vals, spacing=(3.0, 0.9, 0.8), iop=(0, 1, 0, 0, 0, -1),
                 extra={"PatientID": "SAG-1", "PatientName": "Sag^One", "PatientSex": "O", "PatientBirthDate": "",
                        "StudyID": "1", "AccessionNumber": "", "ReferringPhysicianName": "", "StudyDate": "20260101",
                        "StudyTime": "120000"})
    acquired = load_series(str(tmp_path / "sag"))
    viewer = make_napari_viewer()
    with pytest.warns(UserWarning, match=r"z, y, x order"):
        viewer.open(str(tmp_path / "sag"), plugin="hcc-imaging")
    axes = _shown_where_acquired(viewer.layers[0], acquired)
    assert viewer.screenshot(canvas_only=True).std() >= 0  # drawn, no LinAlgError
    dock = ResponseDock(viewer, autosave_dir=tmp_path / "reads", db=tmp_path / "study.sqlite")
    session = dock.start_read("R1")
    lab = viewer.layers["lesions · baseline"]
    shape = np.asarray(lab.data).shape
    lab.brush_size = 9
    lab.paint((shape[0] // 2, shape[1] // 2, 1), 1)
    qtbot.waitUntil(lambda: ("L1", "baseline") in session.observations, timeout=10000)
    (seg_path,) = dock.export("SEG", tmp_path / "seg.dcm")
    back = read_seg(seg_path, reference=acquired)
    want = as_acquired(session.label_volume("baseline"), axes).array != 0
    assert want.any() and want.shape == acquired.shape
    np.testing.assert_array_equal(back.lesions.array != 0, want)
    written = lab.save(str(tmp_path / "npe2_seg.dcm"), plugin="hcc-imaging")  # napari's writer too
    np.testing.assert_array_equal(read_seg(written[0], reference=acquired).lesions.array != 0, want)
    (sr_path,) = dock.export("SR", tmp_path / "sr.dcm")
    assert sr_path.stat().st_size > 0
    # and back: the SEG imported onto the shown (world-ordered) time point replaces L1's mask with
    # the same voxels (a mask imported on the acquired axes would land transposed or be refused)
    painted = np.asarray(session.label_volume("baseline").array) != 0
    assert session.import_masks("baseline", seg_path) == ["L1"]
    np.testing.assert_array_equal(np.asarray(session.label_volume("baseline").array) != 0, painted)
