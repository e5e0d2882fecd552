"""napari adapter for hcc_imaging (npe2 manifest ``napari.yaml``, plugin name ``hcc-imaging``).

Importing this package stays cheap: no napari, Qt or magicgui at import.  Modules:

* ``_layers``  - pure Volume / LabelVolume / measurement-line <-> napari layer data (world = LPS reversed);
* ``_controller`` - the Qt-free read session behind the dock (edits, autosave, study store, blinding);
* ``_core`` - the only place the plugin calls the core (io, segment, measure, response, export);
* ``_reader`` / ``_writer`` / ``_sample_data`` - npe2 contributions;
* ``_widgets`` - the dock widget (the only Qt importer).

User guide: ``docs/napari.md``.
"""
