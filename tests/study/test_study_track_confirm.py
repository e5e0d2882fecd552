"""Confirming tracking again never duplicates (``study track --confirm``, ``confirm_tracking``),
a new lesion's organ comes from what its mask says, ``confirm_tracking`` refuses flagged
assignments like the CLI, and ``study lesion update`` changes a lesion's organ."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hcc_imaging.cli import main
from hcc_imaging.errors import StoreError
from hcc_imaging.io.masks import save_mask
from hcc_imaging.study import ReaderSession, Store
from hcc_imaging.study.confirm import new_lesion_site
from hcc_imaging.study.tracking import FollowupAssignment, correct_assignment
from hcc_imaging.volume import LabelVolume

from ._track_store import two_lesion_store


def _run(capsys: pytest.CaptureFixture[str], *argv: str):  # type: ignore[no-untyped-def]
    code = main([*argv, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def _maps(tmp_path: Path) -> tuple[str, str]:
    """Baseline L1, L2; follow-up the same two and a new porta-hepatis node, its labels.json
    naming it and giving its organ (what ``hcc-imaging batch`` saves)."""
    b = np.zeros((20, 60, 60), np.uint8)
    b[8:12, 10:20, 10:20] = 1
    b[8:12, 30:40, 30:40] = 2
    f = b.copy()
    f[8:12, 45:52, 5:12] = 3
    for name, arr, labels in (("bl", b, {"1": "L1", "2": "L2"}),
                              ("fu", f, {"labels": {"1": "L1", "2": "L2", "3": "PH1"}, "organs": {"PH1": "lymph_node"}})):
        (tmp_path / name).mkdir()
        save_mask(LabelVolume.create(arr, (2.0, 1.0, 1.0)), tmp_path / name / "lesions.nii.gz")
        (tmp_path / name / "labels.json").write_text(json.dumps(labels))
    return str(tmp_path / "bl" / "lesions.nii.gz"), str(tmp_path / "fu" / "lesions.nii.gz")


def test_track_confirm_twice_is_idempotent_and_new_node_is_a_node(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Before: each ``--confirm`` created another lesion for the new follow-up label (``N1``,
    ``FU1-N1``, ...) and added every link again; the new node was a "liver" lesion.  Now the
    second run changes nothing (no audit row for lesions or links), and the node is a node."""
    bl, fu = _maps(tmp_path)
    db = two_lesion_store(tmp_path)
    capsys.readouterr()
    confirm = ["study", "track", bl, fu, "--confirm", "--reader", "R1", "--patient", "P001", "--timepoint", "FU1",
               "--db", db]
    first = _run(capsys, *confirm)
    assert sorted((x["followup_label"], x["relation"], x["change"]) for x in first["confirmed"]) == [
        ("L1", "match", "created"), ("L2", "match", "created"), ("PH1", "new", "created")]
    store = Store(db)
    try:
        sess = ReaderSession(store, "R1")
        lesions, links = sess.lesions("P001"), sess.tracking_links("P001")
        n_audit = len(store.audit_entries())
    finally:
        store.close()
    assert len(lesions) == 3 and len(links) == 3
    (ph1,) = [x["tracking_uid"] for x in first["confirmed"] if x["followup_label"] == "PH1"]
    (node,) = [x for x in lesions if x.tracking_uid == ph1]
    assert (node.organ, node.is_lymph_node, node.kind) == ("lymph_node", True, "lymph_node")
    second = _run(capsys, *confirm)
    assert {x["change"] for x in second["confirmed"]} == {"unchanged"}
    assert {x["link_uid"] for x in second["confirmed"]} == {x["link_uid"] for x in first["confirmed"]}
    store = Store(db)
    try:
        sess = ReaderSession(store, "R1")
        assert sess.lesions("P001") == lesions
        assert [x.link_uid for x in sess.tracking_links("P001")] == [x.link_uid for x in links]
        assert len(store.audit_entries()) == n_audit and store.audit_verify().ok
    finally:
        store.close()


