"""Benchmark: load a 512x512xN CT series with hcc_imaging vs SimpleITK, dcm2niix and raw bytes.

Generates (once, cached in ``--data``) abdominal-CT-like series of 100 and 400 slices, 512x512,
signed int16 stored as HU + 1024 (RescaleIntercept -1024), file names a random permutation of
the slice order, in three transfer syntaxes: explicit VR little endian, JPEG 2000 lossless
(pylibjpeg-openjpeg encoder) and JPEG-LS lossless (pyjpegls encoder).  The 400-slice JPEG 2000
series takes ~30 s to encode and ~8 s per load; it is included with ``--full``.

Methods, interleaved round-robin in one process (rotation order changes every round), warm page
cache, median of ``--rounds`` timed loads after one untimed warm-up:

* ``hcc_imaging``   -- ``hcc_imaging.io.load_series(folder)`` (int16 HU, geometry checked)
* ``sitk_int16``    -- SimpleITK ImageSeriesReader (GDCM sorts by IPP) with int16 output + GetArrayFromImage
* ``dcm2niix``      -- the Debian binary converting the folder to uncompressed NIfTI (``-z n -b n``), no array
* ``raw_readinto``  -- floor: seek to the trailing pixel bytes of each file and readinto a preallocated
  volume (no parsing, no sorting, uncompressed only)

Every real loader's array is checked against the generated truth (``ok``).  Printed: medians
(ms), ratio to ``sitk_int16`` and to ``raw_readinto``.  A loader whose array is not the truth
(MISMATCH, a wrong dtype) or hcc_imaging failing makes the script exit with 1 (a peer that cannot
read a syntax, dcm2niix without CharLS, is shown as "fails" and is not an error).

Run: ``.venv/bin/python benchmarks/bench_load.py [--full] [--rounds 5]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SYNTAXES = {
    "explicit": None,
    "jpegls": "1.2.840.10008.1.2.4.80",
    "j2k": "1.2.840.10008.1.2.4.90",
}


def phantom_slice(k: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Abdomen-like slice in HU: body ellipse (soft tissue 40), liver (60), aorta (150), spine (400), noise 12."""
    y, x = np.mgrid[0:512, 0:512].astype(np.float32)
    img = np.full((512, 512), -1000.0, np.float32)
    body = ((x - 256) / 200) ** 2 + ((y - 256) / 150) ** 2 <= 1
    img[body] = 40.0
    liver = ((x - 190) / 90) ** 2 + ((y - 230) / 70) ** 2 <= 1 + 0.2 * np.sin(k / n * 3)
    img[liver & body] = 60.0
    img[((x - 280) ** 2 + (y - 300) ** 2) <= 15**2] = 150.0
    img[((x - 256) ** 2 + (y - 350) ** 2) <= 25**2] = 400.0
    img += rng.normal(0, 12, img.shape).astype(np.float32)
    return np.clip(np.rint(img), -1024, 3071).astype(np.int16)


