"""napari adapter for hcc_imaging. Importing this package must stay cheap: no napari/Qt at import."""
