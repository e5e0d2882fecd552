"""Reader workflow: reads, measurements with provenance, locking with the real response
engine, read documents in and out, blinding, adjudication."""

from __future__ import annotations

import datetime as dt
import inspect
from typing import Any

import pytest

from hcc_imaging.errors import BlindingError, CriteriaError, ReadDocumentError, StoreError
from hcc_imaging.response import ReadDocument, assess
from hcc_imaging.study import AdjudicatorSession, ReaderSession, Store

# Reader A: 60 -> 40 (-33 %, PR) -> 65 (+62 % vs nadir, PD).  Reader B: 60 -> 50 (SD) -> 55 (SD).
SIZES = {"R1": {"BL": (40.0, 20.0), "FU1": (30.0, 10.0), "FU2": (45.0, 20.0)},
         "R2": {"BL": (40.0, 20.0), "FU1": (35.0, 15.0), "FU2": (40.0, 15.0)}}


def _read(store: Store, reader: str, lock: bool = True, criteria: str = "recist1.1,mrecist") -> str:
    sess = ReaderSession(store, reader)
    for lid in ("L1", "L2"):
        sess.add_lesion("P001", lid)
    r = sess.start_read("P001", ["BL", "FU1", "FU2"], criteria)
    for tp, (a, b) in SIZES[reader].items():
        sess.record_measurement(r.read_uid, tp, "L1", longest_diameter_mm=a, viable_diameter_mm=a,
                                endpoints_lps={"long": [[0.0, 0.0, 0.0], [a, 0.0, 0.0]]})
        sess.record_measurement(r.read_uid, tp, "L2", longest_diameter_mm=b, viable_diameter_mm=b,
                                source_kind="algorithm", algorithm_name="hcc_imaging.segment.lesion",
                                algorithm_version="0.1.0", parameters={"seed": [10, 20, 30]})
    if lock:
        sess.lock(r.read_uid)
    return r.read_uid


def test_lock_stores_responses_from_the_response_engine(populated: Store) -> None:
    uid = _read(populated, "R1")
    r1 = ReaderSession(populated, "R1")
    info = r1.read(uid)
    assert info.status == "locked" and info.criteria == ("RECIST1.1", "mRECIST")
    rsp = {(x.criteria, x.timepoint_id): x for x in r1.responses(uid)}
    assert rsp[("RECIST1.1", "BL")].category == "baseline" and rsp[("RECIST1.1", "BL")].sum_value == 60.0
    assert rsp[("RECIST1.1", "FU1")].category == "PR" and rsp[("RECIST1.1", "FU1")].sum_value == 40.0
    assert rsp[("RECIST1.1", "FU2")].category == "PD"
    overall = rsp[("RECIST1.1", None)]
    assert overall.category == "PR" and overall.pd_timepoint_id == "FU2"
    assert overall.pd_date is not None and overall.pd_date.isoformat() == "2024-05-10"
    # the stored result is exactly what assess gives on the exported document
    direct = assess(r1.export_document(uid), ["RECIST1.1"]).results["RECIST1.1"]
    assert [t.response for t in direct.timepoints] == [None, "PR", "PD"]
    assert direct.bor_unconfirmed == overall.category and direct.bor_confirmed == overall.category_confirmed


def test_locked_read_is_final(populated: Store) -> None:
    uid = _read(populated, "R1")
    r1 = ReaderSession(populated, "R1")
    with pytest.raises(StoreError, match="is locked and cannot change"):
        r1.record_measurement(uid, "FU1", "L1", longest_diameter_mm=1.0)
    with pytest.raises(StoreError, match="is locked"):
        r1.lock(uid)
    with pytest.raises(StoreError, match="is locked"):
        r1.delete_measurement(uid, "FU1", "L1")


