"""How :meth:`~hcc_imaging.study.ReaderSession.record_measurement` merges a write into a recorded
measurement: the column values of the record it leaves.

Three modes (``record_measurement``'s keywords):

* replace (default): every field takes the value passed (None clears it);
* ``keep_recorded=True`` (``study read record``): only the fields passed (not None) change
  (:func:`merged_record`);
* ``keep_other_fields=True`` (an editor that owns part of the record: the napari store sync):
  the fields an editor measures - role, status, sizes, volumes, necrosis fraction, endpoints,
  provenance - take the value passed (None clears them), every other field of the record stays
  (:func:`editor_record`).

In both merging modes a recorded ``viable_status`` the new viable size makes stale is dropped
(:func:`drop_stale_viable_status`); with ``keep_recorded``, a recorded lesion status a new size
contradicts (``too_small``, ``absent``, ``not_evaluable``) becomes ``measured``
(:func:`drop_stale_status`; the editor mode passes its own status).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..errors import StoreError
from .documents import dumps
from .model import LesionRole, MeasurementRow, MeasurementStatus, SourceKind

__all__ = ["VIABLE_STATUSES", "check_viable_status", "drop_stale_status", "drop_stale_viable_status", "editor_record",
           "merged_record", "with_viable_status"]

#: Endpoint axis of each size: a new size without new endpoints drops the old line (it no longer matches).
AXIS_OF_SIZE = {"longest_diameter_mm": "long", "short_axis_mm": "short", "viable_diameter_mm": "viable_long",
                "viable_short_axis_mm": "viable_short"}

#: The values ``viable_status`` is recorded with: the states of a viable (arterially enhancing)
#: part the criteria read (``too_small`` counts as the rule's default, ``absent`` 0 mm,
#: ``not_evaluable`` makes the sum NE; ``measured``: its diameters are the measurement).
#: ``present``, ``unequivocal_progression`` and ``further_increase`` describe a lesion, not its
#: viable part.
VIABLE_STATUSES: tuple[str, ...] = (MeasurementStatus.MEASURED.value, MeasurementStatus.TOO_SMALL.value,
                                    MeasurementStatus.ABSENT.value, MeasurementStatus.NOT_EVALUABLE.value)

#: The viable part's sizes a ``viable_status`` speaks of (mRECIST and EASL read the status first).
VIABLE_SIZES: tuple[str, ...] = ("viable_diameter_mm", "viable_short_axis_mm")

_FLAGS = ("typical_hcc_pattern", "cytology_malignant")


def check_viable_status(value: Any, where: str) -> str | None:
    """``value`` as a recorded viable status (None: not given), or :class:`StoreError` naming the
    allowed values."""
    if value is None:
        return None
    v = str(getattr(value, "value", value)).strip().lower()
    if v not in VIABLE_STATUSES:
        raise StoreError(f"{where}: viable_status {value!r} is not one of {', '.join(VIABLE_STATUSES)} (the states of "
                         "the viable part: too_small counts as the rule's default size, absent as 0 mm, not_evaluable "
                         "makes the sum not evaluable). Give one of them, or leave it out and record the viable "
                         "diameter.")
    return v


def with_viable_status(extra: Mapping[str, Any] | None, viable_status: Any, where: str) -> dict[str, Any]:
    """``extra`` (a copy) with the checked viable status given as ``viable_status`` or in
    ``extra["viable_status"]`` (both: the same one); :class:`StoreError` for another value."""
    out = dict(extra or {})
    in_extra = check_viable_status(out.get("viable_status"), where)
    vs = check_viable_status(viable_status, where)
    if vs is not None and in_extra is not None and vs != in_extra:
        raise StoreError(f"{where}: viable_status {vs!r} and extra['viable_status'] {in_extra!r} differ; give one.")
    if vs or in_extra:
        out["viable_status"] = vs or in_extra
    return out


def merged_record(m: MeasurementRow, values: Mapping[str, Any], role: str | None, status: str | None, eps_text: str,
                  kind: str | None, algorithm_name: str | None, algorithm_version: str | None, params_text: str,
                  extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """Column values of recorded measurement ``m`` with only the passed (not None) fields changed
    (``keep_recorded``).

    A changed size drops the recorded endpoints of its axis unless new ones are passed.  When a
    size or endpoint changes, the record's provenance becomes the one passed (default
    ``manual_line``) and an imported ``source`` text is dropped; otherwise it is kept.
    """
    out: dict[str, Any] = {k: (v if v is not None else getattr(m, k)) for k, v in values.items()}
    out["role"] = role or m.role
    out["status"] = status or m.status
    new_eps = json.loads(eps_text)
    changed_sizes = [k for k, v in values.items() if v is not None and k in AXIS_OF_SIZE]
    eps = {axis: pts for axis, pts in json.loads(m.endpoints_json or "{}").items()
           if axis not in {AXIS_OF_SIZE[k] for k in changed_sizes}}
    eps.update(new_eps)
    out["endpoints_json"] = dumps(eps)
    ex = json.loads(m.extra_json) if m.extra_json else {}
    ex.update(extra or {})
    measured = bool(new_eps) or any(v is not None for k, v in values.items() if k not in _FLAGS)
    if measured or kind is not None:
        out.update(source_kind=kind or SourceKind.MANUAL_LINE.value, algorithm_name=algorithm_name,
                   algorithm_version=algorithm_version, parameters_json=params_text)
        if "source" not in (extra or {}):
            ex.pop("source", None)
    else:
        out.update(source_kind=m.source_kind, algorithm_name=m.algorithm_name, algorithm_version=m.algorithm_version,
                   parameters_json=m.parameters_json)
    out["extra_json"] = dumps(ex) if ex else None
    return out


def editor_record(m: MeasurementRow, values: Mapping[str, Any], role: str | None, status: str | None, eps_text: str,
                  kind: str | None, algorithm_name: str | None, algorithm_version: str | None, params_text: str,
                  extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """Column values of recorded measurement ``m`` written by an editor that owns part of it
    (``keep_other_fields``: the napari store sync).

    The editor's fields are replaced as passed (None clears them; role ``target``, status
    ``measured`` and provenance ``manual_line`` when not given): role, status, the sizes, volumes
    and necrosis fraction, the endpoints (all axes: an axis not passed has no line) and the
    provenance, with the recorded ``source`` text (the editor passes its own in ``extra``).  The
    record keeps the rest: ``typical_hcc_pattern`` and ``cytology_malignant`` unless passed, and
    the observation extras (``viable_status``, ``enhancing``, ``note``, ``split_from``...), into
    which ``extra`` is merged.
    """
    out: dict[str, Any] = {k: (v if k not in _FLAGS or v is not None else getattr(m, k)) for k, v in values.items()}
    out.update(role=role or LesionRole.TARGET.value, status=status or MeasurementStatus.MEASURED.value,
               endpoints_json=eps_text, source_kind=kind or SourceKind.MANUAL_LINE.value,
               algorithm_name=algorithm_name, algorithm_version=algorithm_version, parameters_json=params_text)
    ex = json.loads(m.extra_json) if m.extra_json else {}
    ex.pop("source", None)
    ex.update(extra or {})
    out["extra_json"] = dumps(ex) if ex else None
    return out


def drop_stale_viable_status(m: MeasurementRow, new_vals: dict[str, Any]) -> str | None:
    """Drop from ``new_vals`` (a merge of recorded ``m``) a recorded ``viable_status`` other than
    ``measured`` when a viable size changes (:data:`VIABLE_SIZES`: set, changed or cleared);
    returns the note saying so, else None.

    The criteria read ``viable_status`` before the sizes (``too_small`` counts as the rule's
    default, ``absent`` 0 mm, ``not_evaluable`` NE), so a status kept beside a new viable diameter
    would silently outweigh it.  The caller skips this when the write gives a viable status.
    """
    ex = json.loads(new_vals["extra_json"]) if new_vals.get("extra_json") else {}
    old = ex.get("viable_status")
    if old is None or str(old) == MeasurementStatus.MEASURED.value:
        return None
    changed = [(k, getattr(m, k), new_vals[k]) for k in VIABLE_SIZES if new_vals.get(k) != getattr(m, k)]
    if not changed:
        return None
    del ex["viable_status"]
    new_vals["extra_json"] = dumps(ex) if ex else None
    sizes = ", ".join(f"{k} {_mm(a)} -> {_mm(b)}" for k, a, b in changed)
    return (f"viable_status {old!r} cleared: the viable part's size changed ({sizes}) and no viable status was "
            "given, so the viable size is the measurement (mRECIST and EASL read a viable status before the size). "
            "If the status still applies, record it again (study read record --viable-status).")


#: Recorded lesion statuses a newly given size contradicts (the size is the measurement).
STALE_WITH_A_SIZE: tuple[str, ...] = (MeasurementStatus.TOO_SMALL.value, MeasurementStatus.ABSENT.value,
                                      MeasurementStatus.NOT_EVALUABLE.value)

#: The whole lesion's sizes a ``status`` speaks of.
LESION_SIZES: tuple[str, ...] = ("longest_diameter_mm", "short_axis_mm")


def drop_stale_status(m: MeasurementRow, new_vals: dict[str, Any]) -> str | None:
    """In a ``keep_recorded`` merge that gives no status: a recorded ``too_small`` / ``absent`` /
    ``not_evaluable`` becomes ``measured`` when a whole-lesion size (:data:`LESION_SIZES`) is given
    a new value; returns the note saying so, else None.

    The criteria read the status before the sizes (``too_small`` counts as the rule's default,
    ``absent`` 0 mm, ``not_evaluable`` NE), so ``study read record --ld 12`` on a ``too_small``
    record counted 5 mm.  A non-target's ``present`` / ``unequivocal_progression`` and the like
    are kept (its size is informative there).  A size cleared (None) changes nothing.
    """
    old = str(m.status or "")
    if old not in STALE_WITH_A_SIZE:
        return None
    changed = [(k, getattr(m, k), new_vals[k]) for k in LESION_SIZES
               if new_vals.get(k) is not None and new_vals.get(k) != getattr(m, k)]
    if not changed:
        return None
    new_vals["status"] = MeasurementStatus.MEASURED.value
    sizes = ", ".join(f"{k} {_mm(a)} -> {_mm(b)}" for k, a, b in changed)
    return (f"status {old!r} changed to 'measured': the lesion's size changed ({sizes}) and no status was given, so "
            "the size is the measurement (the criteria read a status before the size). If the status still applies, "
            "record it again (study read record --status).")


def _mm(v: float | None) -> str:
    return "none" if v is None else f"{v:g} mm"