def test_corrected_confirmation_replaces_the_label_link_audited(populated: Store) -> None:
    """A label confirmed as a new lesion, then corrected to continue L1: its one link now points
    to L1 (same link UID, an audited update), the lesion the first confirmation created is gone
    (audited delete), and no second link was added.  A merge's two links stay two."""
    r1 = ReaderSession(populated, "R1")
    l1, l2 = (r1.add_lesion("P001", n).tracking_uid for n in ("L1", "L2"))
    assign = [FollowupAssignment("F1", None, "new", lesion_id="N1"),
              FollowupAssignment("F2", l1, "merge", "L1", True, 0.4, 3.0),
              FollowupAssignment("F2", l2, "merge", "L2", False, 0.2, 9.0)]
    first = r1.confirm_tracking("P001", "FU1", assign)
    (f1,) = [x for x in first if x.followup_label == "F1"]
    assert {x.lesion_id for x in r1.lesions("P001")} == {"L1", "L2", "N1"}
    n_audit = len(populated.audit_entries())
    fixed = correct_assignment(assign, "F1", tracking_uid=l1)
    again = r1.confirm_tracking("P001", "FU1", fixed)
    (f1b,) = [x for x in again if x.followup_label == "F1"]
    assert (f1b.link_uid, f1b.tracking_uid, f1b.relation, f1b.change) == (f1.link_uid, l1, "match", "replaced")
    links = r1.tracking_links("P001")
    assert sorted((x.followup_label, x.tracking_uid) for x in links) == sorted([("F1", l1), ("F2", l1), ("F2", l2)])
    assert {x.lesion_id for x in r1.lesions("P001")} == {"L1", "L2"}
    new = populated.audit_entries()[n_audit:]
    assert {(e.action, e.entity, e.entity_key) for e in new} == {
        ("update", "tracking_links", f1.link_uid), ("delete", "lesions", f1.tracking_uid)}
    assert populated.audit_verify().ok
    # and back to a new lesion: one lesion, one link
    r1.confirm_tracking("P001", "FU1", assign)
    r1.confirm_tracking("P001", "FU1", assign)
    assert len(r1.tracking_links("P001")) == 3 and len(r1.lesions("P001")) == 3


def test_a_measured_lesion_is_kept_when_its_label_is_corrected(populated: Store) -> None:
    r1 = ReaderSession(populated, "R1")
    l1 = r1.add_lesion("P001", "L1").tracking_uid
    assign = [FollowupAssignment("F1", None, "new", lesion_id="N1")]
    (link,) = r1.confirm_tracking("P001", "FU1", assign)
    read = r1.start_read("P001", ["BL", "FU1"])
    r1.record_measurement(read.read_uid, "FU1", link.tracking_uid, role="new", status="present")
    r1.confirm_tracking("P001", "FU1", correct_assignment(assign, "F1", tracking_uid=l1))
    assert {x.lesion_id for x in r1.lesions("P001")} == {"L1", "N1"}
    assert [(x.followup_label, x.tracking_uid) for x in r1.tracking_links("P001")] == [("F1", l1)]


def test_confirm_tracking_refuses_flagged_assignments_unless_accepted(populated: Store) -> None:
    """Before, the Python API stored a ``needs_review`` assignment as confirmed without a word
    (only the CLI refused it)."""
    r1 = ReaderSession(populated, "R1")
    l1, l2 = (r1.add_lesion("P001", n).tracking_uid for n in ("L1", "L2"))
    assign = [FollowupAssignment("F1", l1, "match", "L1", needs_review=True),
              FollowupAssignment("F2", l2, "match", "L2")]
    with pytest.raises(StoreError, match=r"nothing stored: 1 tracking assignment\(s\) of patient 'P001' at 'FU1' are "
                                         r"flagged needs_review.*F1 -> L1 \(match\).*accept_flagged=True"):
        r1.confirm_tracking("P001", "FU1", assign)
    assert r1.tracking_links("P001") == []
    assert len(r1.confirm_tracking("P001", "FU1", assign, accept_flagged=True)) == 2
    # the reader's correction clears the flag
    fixed = correct_assignment(assign, "F1", tracking_uid=l1)
    assert [x.change for x in r1.confirm_tracking("P001", "FU1", fixed)] == ["unchanged", "unchanged"]


