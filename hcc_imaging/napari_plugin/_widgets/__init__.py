"""Qt widgets of the hcc-imaging plugin (the only modules that import qtpy/magicgui/matplotlib Qt backends)."""
