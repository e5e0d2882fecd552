"""hcc_imaging.study (see docs/DESIGN.md section 3)."""
