"""hcc_imaging.io (see docs/DESIGN.md section 3)."""
