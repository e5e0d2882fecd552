"""hcc_imaging.export (see docs/DESIGN.md section 3)."""
