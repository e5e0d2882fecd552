"""A de-identified export leaves no identifiable file in its folder.

Until 2026-12-06 ``export csv --deidentify`` into a folder of an earlier, not de-identified export
moved that export's ``reads/<real id>.json`` (and tables it did not replace) to ``OUT/stale/``,
inside the folder meant for sharing.  It is now refused before anything is written.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hcc_imaging.cli import main
from hcc_imaging.export.deid import Deidentifier
from hcc_imaging.export.tables import TableExportError, write_tables

from .conftest import read_document


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_cli_deidentified_export_into_a_plain_exports_folder_is_refused(tmp_path: Path, capsys) -> None:
    reads = []
    for pid in ("MRN-1", "MRN-2"):
        reads.append(tmp_path / f"{pid}.json")
        reads[-1].write_text(json.dumps(read_document(pid)))
    out = tmp_path / "share"
    assert main(["export", "csv", *map(str, reads), "--out", str(out)]) == 0
    before = _tree(out)
    capsys.readouterr()
    keys = tmp_path / "keys" / "map.json"
    assert main(["export", "csv", *map(str, reads), "--out", str(out), "--deidentify", "--pseudonym-map",
                 str(keys)]) == 2
    err = capsys.readouterr().err
    assert "de-identified export" in err and "reads/MRN-1.json" in err and "new, empty folder" in err
    assert _tree(out) == before and not (out / "stale").exists()  # nothing written, nothing moved
    assert not any("MRN" in name for name in _tree(tmp_path / "keys"))  # (the map is outside, as ever)
    # into a new folder: written, and no file of it names a real id
    fresh = tmp_path / "share2"
    assert main(["export", "csv", *map(str, reads), "--out", str(fresh), "--deidentify", "--pseudonym-map",
                 str(keys)]) == 0
    assert all(b"MRN-" not in data and "MRN" not in name for name, data in _tree(fresh).items())


def test_api_refuses_leftovers_and_a_stale_folder_but_not_its_own_rerun(tmp_path: Path) -> None:
    out = tmp_path / "share"
    deid = Deidentifier(tmp_path / "map.json")
    docs = [read_document("MRN-1"), read_document("MRN-2")]
    first = write_tables(docs, out, deidentifier=deid)
    assert first.stale == ()
    # the same de-identified export again: it replaces every file, nothing left over
    again = write_tables(docs, out, deidentifier=deid)
    assert again.stale == () and not (out / "stale").exists()
    # fewer reads: the other pseudonym's read would be left over -> refused, nothing moved
    with pytest.raises(TableExportError, match=r"would not replace \(reads/HCC-0002\.json\)"):
        write_tables(docs[:1], out, deidentifier=deid)
    assert (out / "reads" / "HCC-0002.json").exists() and not (out / "stale").exists()
    # a stale/ folder of an earlier (plain) export is refused too
    (out / "stale").mkdir()
    with pytest.raises(TableExportError, match=r"stale/ \(an earlier export's files set aside\)"):
        write_tables(docs, out, deidentifier=deid)
    # a plain export still sets its leftovers aside, as before
    plain = write_tables(docs[:1], tmp_path / "plain")
    assert write_tables([read_document("MRN-3")], tmp_path / "plain").stale and plain.stale == ()