def test_measurement_upsert_and_provenance(populated: Store) -> None:
    r1 = ReaderSession(populated, "R1")
    les = r1.add_lesion("P001", "L1")
    r = r1.start_read("P001", ["BL"], "recist1.1")
    a = r1.record_measurement(r.read_uid, "BL", les.tracking_uid, longest_diameter_mm=30.0)
    b = r1.record_measurement(r.read_uid, "BL", "L1", longest_diameter_mm=31.5, source_kind="algorithm",
                              algorithm_name="seg", algorithm_version="2", parameters={"threshold_hu": 90})
    assert a.measurement_uid == b.measurement_uid  # same (read, lesion, time point): replaced
    (m,) = r1.measurements(r.read_uid)
    assert (m.longest_diameter_mm, m.source_kind, m.algorithm_name, m.parameters) == (31.5, "algorithm", "seg", {"threshold_hu": 90})
    from hcc_imaging.response import LesionStatus, Role

    c = r1.record_measurement(r.read_uid, "BL", "L1", role=Role.NON_TARGET, status=LesionStatus.PRESENT)
    assert (c.role, c.status, c.longest_diameter_mm) == ("non_target", "present", None)  # whole record replaced
    assert r1.delete_measurement(r.read_uid, "BL", "L1") is True
    assert r1.delete_measurement(r.read_uid, "BL", "L1") is False
    assert r1.measurements(r.read_uid) == []


@pytest.mark.parametrize(
    "kwargs, match",
    [
        pytest.param({"longest_diameter_mm": -1.0}, "not a finite number >= 0", id="negative-diameter"),
        pytest.param({"longest_diameter_mm": float("nan")}, "not a finite number", id="nan-diameter"),
        pytest.param({"necrosis_fraction": 1.5}, r"in \[0, 1.0\]", id="necrosis-above-1"),
        pytest.param({"role": "boss"}, "role is one of", id="bad-role"),
        pytest.param({"status": "gone"}, "status one of", id="bad-status"),
        pytest.param({"source_kind": "algorithm"}, "needs algorithm_name and algorithm_version", id="algorithm-no-version"),
        pytest.param({"endpoints_lps": {"diag": [[0, 0, 0], [1, 1, 1]]}}, "endpoint axis 'diag' is unknown", id="bad-axis"),
        pytest.param({"endpoints_lps": {"long": [[0, 0], [1, 1]]}}, "two finite 3D LPS points", id="2d-point"),
        pytest.param({"endpoints_lps": {"long": 5}}, "must be two LPS points", id="not-points"),
        pytest.param({"parameters": {"x": float("nan")}}, "JSON-serialisable", id="nan-parameter"),
    ],
)
def test_measurement_validation(populated: Store, kwargs: dict[str, Any], match: str) -> None:
    r1 = ReaderSession(populated, "R1")
    r1.add_lesion("P001", "L1")
    r = r1.start_read("P001", ["BL"], "recist1.1")
    with pytest.raises(StoreError, match=match):
        r1.record_measurement(r.read_uid, "BL", "L1", **kwargs)
    assert r1.measurements(r.read_uid) == []


def test_read_errors(populated: Store) -> None:
    r1 = ReaderSession(populated, "R1")
    with pytest.raises(StoreError, match="unknown reader"):
        ReaderSession(populated, "R9")
    with pytest.raises(CriteriaError, match="unknown response criterion"):
        r1.start_read("P001", ["BL"], "recist2")
    with pytest.raises(StoreError, match="at least one time point"):
        r1.start_read("P001", [], "recist1.1")
    r = r1.start_read("P001", ["BL"], "recist1.1")
    with pytest.raises(StoreError, match="lesion 'L7' not found among the lesions"):
        r1.record_measurement(r.read_uid, "BL", "L7", longest_diameter_mm=10.0)
    r1.add_lesion("P001", "L7")
    with pytest.raises(StoreError, match="not part of this read"):
        r1.record_measurement(r.read_uid, "FU1", "L7", longest_diameter_mm=10.0)
    assert r1.add_timepoint_to_read(r.read_uid, "FU1").timepoint_ids == ("BL", "FU1")
    with pytest.raises(StoreError, match="unknown read"):
        r1.read("2.25.0")


