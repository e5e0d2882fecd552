"""hcc_imaging.burden (see docs/DESIGN.md section 3)."""
