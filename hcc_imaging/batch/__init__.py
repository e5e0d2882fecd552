"""hcc_imaging.batch (see docs/DESIGN.md section 3)."""
