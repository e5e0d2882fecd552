"""A store with reader R1, patient P001 (BL, FU1) and R1's lesions L1, L2, made through the CLI:
the set-up of the ``study track --confirm`` tests."""

from __future__ import annotations

from pathlib import Path

from hcc_imaging.cli import main


def two_lesion_store(tmp_path: Path) -> str:
    """Create ``tmp_path/s.sqlite`` holding the above; return its path."""
    db = str(tmp_path / "s.sqlite")
    for argv in (("study", "init"), ("study", "reader", "add", "R1"), ("study", "patient", "add", "P001"),
                 ("study", "timepoint", "add", "P001", "BL", "--date", "2024-01-10"),
                 ("study", "timepoint", "add", "P001", "FU1", "--date", "2024-03-10"),
                 ("study", "lesion", "add", "P001", "L1", "--reader", "R1"),
                 ("study", "lesion", "add", "P001", "L2", "--reader", "R1")):
        assert main([*argv, "--db", db]) == 0
    return db
