"""hcc_imaging.segment (see docs/DESIGN.md section 3)."""
