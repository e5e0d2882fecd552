"""Figures for reports: key images with measured lines, waterfall, spider and swimmer plots.

matplotlib is imported inside each function and used through its object API
(``matplotlib.figure.Figure`` + the Agg canvas), so no global backend is switched and no GUI
toolkit is touched.  Every function returns PNG bytes.

* Waterfall: one bar per patient, best (most negative) change of the sum from baseline,
  sorted, coloured by best overall response; dashed lines at -30 % (PR) and +20 % (PD) for
  RECIST-like criteria (Eisenhauer 2009).
* Spider: change from baseline over time (days) per patient, at the days of the response table
  (the baseline at its own day, 0 %; a scan on or before day 0 at its negative day).
* Bars, lines and rows are labelled by :func:`read_labels`: the patient, and the reader when the
  cohort holds more than one read of the patient.
* Swimmer: one horizontal bar per patient from day 0 to the last assessment, with treatment
  events (markers above the bar), responses (labels below it) and the PD day (a black ``|``
  with a white outline on the bar, visible on a bar of any colour).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..constants import LIVER_WINDOW_HU
from ..errors import HccImagingError
from .constants import KEY_IMAGE_HALF_WIDTH_MM, PLOT_DPI
from .model import ExportRead, LesionObservation

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from ..volume import Volume

__all__ = [
    "PlotError",
    "RESPONSE_COLOURS",
    "key_image_png",
    "waterfall_png",
    "waterfall_figure",
    "spider_png",
    "spider_figure",
    "swimmer_png",
    "swimmer_figure",
    "sums_png",
    "read_labels",
    "change_points",
]

#: Colour per response (colour-blind safe-ish Okabe-Ito palette).
RESPONSE_COLOURS: dict[str, str] = {
    "CR": "#009E73",
    "PR": "#56B4E9",
    "SD": "#999999",
    "NON-CR/NON-PD": "#bbbbbb",
    "PD": "#D55E00",
    "NE": "#E69F00",
    "iCR": "#009E73",
    "iPR": "#56B4E9",
    "iSD": "#999999",
    "iUPD": "#F0E442",
    "iCPD": "#D55E00",
}
_PR_LINE = -0.30
_PD_LINE = 0.20


class PlotError(HccImagingError, ValueError):
    """A figure cannot be drawn from what was given (line outside the image ...)."""


def _figure(w_in: float, h_in: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w_in, h_in), dpi=PLOT_DPI)
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=PLOT_DPI, bbox_inches="tight")
    return buf.getvalue()


def key_image_png(
    volume: Volume,
    lesion: LesionObservation,
    *,
    window_hu: tuple[float, float] = LIVER_WINDOW_HU,
    half_width_mm: float = KEY_IMAGE_HALF_WIDTH_MM,
    title: str | None = None,
) -> bytes:
    """The slice holding the lesion's longest diameter, cropped around it, with the lines drawn.

    The slice is the one nearest the midpoint of the LD endpoints; the lines (LD solid
    yellow, short axis dashed cyan, viable diameter magenta) are drawn at their endpoints'
    in-plane positions in mm.

    Raises
    ------
    PlotError
        The lesion has no LD endpoints, or they fall outside the volume.
    """
    if lesion.ld_endpoints_lps is None:
        raise PlotError(
            f"lesion {lesion.lesion_id} at time point {lesion.timepoint_id} has no longest-diameter "
            "endpoints; a key image needs them. Record the endpoints in the read document."
        )
    p0, p1 = (np.asarray(p, float) for p in lesion.ld_endpoints_lps)
    mid = volume.lps_to_index((p0 + p1) / 2.0)
    k = int(round(float(mid[0])))
    if not 0 <= k < volume.shape[0]:
        raise PlotError(
            f"lesion {lesion.lesion_id} at time point {lesion.timepoint_id}: its longest diameter "
            f"lies outside series {volume.series_instance_uid} (slice index {mid[0]:.1f} of "
            f"{volume.shape[0]}). Pass the image of the time point the line was drawn on."
        )
    img = np.asarray(volume.array[k], dtype=float)
    row_mm, col_mm = volume.spacing[1], volume.spacing[2]
    ld_len = float(np.linalg.norm(p1 - p0))
    half = max(half_width_mm, 0.75 * ld_len)
    cj, ci = float(mid[1]), float(mid[2])
    j0 = max(0, int(cj - half / row_mm))
    j1 = min(img.shape[0], int(cj + half / row_mm) + 1)
    i0 = max(0, int(ci - half / col_mm))
    i1 = min(img.shape[1], int(ci + half / col_mm) + 1)
    crop = img[j0:j1, i0:i1]
    fig = _figure(4.0, 4.0)
    ax = fig.add_subplot(1, 1, 1)
    # extent in pixel index units so the aspect follows spacing
    ax.imshow(
        crop,
        cmap="gray",
        vmin=window_hu[0],
        vmax=window_hu[1],
        extent=(i0 - 0.5, i1 - 0.5, j1 - 0.5, j0 - 0.5),
        aspect=row_mm / col_mm,
        interpolation="nearest",
    )
    for seg, style, label in (
        (lesion.ld_endpoints_lps, dict(color="#ffd700", lw=2.0, ls="-"), f"LD {lesion.longest_diameter_mm or ld_len:.1f} mm"),
        (lesion.sa_endpoints_lps, dict(color="#00e5ff", lw=1.6, ls="--"), f"SA {lesion.short_axis_mm or 0:.1f} mm"),
        (lesion.viable_endpoints_lps, dict(color="#ff00ff", lw=1.6, ls=":"), f"viable {lesion.viable_diameter_mm or 0:.1f} mm"),
        (lesion.viable_sa_endpoints_lps, dict(color="#ff00ff", lw=1.0, ls="-."), f"viable SA {lesion.viable_short_axis_mm or 0:.1f} mm"),
    ):
        if seg is None:
            continue
        a = volume.lps_to_index(seg[0])
        b = volume.lps_to_index(seg[1])
        ax.plot([a[2], b[2]], [a[1], b[1]], marker="o", ms=3, label=label, **style)
    ax.set_xlim(i0 - 0.5, i1 - 0.5)
    ax.set_ylim(j1 - 0.5, j0 - 0.5)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(loc="lower left", fontsize=7, framealpha=0.6)
    ax.set_title(title or f"{lesion.lesion_id} - {lesion.timepoint_id} (slice {k + 1})", fontsize=9)
    return _png(fig)


def read_labels(reads: Sequence[ExportRead]) -> list[str]:
    """The label of each read in a cohort's plots: its patient id, with the reader
    (``P1 (R2)``) when the cohort holds more than one read of that patient, and with the read's
    number among them (``P1 (read 2)``) when those reads do not name distinct readers.  A
    de-identified read carries its reader pseudonym, so the label does."""
    by_patient: dict[str, list[int]] = {}
    for i, r in enumerate(reads):
        by_patient.setdefault(r.patient_id, []).append(i)
    out = [r.patient_id for r in reads]
    for idx in by_patient.values():
        if len(idx) < 2:
            continue
        readers = [reads[i].reader_id for i in idx]
        distinct = all(readers) and len(set(readers)) == len(readers)
        for n, i in enumerate(idx, start=1):
            out[i] = f"{reads[i].patient_id} ({readers[n - 1] if distinct else f'read {n}'})"
    return out


def change_points(read: ExportRead, criterion: str) -> list[tuple[float, float]]:
    """``(day, change from baseline %)`` of ``read`` under ``criterion`` at the days of its
    response table, in day order: the baseline at its own day with 0 % (the read's first time
    point; day 0 when it has no day), each follow-up with a change at its day - also one on or
    before day 0 (a negative day).  Empty when no follow-up has a change."""
    bl = read.timepoints[0] if read.timepoints else None
    bl_id = bl.timepoint_id if bl is not None else None
    base: tuple[float, float] | None = None
    follow: list[tuple[float, float]] = []
    for t in read.responses_for(criterion):
        if t.day is None:
            continue
        if t.timepoint_id == bl_id:
            base = (float(t.day), 0.0)
        elif t.change_from_baseline_frac is not None:
            follow.append((float(t.day), 100.0 * t.change_from_baseline_frac))
    if not follow:
        return []
    if base is None:
        base = (float(bl.day) if bl is not None and bl.day is not None else 0.0, 0.0)
    return sorted([base, *follow], key=lambda p: p[0])


def _best_changes(reads: Sequence[ExportRead], criterion: str) -> list[tuple[str, float, str | None]]:
    out = []
    for r, label in zip(reads, read_labels(reads)):
        s = r.summary_for(criterion)
        best = s.best_change_frac if s is not None else None
        if best is None:
            vals = [t.change_from_baseline_frac for t in r.responses_for(criterion) if t.change_from_baseline_frac is not None]
            best = min(vals) if vals else None
        if best is None:
            continue
        bor = (s.bor_confirmed or s.bor_unconfirmed) if s is not None else None
        out.append((label, float(best), bor))
    return out


def waterfall_png(reads: Sequence[ExportRead], criterion: str) -> bytes:
    """Waterfall plot of the best change of the sum from baseline, one bar per read (labelled by
    :func:`read_labels`)."""
    return _png(waterfall_figure(reads, criterion))


def waterfall_figure(reads: Sequence[ExportRead], criterion: str) -> Figure:
    """The figure of :func:`waterfall_png`."""
    data = sorted(_best_changes(reads, criterion), key=lambda t: -t[1])
    fig = _figure(max(4.0, 0.35 * len(data) + 2.0), 3.5)
    ax = fig.add_subplot(1, 1, 1)
    if not data:
        ax.text(0.5, 0.5, f"no {criterion} changes to plot", ha="center", va="center", transform=ax.transAxes)
        return fig
    x = np.arange(len(data))
    vals = [100.0 * d[1] for d in data]
    cols = [RESPONSE_COLOURS.get(d[2] or "", "#444444") for d in data]
    ax.bar(x, vals, color=cols, edgecolor="black", linewidth=0.5)
    ax.axhline(100 * _PD_LINE, color="#D55E00", ls="--", lw=1)
    ax.axhline(100 * _PR_LINE, color="#56B4E9", ls="--", lw=1)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(x)
    ax.set_xticklabels([d[0] for d in data], rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("best change from baseline (%)")
    ax.set_title(f"Waterfall - {criterion}", fontsize=10)
    handles = {}
    from matplotlib.patches import Patch

    for d in data:
        key = d[2] or "n/a"
        handles.setdefault(key, Patch(color=RESPONSE_COLOURS.get(d[2] or "", "#444444"), label=key))
    ax.legend(handles=list(handles.values()), fontsize=7, title="BOR", title_fontsize=7)
    return fig


def spider_png(reads: Sequence[ExportRead], criterion: str) -> bytes:
    """Spider plot: change of the sum from baseline (%) over days, one line per read (labelled by
    :func:`read_labels`), its points at the response table's days (:func:`change_points`)."""
    return _png(spider_figure(reads, criterion))


