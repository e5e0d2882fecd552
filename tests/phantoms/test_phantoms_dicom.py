"""write_series / PhantomStudy.write_dicom: geometry, tags, determinism, read back."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pydicom
import pytest

from hcc_imaging.io.write import DicomWriteError, deterministic_uid, write_series
from hcc_imaging.phantoms import STUDY_PHASES, ellipsoid_lesion, make_study
from hcc_imaging.volume import Volume

EXPLICIT = "1.2.840.10008.1.2.1"
JLS = "1.2.840.10008.1.2.4.80"
RLE = "1.2.840.10008.1.2.5"


def _rot(axis: int, deg: float) -> np.ndarray:
    t = math.radians(deg)
    c, s = math.cos(t), math.sin(t)
    i, j = [a for a in range(3) if a != axis]
    r = np.eye(3)
    r[i, i], r[i, j], r[j, i], r[j, j] = c, -s, s, c
    return r


CORONAL = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]]).T  # slices A->P, rows S->I, cols R->L
OBLIQUE = _rot(0, 20) @ _rot(2, 10)


def _write(vol: Volume, out: Path, ts: str = EXPLICIT, **kw) -> list[Path]:
    args = dict(patient_id="P1", study_uid="1.2.3", series_uid="1.2.3.4", series_number=1, description="TEST")
    args.update(kw)
    return write_series(vol, out, transfer_syntax=ts, **args)


@pytest.mark.parametrize("ts", [pytest.param(EXPLICIT, id="explicit-le"), pytest.param(JLS, id="jpeg-ls"), pytest.param(RLE, id="rle")])
@pytest.mark.parametrize(
    "direction",
    [pytest.param(None, id="axial"), pytest.param(CORONAL, id="coronal"), pytest.param(OBLIQUE, id="oblique")],
)
def test_geometry_and_pixels_round_trip(tmp_path, ts, direction) -> None:
    vol, _, _ = ellipsoid_lesion((4, 6, 5), (2.0, 0.8, 0.7), direction=direction, inside_hu=650, outside_hu=-900,
                                 noise_sd_hu=20, seed=1, origin=(-12.5, 30.25, 101.0))
    files = _write(vol, tmp_path, ts)
    assert len(files) == vol.shape[0]
    d = np.asarray(vol.direction)
    for k, f in enumerate(files):
        ds = pydicom.dcmread(f)
        assert ds.file_meta.TransferSyntaxUID == ts
        assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.2"
        np.testing.assert_allclose([float(v) for v in ds.ImageOrientationPatient], [*d[:, 2], *d[:, 1]], atol=1e-6)
        np.testing.assert_allclose([float(v) for v in ds.ImagePositionPatient], vol.index_to_lps([k, 0, 0]), atol=1e-5)
        assert [float(v) for v in ds.PixelSpacing] == [0.8, 0.7]
        hu = ds.pixel_array.astype(np.int32) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        assert np.array_equal(hu, vol.array[k])


def test_simpleitk_reads_same_geometry(tmp_path) -> None:
    sitk = pytest.importorskip("SimpleITK")
    vol, _, _ = ellipsoid_lesion((4, 6, 5), (2.0, 0.8, 0.7), direction=OBLIQUE, noise_sd_hu=5, seed=2)
    files = _write(vol, tmp_path, JLS)
    r = sitk.ImageSeriesReader()
    r.SetFileNames([str(f) for f in files])
    back = Volume.from_sitk(r.Execute())
    assert back.geometry.equals(vol.geometry, atol_mm=1e-4)
    assert np.array_equal(back.array, vol.array)


def test_load_series_round_trip(tmp_path) -> None:
    from hcc_imaging import io
    st = make_study(0, "baseline", shape=(30, 64, 64), spacing=(4.5, 5.5, 5.5))
    info = st.write_dicom(tmp_path, transfer_syntax=JLS)
    for ph in STUDY_PHASES:
        back = io.load_series(Path(info["series"][str(ph)]["files"][0]).parent)
        assert back.geometry.equals(st.volumes[ph].geometry, atol_mm=1e-4)
        assert np.array_equal(back.array, st.volumes[ph].array)


def test_deterministic_bytes(tmp_path) -> None:
    vol, _, _ = ellipsoid_lesion((4, 5, 5), (2.0, 1.0, 1.0), noise_sd_hu=10, seed=1)
    a = _write(vol, tmp_path / "a", JLS, uid_seed=7)
    b = _write(vol, tmp_path / "b", JLS, uid_seed=7)
    c = _write(vol, tmp_path / "c", JLS, uid_seed=8)
    assert [f.read_bytes() for f in a] == [f.read_bytes() for f in b]
    assert pydicom.dcmread(a[0]).SOPInstanceUID != pydicom.dcmread(c[0]).SOPInstanceUID
    assert deterministic_uid("x", 1) == deterministic_uid("x", 1) != deterministic_uid("x", 2)


def test_study_tags(tmp_path) -> None:
    base = make_study(0, "baseline", shape=(6, 48, 48), spacing=(25.0, 7.0, 7.0))
    fu = make_study(0, "fu1", shape=(6, 48, 48), spacing=(25.0, 7.0, 7.0))
    ib = base.write_dicom(tmp_path / "b", masks=True)
    iff = fu.write_dicom(tmp_path / "f")
    times = []
    for ph in STUDY_PHASES:
        ds = pydicom.dcmread(ib["series"][str(ph)]["files"][0])
        assert ds.PatientID == "PHANTOM-001" and str(ds.PatientName) == "PHANTOM^LIVER"
        assert ds.StudyInstanceUID == ib["study_instance_uid"]
        assert ds.SeriesInstanceUID == base.volumes[ph].series_instance_uid
        assert ds.FrameOfReferenceUID == base.volumes[ph].frame_of_reference_uid
        assert ds.AcquisitionTime == ds.ContentTime
        times.append(ds.AcquisitionTime)
        words = {"pre_contrast": "PRE-CONTRAST", "arterial": "ARTERIAL", "portal_venous": "PORTAL VENOUS", "delayed": "DELAYED"}
        assert words[str(ph)] in ds.SeriesDescription
        assert ("ContrastBolusAgent" in ds) == (str(ph) != "pre_contrast")
    assert times == sorted(times) and len(set(times)) == 4
    db = pydicom.dcmread(ib["series"]["arterial"]["files"][0])
    df = pydicom.dcmread(iff["series"]["arterial"]["files"][0])
    assert db.StudyDate < df.StudyDate and db.StudyInstanceUID != df.StudyInstanceUID
    assert (tmp_path / "b" / "truth.json").is_file() and (tmp_path / "b" / "masks" / "lesions.nii.gz").is_file()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"ts": "1.2.840.10008.1.2.4.50"}, "not supported", id="lossy-jpeg-refused"),
        pytest.param({"hu": 5000}, "does not fit", id="hu-out-of-range"),
        pytest.param({"modality": "MR"}, "CT Image Storage", id="not-ct"),
    ],
)
def test_write_errors(tmp_path, kwargs, match) -> None:
    vol, _, _ = ellipsoid_lesion((3, 3, 3), (1.0, 1.0, 1.0), inside_hu=kwargs.get("hu", 100))
    if "modality" in kwargs:
        vol = Volume(array=vol.array, geometry=vol.geometry, modality=kwargs["modality"])
    with pytest.raises(DicomWriteError, match=match):
        _write(vol, tmp_path, kwargs.get("ts", EXPLICIT))


#: A small grid covering the phantom anatomy (as tests/batch), so the archives below stay fast.
_SMALL = {"shape": (30, 64, 64), "spacing": (4.5, 5.5, 5.5)}


def _uids(root: Path) -> set[str]:
    uids = set()
    for f in root.rglob("*.dcm"):
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        uids |= {ds.SOPInstanceUID, ds.SeriesInstanceUID, ds.StudyInstanceUID, ds.FrameOfReferenceUID}
    return uids


def test_phantom_patients_and_images_never_share_uids(tmp_path: Path) -> None:
    """``write_longitudinal`` for PAT-A, PAT-B and PAT-C (noise 40 HU), seed 0, wrote the same Study,
    Series and SOP Instance UIDs for all three, though PAT-C's pixels differ: ``index`` kept PAT-A
    and dropped the others as copies.  patient_id and non-default image parameters enter the UIDs."""
    from hcc_imaging.io import index_archive
    from hcc_imaging.phantoms import write_longitudinal

    root = tmp_path / "archive"
    for pid, kw in (("PAT-A", {}), ("PAT-B", {}), ("PAT-C", {"noise_sd_hu": 40.0})):
        write_longitudinal(root / pid, timepoints=("baseline",), patient_id=pid, masks=False, **_SMALL, **kw)
    a, b, c = (_uids(root / p) for p in ("PAT-A", "PAT-B", "PAT-C"))
    assert len(a) == len(b) == len(c) == 30 * 4 + 4 + 1 + 1
    assert not (a & b) and not (a & c) and not (b & c)
    assert sorted(p.patient_id for p in index_archive(root).patients) == ["PAT-A", "PAT-B", "PAT-C"]

    # every image parameter that changes the pixels changes the UIDs; the same ones give the same UIDs
    def uid(**kw: object) -> str:
        return make_study(0, "baseline", **{**_SMALL, **kw}).truth["dicom"]["study_instance_uid"]  # type: ignore[arg-type]

    variants = [uid(), uid(noise_sd_hu=0.0), uid(psf_sigma_mm=0.5), uid(node_fat_mm=0.0), uid(patient_id="PAT-B"),
                uid(shape=(30, 64, 66)), uid(spacing=(4.5, 5.5, 5.6))]
    assert len(set(variants)) == len(variants)
    assert uid() == uid(noise_sd_hu=15) and uid(patient_id="PAT-B") == uid(patient_id="PAT-B")

    # writing one study as another patient gives that patient's UIDs (those make_study(patient_id=) has)
    st = make_study(0, "baseline", noise_sd_hu=0.0, **_SMALL)  # type: ignore[arg-type]
    info = st.write_dicom(tmp_path / "as_b", patient_id="PAT-B")
    own = make_study(0, "baseline", noise_sd_hu=0.0, patient_id="PAT-B", **_SMALL).truth["dicom"]  # type: ignore[arg-type]
    assert info["study_instance_uid"] == own["study_instance_uid"] != st.truth["dicom"]["study_instance_uid"]
    ds = pydicom.dcmread(next((tmp_path / "as_b" / "arterial").glob("*.dcm")), stop_before_pixels=True)
    assert (ds.PatientID, ds.SeriesInstanceUID) == ("PAT-B", own["series"]["arterial"])


def test_default_phantom_keeps_the_uids_of_seed_and_timepoint() -> None:
    """The committed sample's UIDs (``sample_data/liver_phantom``) are unchanged: the default
    phantom adds nothing to the UIDs' entropy."""
    st = make_study(0, "baseline", noise_sd_hu=15.0, psf_sigma_mm=1.0, patient_id="PHANTOM-001")
    ids = st.truth["dicom"]
    assert ids["study_instance_uid"] == deterministic_uid("study", 0, "baseline")
    assert ids["series"]["arterial"] == deterministic_uid("series", 0, "baseline", "arterial")
    assert ids["patient_id"] == "PHANTOM-001"
