"""Parameters of :mod:`hcc_imaging.measure`, each with its unit in the name and its source.

Points where sources disagree, or where the method needs a tolerance, are parameters here and
are recorded in every :class:`~hcc_imaging.measure.LesionMeasurement`'s provenance.
"""

from __future__ import annotations

__all__ = [
    "ESTIMATOR",
    "VIABLE_RULE",
    "HOMOTHETIC_MAX_LD_VOXELS",
    "HOMOTHETIC_MIN_AREA_FRACTION",
    "RECIST_MIN_LD_MM",
    "RECIST_THICK_SLICE_MM",
    "RECIST_THICK_SLICE_FACTOR",
    "NODE_MEASURABLE_SA_MM",
    "NODE_PATHOLOGICAL_SA_MM",
    "MRECIST_MIN_VIABLE_MM",
    "VIABLE_GAP_VOXELS",
    "VIABLE_OUTSIDE_MAX_FRACTION",
    "VIABLE_SAMPLE_STEP_VOXELS",
    "RIM_EXCLUSION_MM",
    "PERPENDICULAR_TOL_DEG",
    "AXIAL_LINE_TOL_MM",
]

#: The one diameter estimator of hcc_imaging (docs/measure.md section 2): the voxel-centre
#: hull picks the chord; each endpoint is moved to a sub-voxel estimate of the continuous
#: boundary (the slice's fitted ellipse when it reproduces the mask, else local weighted
#: parabola fits).  Within half the largest in-plane voxel of analytic truth for smooth lesions
#: >= 12 mm (one voxel below on the test cases; half a voxel is not attainable there by any
#: estimator, docs/measure.md section 2).  Version 2: a small lesion's central slices are
#: fitted together by homothetic ellipses where these reproduce every one of them (v1: each
#: slice alone; its short axis was up to 1.3 voxel off on random 5-12 mm ellipsoids).
#: Version 3: the ellipse fits (one slice and homothetic) make one reweighting pass instead of
#: two (speed; error counts on random ellipsoids unchanged, docs/measure.md section 10).
#: Version 4: a section's ellipse is no longer refused for wrong voxels whose centres the
#: outline merely grazes (within 0.05 voxel; ``_subvoxel.ELLIPSE_MISMATCH_NEAR_VOXELS``).
#: Version 5: an exactly singular ellipse fit (two voxels side by side) uses the conic through
#: its points (``_exact_conic``).  Version 6 (2026-12-07): the LD, short axis and 3-D Feret are
#: searched in the patient-fixed layout (``diameters.patient_frame``), so among exactly equal
#: lines the one reported no longer depends on how the series stores its voxels (an ordinary
#: axial series: the same numbers as v5).
ESTIMATOR: str = "subvoxel-boundary-v6"

#: Version of the mRECIST viable-diameter rule, the viable short axis and the necrosis fraction
#: (:mod:`hcc_imaging.measure.viable`; their diameters' ends are refined by :data:`ESTIMATOR`).
#: Bump it with any change there that changes a number: it is part of every batch study's resume
#: key (:func:`hcc_imaging.batch.resume.code_version`), so ``batch --resume`` measures again.
#: v2 (2026-12-06): the search runs in a patient-fixed array layout (``measure._canonical``),
#: so the same voxels stored transposed, flipped or coronally give the same viable lines.
VIABLE_RULE: str = "viable-rule-v2"

#: Small lesions (longest centre-hull axial diameter <= this many largest in-plane voxels) have
#: their central slices fitted together by homothetic ellipses (one shape and orientation,
#: each slice its own size and centre: the sections of any ellipsoid by parallel planes), used
#: where they reproduce every one of those slices' masks.  Below ~10 voxels a single slice's
#: mask leaves its ellipse open by more than half a voxel (docs/measure.md section 2); the
#: neighbouring slices pin it down.  Chosen from random ellipsoids (seeds 7, 11, 13; checked
#: on 101, 103; scripts/measure_accuracy_random.py), not from the test cases: above ~20 voxels
#: it changes little, and this bound keeps it off the 30 mm timing (43 voxels at 0.7 mm).
HOMOTHETIC_MAX_LD_VOXELS: float = 24.0

#: ... the slices fitted together: from the first to the last slice holding at least this
#: fraction of the largest slice's voxel count (the central part of the lesion, where its
#: sections are largest and their shapes most alike; caps of a few voxels are left out).
HOMOTHETIC_MIN_AREA_FRACTION: float = 0.5