def generate(folder: Path, n: int, syntax: str, seed: int = 0) -> np.ndarray:
    """Write one series; return the truth volume (HU, slice order ascending z)."""
    import pydicom
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    rng = np.random.default_rng(seed)
    truth = np.stack([phantom_slice(k, n, rng) for k in range(n)])
    folder.mkdir(parents=True, exist_ok=True)
    names = rng.permutation(n)
    series, study, frame = generate_uid(), generate_uid(), generate_uid()
    for k in range(n):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        sop = generate_uid()
        meta.MediaStorageSOPInstanceUID = sop
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = FileDataset("x", {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, sop
        ds.Modality, ds.PatientID, ds.StudyDate = "CT", f"BENCH{seed}", "20240101"
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.SeriesDescription, ds.SeriesNumber, ds.InstanceNumber = f"bench {syntax} {n}", 2, n - k
        ds.ImagePositionPatient = [-180.0, -180.0, float(f"{-100 + 2.5 * k:.2f}")]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [0.703125, 0.703125]
        ds.SliceThickness = ds.SpacingBetweenSlices = 2.5
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.Rows = ds.Columns = 512
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
        ds.PixelData = (truth[k].astype(np.int32) + 1024).astype("<i2").tobytes()
        uid = SYNTAXES[syntax]
        if uid is not None:
            ds.compress(uid, encoding_plugin="pyjpegls" if syntax == "jpegls" else "pylibjpeg")
        ds.save_as(folder / f"{names[k]:06d}", enforce_file_format=True)
    del pydicom
    return truth


def ensure(data: Path, n: int, syntax: str) -> tuple[Path, np.ndarray]:
    folder = data / f"{syntax}_{n}"
    truth_file = data / f"truth_{n}.npy"
    if not (folder / ".done").exists():
        shutil.rmtree(folder, ignore_errors=True)
        t0 = time.perf_counter()
        truth = generate(folder, n, syntax)
        np.save(truth_file, truth)
        (folder / ".done").write_text("ok")
        print(f"  generated {folder.name} in {time.perf_counter() - t0:.1f} s", flush=True)
    return folder, np.load(truth_file)


# ------------------------------------------------------------------------------------------------
def m_hcc(folder: Path) -> np.ndarray:
    from hcc_imaging.io import load_series

    return load_series(folder).array


def m_sitk(folder: Path) -> np.ndarray:
    import SimpleITK as sitk

    r = sitk.ImageSeriesReader()
    r.SetFileNames(r.GetGDCMSeriesFileNames(str(folder)))
    r.SetOutputPixelType(sitk.sitkInt16)
    img = r.Execute()
    return sitk.GetArrayFromImage(img)


def m_dcm2niix(folder: Path) -> None:
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(["dcm2niix", "-z", "n", "-b", "n", "-o", out, "-f", "v", str(folder)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not list(Path(out).glob("*.nii")):
            raise RuntimeError("dcm2niix wrote nothing")


def m_raw(folder: Path) -> np.ndarray:
    files = sorted(f for f in os.listdir(folder) if not f.startswith("."))
    out = np.empty((len(files), 512, 512), np.int16)
    nbytes = 512 * 512 * 2
    for k, name in enumerate(files):
        p = os.path.join(folder, name)
        with open(p, "rb", buffering=0) as f:
            f.seek(os.path.getsize(p) - nbytes)
            f.readinto(memoryview(out[k]).cast("B"))
    return out


METHODS: dict[str, Callable[[Path], object]] = {
    "hcc_imaging": m_hcc,
    "sitk_int16": m_sitk,
    "dcm2niix": m_dcm2niix,
    "raw_readinto": m_raw,
}


def check(name: str, arr: object, truth: np.ndarray) -> str:
    if not isinstance(arr, np.ndarray):
        return "-"
    if name == "raw_readinto":
        return "floor"
    if arr.dtype != np.int16:
        return f"dtype {arr.dtype}"
    if name == "sitk_int16":
        # SimpleITK orders by IPP too (z ascending); values in HU
        return "ok" if np.array_equal(arr, truth) else "MISMATCH"
    return "ok" if np.array_equal(arr, truth) else "MISMATCH"


def run_case(folder: Path, truth: np.ndarray, methods: list[str], rounds: int) -> dict[str, tuple[float, str]]:
    times: dict[str, list[float]] = {m: [] for m in methods}
    status: dict[str, str] = {}
    for m in methods:  # warm-up (and correctness check)
        try:
            status[m] = check(m, METHODS[m](folder), truth)
        except Exception as err:  # a peer that cannot read the syntax (dcm2niix w/o CharLS)
            status[m] = f"fails: {type(err).__name__}"
    live = [m for m in methods if not status[m].startswith("fails")]
    for r in range(rounds):
        order = live[r % len(live):] + live[: r % len(live)]
        for m in order:
            t0 = time.perf_counter()
            METHODS[m](folder)
            times[m].append(time.perf_counter() - t0)
    return {m: (statistics.median(times[m]) if times[m] else float("nan"), status[m]) for m in methods}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "hcc_bench_load")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--full", action="store_true", help="include the 400-slice JPEG 2000 series")
    ap.add_argument("--sizes", default="100,400")
    ap.add_argument("--syntaxes", default="explicit,jpegls,j2k", help="comma-separated subset")
    args = ap.parse_args(argv)
    args.data.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"data in {args.data}; {args.rounds} timed rounds per case; warm page cache; shared 2-core machine")
    rows = []
    for syntax in [s for s in ("explicit", "jpegls", "j2k") if s in args.syntaxes.split(",")]:
        for n in sizes:
            if syntax == "j2k" and n > 100 and not args.full:
                continue
            folder, truth = ensure(args.data, n, syntax)
            methods = ["hcc_imaging", "sitk_int16", "dcm2niix"] + (["raw_readinto"] if syntax == "explicit" else [])
            rounds = args.rounds if syntax == "explicit" else max(2, args.rounds // 2)
            res = run_case(folder, truth, methods, rounds)
            rows.append((syntax, n, res))
            sitk_t = res["sitk_int16"][0]
            floor = res.get("raw_readinto", (float("nan"), ""))[0]
            print(f"\n{syntax} {n} slices")
            print(f"  {'method':<14}{'median ms':>11}{'vs sitk_int16':>15}{'vs raw_readinto':>17}  check")
            for m, (t, st) in res.items():
                ratio_s = f"{t / sitk_t:.2f}x" if np.isfinite(t) and np.isfinite(sitk_t) else "-"
                ratio_f = f"{t / floor:.1f}x" if np.isfinite(t) and np.isfinite(floor) else "-"
                ms = f"{t * 1000:.1f}" if np.isfinite(t) else "-"
                print(f"  {m:<14}{ms:>11}{ratio_s:>15}{ratio_f:>17}  {st}", flush=True)
    wrong = [f"{syntax} {n} {m}: {st}" for syntax, n, res in rows for m, (_, st) in res.items()
             if st not in ("ok", "floor", "-") and (m == "hcc_imaging" or not st.startswith("fails"))]
    print("\nsummary: hcc_imaging / sitk_int16 (lower is better; target <= 0.33 uncompressed, <= 1.0 J2K;"
          " JPEG-LS 400 <= 2.5 s)")
    for syntax, n, res in rows:
        t, s = res["hcc_imaging"][0], res["sitk_int16"][0]
        print(f"  {syntax:<9}{n:>4} slices: {t * 1000:8.1f} ms vs {s * 1000:8.1f} ms = {t / s:.2f}x "
              f"(SimpleITK {s / t:.2f}x slower)")
    if wrong:
        print(f"FAILED: wrong or missing results ({'; '.join(wrong)}); the ratios above compare them")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
