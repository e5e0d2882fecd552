"""Benchmark of the export area (not collected by pytest; run by hand):

    .venv/bin/python benchmarks/bench_export.py

Prints ratios against the peer measured in the same run:
* SR import: our content-tree reader (``read_sr``) vs highdicom's template parser
  (``srread`` + ``get_*_measurement_groups`` + measurements), on the real QIN-HEADNECK report
  (11 groups, 1041 content items) - both give the measurements, which must be the same values
  (else the script prints MISMATCH and exits with 1).
* SEG write: ``write_seg`` (checks, ordering, segment metadata) vs a bare
  ``highdicom.seg.Segmentation`` call on the same arrays - the overhead of our layer.

``--repeat N`` times each N times, best kept (default: the SR import 5, the SEG write 3).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _best(fn, n: int = 5) -> tuple[float, float]:  # noqa: ANN001
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=None, help="timed runs of each, best kept (default: SR 5, SEG 3)")
    args = ap.parse_args(argv)
    import highdicom as hd
    import numpy as np
    import pydicom
    from pydicom.sr.codedict import codes

    from hcc_imaging.export import read_sr, write_seg
    from tests.conftest import SHARED_DATA
    from tests.export.conftest import lesion_labels, write_ct_series

    # the test suite's shared data: $HCC_SHARED_DATA, or ../shared/data beside the checkout
    sr_path = SHARED_DATA / "tid1500_sr_examples" / "qin_headneck_0139_User2_SemiAuto_Trial2.dcm"

    def ours() -> list[float]:
        return sorted(float(m.value) for m in read_sr(sr_path).records())

    def peer() -> list[float]:
        doc = hd.sr.srread(sr_path)
        values: list[float] = []
        for g in doc.content.get_volumetric_roi_measurement_groups() + doc.content.get_planar_roi_measurement_groups() + doc.content.get_image_measurement_groups():
            values.extend(float(m.value) for m in g.get_measurements())
        return sorted(values)

    got, ref = ours(), peer()  # (also the warm-up)
    print(f"SR import records: ours {len(got)}, highdicom {len(ref)}")
    if got != ref:
        only_ours = sorted(set(got) - set(ref))[:5]
        only_peer = sorted(set(ref) - set(got))[:5]
        print(f"MISMATCH: the SR's measurements differ from highdicom's ({len(got)} against {len(ref)} values; "
              f"only ours e.g. {only_ours}, only highdicom's e.g. {only_peer}) in {sr_path}")
        return 1
    a, b = _best(ours, args.repeat or 5), _best(peer, args.repeat or 5)
    print(f"SR import (QIN 11 groups): ours min {a[0]*1e3:.1f} ms, highdicom min {b[0]*1e3:.1f} ms, ratio ours/peer {a[0]/b[0]:.2f}")

    tmp = Path(tempfile.mkdtemp())
    ct = write_ct_series(tmp / "ct", shape=(40, 256, 256))
    labels, viable = lesion_labels(ct.volume)
    srcs = [pydicom.dcmread(f, stop_before_pixels=True) for f in ct.files]

    def ours_seg() -> None:
        write_seg(labels, ct.volume, tmp / "a.dcm", viable=viable, source_datasets=srcs)

    def peer_seg() -> None:
        px = np.stack([labels.array == 1, viable.array == 1, labels.array == 2], axis=-1)
        descs = [hd.seg.SegmentDescription(segment_number=i + 1, segment_label=f"S{i}",
                 segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
                 segmented_property_type=codes.SCT.Neoplasm, algorithm_type="MANUAL") for i in range(3)]
        seg = hd.seg.Segmentation(srcs, px, "BINARY", descs, hd.UID(), 1, hd.UID(), 1, "x", "x", "1", "1")
        seg.save_as(tmp / "b.dcm")

    ours_seg()
    peer_seg()  # warm-up: the first write pays for imports and caches
    a, b = _best(ours_seg, args.repeat or 3), _best(peer_seg, args.repeat or 3)
    print(f"SEG write 40x256x256, 3 segments: ours min {a[0]*1e3:.0f} ms, bare highdicom min {b[0]*1e3:.0f} ms, "
          f"ratio ours/peer {a[0]/b[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
