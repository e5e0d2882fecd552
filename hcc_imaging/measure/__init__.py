"""hcc_imaging.measure (see docs/DESIGN.md section 3)."""
