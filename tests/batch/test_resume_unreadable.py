"""--resume with an empty or truncated record in OUT/store/ok: the study is run again, no traceback."""
import json
import logging

from hcc_imaging.batch.resume import ResultStore


def test_unreadable_ok_record_is_not_done_and_moved_aside(tmp_path, caplog):
    store = ResultStore(tmp_path)
    store.put({"key": "good", "ok": True, "patient_id": "P"})
    store.put({"key": "bad", "ok": True, "patient_id": "P"})
    store.put({"key": "empty", "ok": True, "patient_id": "P"})
    bad = store.ok_dir / "bad.json"
    bad.write_text(bad.read_text()[:5])
    (store.ok_dir / "empty.json").write_text("")
    with caplog.at_level(logging.WARNING):
        assert store.done_keys() == {"good"}
    assert "bad.json" in caplog.text and "empty.json" in caplog.text
    assert not bad.exists() and (store.ok_dir / "bad.json.unreadable").exists()
    assert store.get("bad") is None
    assert store.get("good")["patient_id"] == "P"


def test_get_of_truncated_record_returns_none(tmp_path):
    store = ResultStore(tmp_path)
    store.put({"key": "k", "ok": True})
    (store.ok_dir / "k.json").write_text('{"key": "k", "ok"')
    assert store.get("k") is None
    json.loads((store.ok_dir / "k.json.unreadable").read_text() + ': true}')