def test_invalid_read_cannot_be_locked(populated: Store) -> None:
    r1 = ReaderSession(populated, "R1")
    r1.add_lesion("P001", "L1")
    r = r1.start_read("P001", ["BL", "FU1"], "recist1.1")
    r1.record_measurement(r.read_uid, "BL", "L1", longest_diameter_mm=30.0)
    r1.record_measurement(r.read_uid, "FU1", "L1", role="non_target", status="present")
    with pytest.raises(ReadDocumentError, match="role 'non_target' differs"):
        r1.lock(r.read_uid)
    assert r1.read(r.read_uid).status == "draft"


def test_document_round_trip(populated: Store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt

    populated.add_treatment_event("P001", "TACE", dt.date(2024, 1, 20), lesion_ids=("L1",))
    populated.add_treatment_event("P001", "lenvatinib", dt.date(2024, 2, 1))
    populated.add_tumour_marker("P001", "afp", 320.0, dt.date(2024, 1, 10))
    populated.add_tumour_marker("P001", "pivka_ii", 150.0, dt.date(2024, 1, 10))
    uid = _read(populated, "R1", lock=False)
    r1 = ReaderSession(populated, "R1")
    doc = r1.export_document(uid)
    assert [t.id for t in doc.timepoints] == ["BL", "FU1", "FU2"]
    assert {t.kind.value for t in doc.treatments} == {"TACE", "lenvatinib"}
    assert doc.markers[0].afp_ng_ml == 320.0 and doc.markers[0].pivka_ii_mau_ml == 150.0
    l1 = doc.timepoint("BL").lesion("L1")
    assert l1.endpoints[0].length_mm == pytest.approx(40.0) and l1.tracking_uid is not None
    # extra observation fields travel through the store
    extra_doc = doc.to_json()
    extra_doc["timepoints"][1]["lesions"][0]["enhancing"] = True
    extra_doc["timepoints"][1]["slice_thickness_mm"] = 2.5
    extra_doc["start_date"] = "2024-01-10"
    path = tmp_path / "read.json"
    ReadDocument.from_json(extra_doc).save(path)
    imported = r1.import_document(path)
    again = r1.export_document(imported.read_uid)
    want = ReadDocument.from_json(extra_doc).to_json()
    got = again.to_json()
    assert got == want
    # tracking UIDs were reused (same reader, same lesions), not duplicated
    assert len(r1.lesions("P001")) == 2


def test_import_is_all_or_nothing(populated: Store) -> None:
    r1 = ReaderSession(populated, "R1")
    doc = {"patient_id": "P002", "reader_id": "R1", "timepoints": [
        {"id": "BL", "date": "2024-01-01", "lesions": [{"lesion_id": "L1", "longest_diameter_mm": 20.0}]},
        {"id": "FU1", "date": "2024-02-01", "lesions": [{"lesion_id": "bad id", "role": "new", "status": "present"}]}]}
    with pytest.raises(StoreError, match="lesion id given is not an accepted pseudonymous id: it contains a space"):
        r1.import_document(doc)
    assert [p.patient_id for p in populated.patients()] == ["P001"]
    assert r1.reads() == []
    wrong_date = {"patient_id": "P001", "reader_id": "R1", "timepoints": [{"id": "BL", "date": "2024-01-11", "lesions": []}]}
    with pytest.raises(StoreError, match="dated 2024-01-10 in the store"):
        r1.import_document(wrong_date)


# -- blinding ----------------------------------------------------------------------------------
READ_METHODS = {
    "read": lambda s, uid: s.read(uid),
    "measurements": lambda s, uid: s.measurements(uid),
    "responses": lambda s, uid: s.responses(uid),
    "export_document": lambda s, uid: s.export_document(uid),
    "observation_extras": lambda s, uid: s.observation_extras(uid),
    "read_facts": lambda s, uid: s.read_facts(uid),
    "record_measurement": lambda s, uid: s.record_measurement(uid, "BL", "L1", longest_diameter_mm=1.0),
    "delete_measurement": lambda s, uid: s.delete_measurement(uid, "BL", "L1"),
    "lock": lambda s, uid: s.lock(uid),
    "add_timepoint_to_read": lambda s, uid: s.add_timepoint_to_read(uid, "FU1"),
}


def test_every_reader_method_is_covered_by_the_blinding_tests() -> None:
    public = {n for n, _ in inspect.getmembers(ReaderSession, inspect.isfunction) if not n.startswith("_")}
    listing = {"reads", "lesions", "tracking_links", "patients", "timepoints", "treatment_events", "tumour_markers"}
    # update_lesion: blinding in test_update_lesion_changes_own_lesions_only_audited
    writes_own = {"add_lesion", "update_lesion", "start_read", "import_document", "confirm_tracking"}
    assert public == set(READ_METHODS) | listing | writes_own


@pytest.mark.parametrize("locked", [pytest.param(False, id="draft"), pytest.param(True, id="locked")])
@pytest.mark.parametrize("method", sorted(READ_METHODS))
def test_reader_b_cannot_touch_reader_a_read(populated: Store, method: str, locked: bool) -> None:
    uid = _read(populated, "R1", lock=locked)
    r2 = ReaderSession(populated, "R2")
    r2.add_lesion("P001", "L1")
    with pytest.raises(BlindingError, match="not a read of reader 'R2'"):
        READ_METHODS[method](r2, uid)


def test_reader_b_lists_nothing_of_reader_a(populated: Store) -> None:
    uid = _read(populated, "R1")
    r2 = ReaderSession(populated, "R2")
    assert r2.reads() == [] and r2.reads("P001") == []
    assert r2.lesions("P001") == []
    assert r2.tracking_links("P001") == []
    a_uids = {x.tracking_uid for x in ReaderSession(populated, "R1").lesions("P001")}
    r2_read = r2.start_read("P001", ["BL"], "recist1.1")
    for tuid in a_uids:
        with pytest.raises(StoreError, match="not found among the lesions of patient 'P001' visible to reader 'R2'"):
            r2.record_measurement(r2_read.read_uid, "BL", tuid, longest_diameter_mm=5.0)
        with pytest.raises(StoreError, match="not found among the lesions"):
            r2.update_lesion("P001", tuid, organ="lung")
    doc = ReaderSession(populated, "R1").export_document(uid).to_json()
    with pytest.raises(BlindingError, match="by reader 'R1'"):
        r2.import_document(doc)
    doc["reader_id"] = "R2"
    with pytest.raises(StoreError, match="is not found among the lesions of patient 'P001' visible to reader 'R2'"):
        r2.import_document(doc)


def test_lesion_lookup_errors_do_not_tell_another_readers_lesion_from_none(populated: Store) -> None:
    """'belongs to another reader' / 'belongs to another patient' confirmed what another reader
    recorded; a reader now gets one message, whatever the lesion is (type and text, id aside)."""
    r1, r2 = ReaderSession(populated, "R1"), ReaderSession(populated, "R2")
    theirs = r1.add_lesion("P001", "L7").tracking_uid
    populated.add_patient("P002")
    elsewhere = r2.add_lesion("P002", "L8").tracking_uid  # R2's own lesion, but of another patient
    nobody = "2.25.12345"
    read = r2.start_read("P001", ["BL"], "recist1.1")

    def error(call) -> tuple[type, str]:  # type: ignore[no-untyped-def]
        with pytest.raises(Exception) as info:
            call()
        return type(info.value), str(info.value)

    for calls in ([lambda u=u: r2.record_measurement(read.read_uid, "BL", u, longest_diameter_mm=5.0)
                   for u in (theirs, elsewhere, nobody)],
                  [lambda u=u: r2.update_lesion("P001", u, organ="lung") for u in (theirs, elsewhere, nobody)]):
        got = [error(c) for c in calls]
        assert {(t, m.replace(u, "X")) for (t, m), u in zip(got, (theirs, elsewhere, nobody), strict=True)} == {
            (StoreError, got[2][1].replace(nobody, "X"))}
    doc = {"reader_id": "R2", "patient_id": "P001", "criteria": ["RECIST1.1"],
           "timepoints": [{"id": "BL", "day": 0, "lesions": [{"lesion_id": "L1", "role": "target",
                                                               "longest_diameter_mm": 30.0, "tracking_uid": ""}]}]}
    got = []
    for u in (theirs, elsewhere):
        doc["timepoints"][0]["lesions"][0]["tracking_uid"] = u
        t, m = error(lambda: r2.import_document(doc))
        got.append((t, m.replace(u, "X")))
    assert got[0] == got[1] and got[0][0] is StoreError


def test_shared_lesions_are_visible_to_all_readers(populated: Store) -> None:
    shared = populated.add_lesion("P001", "S1")
    for reader in ("R1", "R2"):
        assert [x.tracking_uid for x in ReaderSession(populated, reader).lesions("P001")] == [shared.tracking_uid]


# -- adjudication ------------------------------------------------------------------------------
def test_adjudicator_sees_only_locked_reads(populated: Store) -> None:
    draft = _read(populated, "R1", lock=False)
    adj = AdjudicatorSession(populated, "ADJ")
    assert adj.locked_reads() == []
    for call in (adj.measurements, adj.responses, adj.export_document):
        with pytest.raises(BlindingError, match="still a draft"):
            call(draft)
    with pytest.raises(BlindingError, match="not 'adjudicator'"):
        AdjudicatorSession(populated, "R1")


def test_discordances_and_adjudication(populated: Store) -> None:
    a = _read(populated, "R1")
    b = _read(populated, "R2")
    adj = AdjudicatorSession(populated, "ADJ")
    assert {r.read_uid for r in adj.locked_reads("P001")} == {a, b}
    assert len(adj.measurements(a)) == 6
    ds = {d.kind.value: d for d in adj.discordances("P001", "recist1.1")}
    assert set(ds) == {"bor", "pd_date"}
    assert {v[1]: v[2] for v in ds["bor"].values} == {"R1": "PR", "R2": "SD"}
    assert {v[1]: v[2] for v in ds["pd_date"].values}["R2"] == "none"
    with pytest.raises(StoreError, match="needs a reason"):
        adj.adjudicate("P001", "RECIST1.1", "bor", a, "")
    with pytest.raises(StoreError, match="not one of the discordant reads"):
        adj.adjudicate("P001", "RECIST1.1", "bor", "2.25.1", "because")
    with pytest.raises(StoreError, match="unknown discordance"):
        adj.adjudicate("P001", "RECIST1.1", "volume", a, "because")
    dec = adj.adjudicate("P001", "RECIST1.1", "bor", b, "R1 measured L2 including the portal vein")
    assert dec.chosen_read_uid == b and dec.adjudicator_id == "ADJ"
    ds = {d.kind.value: d for d in adj.discordances("P001", "RECIST1.1")}
    assert ds["bor"].adjudication == dec and ds["pd_date"].adjudication is None
    assert [x.adjudication_uid for x in adj.adjudications("P001")] == [dec.adjudication_uid]
    assert populated.audit_verify().ok


def test_no_discordance_when_reads_agree(populated: Store) -> None:
    _read(populated, "R1")
    r2 = ReaderSession(populated, "R2")
    doc = ReaderSession(populated, "R1").export_document(ReaderSession(populated, "R1").reads()[0].read_uid).to_json()
    doc["reader_id"] = "R2"
    for tp in doc["timepoints"]:
        for les in tp["lesions"]:
            les.pop("tracking_uid")
    r2.lock(r2.import_document(doc).read_uid)
    adj = AdjudicatorSession(populated, "ADJ")
    assert adj.discordances("P001", "RECIST1.1") == []
    with pytest.raises(StoreError, match="no bor discordance"):
        adj.adjudicate("P001", "RECIST1.1", "bor", r2.reads()[0].read_uid, "n/a")


def test_adjudicator_with_own_read_is_conflicted(populated: Store) -> None:
    _read(populated, "R1")
    populated.add_reader("ADJ2", "adjudicator")
    ReaderSession(populated, "ADJ2").start_read("P001", ["BL"], "recist1.1")
    with pytest.raises(BlindingError, match="has a read of this patient"):
        AdjudicatorSession(populated, "ADJ2").discordances("P001", "RECIST1.1")


def test_conflicted_adjudicator_lists_nothing_of_that_patient(populated: Store) -> None:
    """An adjudicator with a read of a patient is refused that patient everywhere, listings
    included: no other adjudicator's decision (chosen read, reason), no list of its locked reads."""
    a = _read(populated, "R1")
    b = _read(populated, "R2")
    populated.add_reader("ADJ2", "adjudicator")
    populated.add_patient("P002")
    populated.add_timepoint("P002", "BL", dt.date(2024, 1, 11))
    other = ReaderSession(populated, "R1").start_read("P002", ["BL"], "recist1.1")
    ReaderSession(populated, "R1").add_lesion("P002", "L1")
    ReaderSession(populated, "R1").record_measurement(other.read_uid, "BL", "L1", longest_diameter_mm=30.0)
    ReaderSession(populated, "R1").lock(other.read_uid)
    AdjudicatorSession(populated, "ADJ2").adjudicate("P001", "RECIST1.1", "bor", b, "R1 measured L2 with the vein")
    ReaderSession(populated, "ADJ").start_read("P001", ["BL"], "recist1.1")  # ADJ is now conflicted on P001
    adj = AdjudicatorSession(populated, "ADJ")
    assert adj.adjudications() == []
    assert [r.read_uid for r in adj.locked_reads()] == [other.read_uid]
    for call in (lambda: adj.adjudications("P001"), lambda: adj.locked_reads("P001")):
        with pytest.raises(BlindingError, match="has a read of this patient"):
            call()
    # ADJ2 is not conflicted and still sees everything
    adj2 = AdjudicatorSession(populated, "ADJ2")
    assert [x.chosen_read_uid for x in adj2.adjudications()] == [b]
    assert {r.read_uid for r in adj2.locked_reads()} == {a, b, other.read_uid}


@pytest.mark.parametrize("seen", ["export_document", "measurements", "responses", "discordances", "adjudicate",
                                  "adjudications", "paired_responses", "audit_entries"])
def test_adjudicator_who_has_seen_a_patient_cannot_read_it(populated: Store, seen: str) -> None:
    """The conflict rule both ways: an adjudicator shown other readers' reads of a patient may not
    then create a read of that patient (an unblinded read counted like any reader's), and every
    such access is in the audit log."""
    a = _read(populated, "R1")
    b = _read(populated, "R2")
    populated.add_reader("ADJ2", "adjudicator")
    if seen == "adjudications":  # ADJ2's decision, then ADJ lists it
        AdjudicatorSession(populated, "ADJ2").adjudicate("P001", "RECIST1.1", "bor", b, "R1 measured the vein")
    adj = AdjudicatorSession(populated, "ADJ")
    n_before = len(populated.audit_entries())
    {"export_document": lambda: adj.export_document(a), "measurements": lambda: adj.measurements(a),
     "responses": lambda: adj.responses(b), "discordances": lambda: adj.discordances("P001", "RECIST1.1"),
     "adjudicate": lambda: adj.adjudicate("P001", "RECIST1.1", "bor", b, "R1 measured the vein"),
     "adjudications": lambda: adj.adjudications(), "paired_responses": lambda: adj.agreement("RECIST1.1", "R1", "R2"),
     "audit_entries": lambda: populated.audit_entries(adjudicator_id="ADJ")}[seen]()
    views = [e for e in populated.audit_entries()[n_before:] if e.action == "view"]
    assert views and {(e.actor, e.entity, e.entity_key) for e in views} == {("ADJ", "patients", "P001")}
    assert set(views[0].changes) == {"via", "reads"} and not views[0].blinded
    me = ReaderSession(populated, "ADJ")
    with pytest.raises(BlindingError, match="has seen other readers' reads of patient 'P001' as adjudicator"):
        me.start_read("P001", ["BL"], "recist1.1")
    doc = ReaderSession(populated, "R1").export_document(a).to_json()
    doc["reader_id"] = "ADJ"
    for tp in doc["timepoints"]:
        for les in tp["lesions"]:
            les.pop("tracking_uid", None)
    with pytest.raises(BlindingError, match="would not be blinded"):
        me.import_document(doc)
    assert me.reads() == []
    # another patient, never shown to ADJ, can still be read by ADJ
    populated.add_patient("P002")
    populated.add_timepoint("P002", "BL", dt.date(2024, 1, 11))
    assert me.start_read("P002", ["BL"], "recist1.1").patient_id == "P002"
    assert populated.audit_verify().ok


def test_confirmed_bor_discordance(populated: Store) -> None:
    """Same unconfirmed BOR (PR), different confirmed BOR (PR vs SD): discordant only with confirmed=True."""
    from hcc_imaging.response.results import CriterionResult, TimePointResult

    def fake(confirmed_bor: str):  # type: ignore[no-untyped-def]
        def run(doc, crit):  # type: ignore[no-untyped-def]
            tps = tuple(TimePointResult(t.id, t.day, None, None, None, None, None, False, None if i == 0 else "PR")
                        for i, t in enumerate(doc.timepoints))
            return CriterionResult(crit, "mm", tps, "PR", confirmed_bor, None)
        return run

    for reader, conf in (("R1", "PR"), ("R2", "SD")):
        sess = ReaderSession(populated, reader)
        sess.add_lesion("P001", "L1")
        r = sess.start_read("P001", ["BL", "FU1"], "recist1.1")
        sess.record_measurement(r.read_uid, "BL", "L1", longest_diameter_mm=30.0)
        sess.record_measurement(r.read_uid, "FU1", "L1", longest_diameter_mm=20.0)
        sess.lock(r.read_uid, assessor=fake(conf))
    adj = AdjudicatorSession(populated, "ADJ")
    assert adj.discordances("P001", "RECIST1.1") == []
    (d,) = adj.discordances("P001", "RECIST1.1", confirmed=True)
    assert d.kind.value == "bor" and {v[2] for v in d.values} == {"PR", "SD"}
    chosen = d.values[0][0]
    dec = adj.adjudicate("P001", "RECIST1.1", "bor", chosen, "confirmation scan of R2 was out of window", confirmed=True)
    assert dec.chosen_read_uid == chosen
    paired = adj.paired_responses("RECIST1.1", "R1", "R2", confirmed=True)
    assert [p[1:] for p in paired.bor_pairs] == [("PR", "SD")]


def test_update_lesion_changes_own_lesions_only_audited(populated: Store) -> None:
    r1, r2 = ReaderSession(populated, "R1"), ReaderSession(populated, "R2")
    r1.add_lesion("P001", "L1", organ="liver")
    n_audit = len(populated.audit_entries())
    info = r1.update_lesion("P001", "L1", organ="lymph node", is_lymph_node=True)
    assert (info.organ, info.is_lymph_node, info.kind) == ("lymph node", True, None)
    (again,) = [les for les in r1.lesions("P001") if les.lesion_id == "L1"]
    assert (again.organ, again.is_lymph_node) == ("lymph node", True)
    # only what is passed changes; None clears
    assert r1.update_lesion("P001", "L1", kind="hcc").organ == "lymph node"
    assert r1.update_lesion("P001", info.tracking_uid, organ=None).organ is None
    assert len(populated.audit_entries()) == n_audit + 3 and populated.audit_verify().ok
    # another reader cannot see (let alone change) it; a shared lesion is not a reader's to change
    with pytest.raises(StoreError, match="not found among the lesions"):
        r2.update_lesion("P001", info.tracking_uid, organ="lung")
    shared = populated.add_lesion("P001", "S1")
    with pytest.raises(StoreError, match="is a shared lesion"):
        r1.update_lesion("P001", shared.tracking_uid, organ="lung")


def test_update_lesion_refused_once_measured_in_a_locked_read(populated: Store) -> None:
    _read(populated, "R1")  # L1, L2 measured, read locked
    r1 = ReaderSession(populated, "R1")
    with pytest.raises(StoreError, match="measured in locked read"):
        r1.update_lesion("P001", "L1", is_lymph_node=True)
    (les,) = [x for x in r1.lesions("P001") if x.lesion_id == "L1"]
    assert les.is_lymph_node is False