@pytest.mark.parametrize("label, organ, want", [
    ("L3", None, ("liver", False, None)),
    ("PH-node", None, ("lymph_node", True, "lymph_node")),
    ("L3", "lymph_node", ("lymph_node", True, "lymph_node")),
    ("L3", "lung", ("lung", False, None)),
    ("T1", "portal_vein", ("portal_vein", False, "pvtt")),
])
def test_new_lesion_site(label: str, organ: str | None, want: tuple[str, bool, str | None]) -> None:
    assert new_lesion_site(label, organ) == want


def test_cli_lesion_update_sets_the_organ_audited(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "s.sqlite")
    for argv in (("study", "reader", "add", "R1"), ("study", "patient", "add", "P001"),
                 ("study", "lesion", "add", "P001", "N1", "--reader", "R1")):
        assert main([*argv, "--db", db]) == 0
    capsys.readouterr()
    upd = ["study", "lesion", "update", "P001", "N1", "--reader", "R1", "--db", db]
    got = _run(capsys, *upd, "--organ", "lymph_node")
    assert (got["organ"], got["is_lymph_node"], got["kind"]) == ("lymph_node", True, "lymph_node")
    got = _run(capsys, *upd, "--organ", "lung")
    assert (got["organ"], got["is_lymph_node"], got["kind"]) == ("lung", False, None)
    got = _run(capsys, *upd, "--lymph-node")
    assert (got["organ"], got["is_lymph_node"], got["kind"]) == ("lung", True, "lymph_node")
    code = main([*upd, "--json"])
    assert code == 2 and "nothing to change" in json.loads(capsys.readouterr().err)["error"]
    store = Store(db)
    try:
        updates = [e for e in store.audit_entries() if e.entity == "lesions" and e.action == "update"]
        assert len(updates) == 3 and store.audit_verify().ok
    finally:
        store.close()


def test_confirming_again_cleans_up_the_duplicates_of_earlier_versions(populated: Store) -> None:
    """A store the earlier code left with three lesions and three links for one new label (and
    every match link three times, as it wrote them): one more confirmation leaves one of each."""
    from hcc_imaging.study.model import LesionRow, ReaderRow, TimePointRow, TrackingLinkRow
    from hcc_imaging.study.store import new_uid

    r1 = ReaderSession(populated, "R1")
    l1 = r1.add_lesion("P001", "L1").tracking_uid
    made = [r1.add_lesion("P001", n).tracking_uid for n in ("N1", "FU1-N1", "FU1-N1-2")]

    def dup(s):  # type: ignore[no-untyped-def]
        from sqlalchemy import select

        me = s.scalar(select(ReaderRow).where(ReaderRow.reader_id == "R1"))
        tp = s.scalar(select(TimePointRow).where(TimePointRow.timepoint_id == "FU1"))
        les = {x.tracking_uid: x.id for x in s.scalars(select(LesionRow))}
        for uid, label, rel in [(l1, "F1", "match")] * 3 + [(u, "F2", "new") for u in made]:
            s.add(TrackingLinkRow(link_uid=new_uid(), lesion_fk=les[uid], timepoint_fk=tp.id, followup_label=label,
                                  relation=rel, owner_reader_fk=me.id, confirmed=True))

    populated._write("R1", dup)
    assert len(r1.tracking_links("P001")) == 6
    r1.confirm_tracking("P001", "FU1", [FollowupAssignment("F1", l1, "match", "L1"),
                                        FollowupAssignment("F2", None, "new", lesion_id="N1")])
    assert sorted((x.followup_label, x.tracking_uid) for x in r1.tracking_links("P001")) == [("F1", l1), ("F2", made[0])]
    assert {x.lesion_id for x in r1.lesions("P001")} == {"L1", "N1"}
    assert populated.audit_verify().ok