def spider_figure(reads: Sequence[ExportRead], criterion: str) -> Figure:
    """The figure of :func:`spider_png`."""
    fig = _figure(5.5, 3.5)
    ax = fig.add_subplot(1, 1, 1)
    n = 0
    before_day0 = False
    for r, label in zip(reads, read_labels(reads)):
        pts = change_points(r, criterion)
        if len(pts) < 2:
            continue
        before_day0 = before_day0 or pts[0][0] < 0
        s = r.summary_for(criterion)
        bor = (s.bor_confirmed or s.bor_unconfirmed) if s is not None else None
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", ms=3, lw=1.5,
                color=RESPONSE_COLOURS.get(bor or "", None), label=label)
        n += 1
    if before_day0:
        ax.axvline(0, color="#666666", lw=0.8, ls=":")  # day 0 (scans before it to its left)
    ax.axhline(100 * _PD_LINE, color="#D55E00", ls="--", lw=1)
    ax.axhline(100 * _PR_LINE, color="#56B4E9", ls="--", lw=1)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xlabel("day (from day 0, the start of treatment)")
    ax.set_ylabel("change of sum from baseline (%)")
    ax.set_title(f"Spider - {criterion}", fontsize=10)
    if n == 0:
        ax.text(0.5, 0.5, f"no {criterion} follow-up to plot", ha="center", va="center", transform=ax.transAxes)
    elif n <= 12:
        ax.legend(fontsize=7)
    return fig


