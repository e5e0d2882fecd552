"""A lesion ``source`` that names a file (an imported mask) is never written where it can leak.

A reader who imports a mask (the napari plugin's *Import masks…*) chose its file, and the file's
name may be a patient's (``Doe_John_liver_seg.nii.gz``).  The name is no provenance worth keeping
(the read keeps the mask itself), so:

* the napari plugin records such a lesion's source as :data:`IMPORTED_MASK_SOURCE`, never the file's
  name (its status line shows the name; nothing written does);
* a source that names a file anyway (a read document written by another tool or by hand:
  ``imported:Doe_John_liver_seg.nii.gz (hcc_imaging 0.1.0)``, ``/data/Doe_John.nii.gz``) is no
  algorithm: the SR writes no TID 4019 Algorithm Name for it (it ends in a version-like word, and was
  written as the algorithm ``imported:Doe_John_liver_seg.nii.gz (hcc_imaging``, de-identified or not,
  until 2026-12-06);
* a de-identified export (tables, JSON reads, SR) writes it as :data:`IMPORTED_MASK_SOURCE` (until
  2026-12-06 it was kept, as an algorithm's ``NAME VERSION``).  A plain export writes a read
  document's source as the document has it.
"""

from __future__ import annotations

import re

__all__ = ["ALGORITHM_PREFIX", "IMPORTED_MASK_SOURCE", "names_a_file"]

#: The source of a lesion whose mask was imported from a file: no file name, no hash of one (a name
#: is guessed back from its hash by trying names).
IMPORTED_MASK_SOURCE = "imported mask"

#: Prefix of an algorithm's source as the napari read writes it: ``algorithm:NAME/VERSION``.
ALGORITHM_PREFIX = "algorithm:"

#: A word that is a file name: a mask's, an image's, or a document's extension at its end.
_FILE_WORD = re.compile(
    r".+\.(nii(\.gz)?|nrrd|nhdr|mha|mhd|raw|img|hdr|dcm|dicom|ima|gz|zip|tar|bz2|xz|npz|npy|json|csv|tsv|txt|xml|"
    r"mat|h5|hdf5|tif|tiff|png|jpe?g|bmp|stl|vtk|vtp|obj|ply|seg|rtss?)$",
    re.IGNORECASE,
)


def names_a_file(source: object) -> bool:
    """Whether a lesion's ``source`` names a file: ``imported:...`` (the napari plugin wrote
    ``imported:FILE (hcc_imaging VERSION)``), ``file:...``, or a word with a file's extension."""
    v = str(source or "").strip()
    if v.lower().startswith(("imported:", "file:")):
        return True
    return any(_FILE_WORD.fullmatch(w.strip("()[]{}<>,;'\"")) for w in v.split())