#: RECIST 1.1 (Eisenhauer 2009, sec. 3.1.1): a non-nodal lesion is measurable when its LD is
#: >= 10 mm on CT/MRI with slices <= 5 mm thick.
RECIST_MIN_LD_MM: float = 10.0

#: RECIST 1.1 sec. 3.1.1 / Appendix II: above this slice thickness the minimum size becomes
#: ``RECIST_THICK_SLICE_FACTOR`` x slice thickness.
RECIST_THICK_SLICE_MM: float = 5.0

#: RECIST 1.1 Appendix II: minimum measurable size = 2 x slice thickness for slices > 5 mm.
RECIST_THICK_SLICE_FACTOR: float = 2.0

#: RECIST 1.1 sec. 3.1.1: a lymph node is pathological and measurable when its short axis is
#: >= 15 mm.
NODE_MEASURABLE_SA_MM: float = 15.0

#: RECIST 1.1 sec. 3.1.2: a node with 10 <= SA < 15 mm is pathological but non-measurable;
#: SA < 10 mm is normal.
NODE_PATHOLOGICAL_SA_MM: float = 10.0

#: mRECIST (Lencioni & Llovet 2010): a target must be measurable as >= 1 cm (viable diameter).
MRECIST_MIN_VIABLE_MM: float = 10.0

#: mRECIST viable-diameter rule tolerance: a candidate segment may pass through non-viable
#: samples over at most this many in-plane voxels (the largest in-plane spacing) in a row.
#: One voxel: necrosis thinner than one voxel cannot be told from partial volume.  Chosen by
#: hcc_imaging (the 2010 paper only says "not crossing necrotic parts").
VIABLE_GAP_VOXELS: float = 1.0

#: A viable mask is checked against its lesions: when more than this fraction of the viable
#: voxels of a label value lie outside every lesion mask, a warning names the lesion and the
#: fraction (:func:`hcc_imaging.measure.viable.viable_outside_lesions`; ``batch`` records it).
#: Only viable voxels inside a lesion are measured (the viable mask is intersected with it), so a
#: viable mask drawn on another series or shifted silently shrank the viable diameters (15 mm:
#: the sample's mRECIST baseline sum 54.1 -> 35.8 mm).  5 %: a hand-drawn viable outline crosses
#: its lesion's by a voxel here and there, which stays well below it.
VIABLE_OUTSIDE_MAX_FRACTION: float = 0.05

#: Step between the sample points of a candidate segment, in units of the smallest in-plane
#: spacing (half a voxel: every voxel the segment crosses is visited).
VIABLE_SAMPLE_STEP_VOXELS: float = 0.5

#: Optional thin-rim exclusion for the viable diameter: viable structures thinner than this
#: (mm, in-plane) are removed by a morphological opening before measuring.  mRECIST: a thin,
#: regular rim of enhancement around a treated zone is reactive, not viable tumour
#: (Lencioni & Llovet 2010).  Default 0 = off: the viable mask is measured as given (the
#: segmentation already excludes rims, DESIGN section 3); 2-3 mm suits hand-drawn masks.
RIM_EXCLUSION_MM: float = 0.0

#: Bidirectional caliper: two lines count as perpendicular when the angle between them is
#: 90 deg +- this tolerance (a reader's hand in napari; 5 deg moves a 20 mm short axis by
#: < 0.1 mm, 1 - cos 5 deg = 0.4 %).
PERPENDICULAR_TOL_DEG: float = 5.0

#: A caliper line is axial when its two endpoints differ by at most this much along S (mm)
#: (both endpoints are drawn on one slice; slice positions are rounded in DICOM to 0.01 mm).
AXIAL_LINE_TOL_MM: float = 0.05

#: A label made of several separate pieces (26-connected): ``"sum"`` measures it as a lesion that
#: split, RECIST 1.1 (Eisenhauer 2009, Appendix I): the fragments' longest diameters added (and,
#: the same logic for mRECIST / EASL, their viable diameters); ``"hull"`` as one object (the LD
#: may run between the pieces; the behaviour before 2026-12-06).  ``fragments=`` / ``--fragments``.
FRAGMENTS: str = "sum"

#: A piece of a label is a fragment when its largest in-plane extent (outer voxel edges) is at
#: least this (mm); smaller pieces - noise specks of one or two voxels - are left out of the
#: diameters (their voxels stay in the volume).  3 mm: a 2-voxel speck at 1.4 mm pixels is below,
#: anything a reader measures (RECIST records lesions down to 5 mm) is above.
FRAGMENT_MIN_DIAMETER_MM: float = 3.0