def swimmer_png(reads: Sequence[ExportRead], criterion: str) -> bytes:
    """Swimmer plot: time on study per patient with treatments, responses and progression."""
    return _png(swimmer_figure(reads, criterion))


#: The PD mark of the swimmer plot: a black bar with a white outline, visible on every bar colour
#: (it was drawn in the PD colour, on bars coloured PD for a BOR of PD: invisible where it matters).
_PD_MARK = dict(marker="|", color="black", ms=14, mew=2.5, ls="none", zorder=4)


def swimmer_figure(reads: Sequence[ExportRead], criterion: str) -> Figure:
    """The figure of :func:`swimmer_png`: one bar per patient from day 0 to its last assessment (or
    treatment end), coloured by BOR; treatments as black markers above the bar, the response of
    each time point as a label below it, the day of progression as a black ``|`` with a white
    outline on the bar.  The x range covers every label (a scan before day 0 has a negative day:
    its label was drawn over the y axis and its tick labels)."""
    from matplotlib import patheffects

    rows = [r for r in reads if r.timepoints]
    fig = _figure(6.5, max(2.5, 0.6 * len(rows) + 1.2))
    ax = fig.add_subplot(1, 1, 1)
    markers = ["v", "s", "D", "^", "P", "X", "*"]
    kinds: dict[str, str] = {}
    labels = []
    halo = [patheffects.withStroke(linewidth=4.5, foreground="white")]
    for y, r in enumerate(rows):
        days = [t.day for t in r.timepoints if t.day is not None]
        end = max([d for d in days] + [t.end_day or 0 for t in r.treatments] + [0])
        s = r.summary_for(criterion)
        bor = (s.bor_confirmed or s.bor_unconfirmed) if s is not None else None
        ax.barh(y, end, left=0, height=0.5, color=RESPONSE_COLOURS.get(bor or "", "#cccccc"), edgecolor="black", lw=0.5,
                zorder=2)
        for t in r.treatments:
            if t.start_day is None:
                continue
            m = kinds.setdefault(t.kind, markers[len(kinds) % len(markers)])
            ax.plot([t.start_day], [y + 0.36], marker=m, color="black", ms=6, ls="none", zorder=3)
            if t.end_day is not None:
                ax.plot([t.start_day, t.end_day], [y + 0.36, y + 0.36], color="black", lw=1, zorder=3)
        for t in r.responses_for(criterion):
            if t.response and t.day is not None:  # below the bar: never over the PD mark nor the bar's colour
                labels.append(ax.text(t.day, y - 0.27, t.response, ha="center", va="top", fontsize=6, color="black",
                                      zorder=5))
        if s is not None and s.pd_day is not None:
            ax.plot([s.pd_day], [y], path_effects=halo, gid=f"pd-{y}", **_PD_MARK)
    if any(t.get_position()[0] < 0 for t in labels):
        ax.axvline(0, color="#666666", lw=0.8, ls=":", zorder=1)  # day 0 (scans before it to its left)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(read_labels(rows), fontsize=7)
    if rows:
        ax.set_ylim(-0.8, len(rows) - 0.4)  # room for the first row's labels and the last's treatments
    ax.set_xlabel("day (from day 0, the start of treatment)")
    ax.set_title(f"Swimmer - {criterion} (bar colour = BOR; | = PD)", fontsize=10)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker=m, color="black", ls="none", label=k) for k, m in kinds.items()]
    if handles:
        # beside the axes: inside, it covered the last labels and bar ends
        ax.legend(handles=handles, fontsize=7, title="treatment", title_fontsize=7, loc="upper left",
                  bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    if not rows:
        ax.text(0.5, 0.5, "no patients", ha="center", va="center", transform=ax.transAxes)
    _fit_x(ax, labels)
    return fig


def _fit_x(ax: Any, texts: Sequence[Any], pad_px: float = 4.0) -> None:
    """Widen the x range of ``ax`` until every text lies inside the axes (``pad_px`` from the
    edges): a text's size is in pixels, so the range is widened by its overflow, a few times."""
    if not texts:
        return
    renderer = ax.figure.canvas.get_renderer()
    for _ in range(5):
        box = ax.get_window_extent(renderer)
        extents = [t.get_window_extent(renderer) for t in texts]
        left = max(box.x0 + pad_px - e.x0 for e in extents)
        right = max(e.x1 - (box.x1 - pad_px) for e in extents)
        if left <= 0 and right <= 0:
            return
        lo, hi = ax.get_xlim()
        per_px = (hi - lo) / box.width
        ax.set_xlim(lo - max(left, 0.0) * per_px * 1.2, hi + max(right, 0.0) * per_px * 1.2)


def sums_png(read: ExportRead) -> bytes:
    """One patient: sum of diameters over time per criterion (relative to baseline, %)."""
    fig = _figure(5.5, 3.0)
    ax = fig.add_subplot(1, 1, 1)
    drawn = 0
    for crit in read.criteria:
        pts = change_points(read, crit)
        if len(pts) < 2:
            continue
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=crit)
        bl_id = read.timepoints[0].timepoint_id if read.timepoints else None
        for t in read.responses_for(crit):
            if (t.day is not None and t.timepoint_id != bl_id and t.change_from_baseline_frac is not None
                    and t.response):
                ax.annotate(t.response, (t.day, 100.0 * t.change_from_baseline_frac), fontsize=7,
                            xytext=(3, 3), textcoords="offset points")
        drawn += 1
    ax.axhline(100 * _PD_LINE, color="#D55E00", ls="--", lw=1)
    ax.axhline(100 * _PR_LINE, color="#56B4E9", ls="--", lw=1)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xlabel("day (from day 0, the start of treatment)")
    ax.set_ylabel("change of sum (%)")
    if drawn:
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, "no follow-up responses", ha="center", va="center", transform=ax.transAxes)
    return _png(fig)
