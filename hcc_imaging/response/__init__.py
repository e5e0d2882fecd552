"""hcc_imaging.response (see docs/DESIGN.md section 3)."""
