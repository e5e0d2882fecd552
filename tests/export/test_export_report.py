"""HTML reports and plots: files a browser opens, images embedded, figures not blank."""

from __future__ import annotations

import base64
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from hcc_imaging.export import as_export_read, write_cohort_report, write_report
from hcc_imaging.export.plots import PlotError, key_image_png, spider_png, sums_png, swimmer_png, waterfall_png

from .conftest import ASSESSMENT, read_document


def png_pixels(png: bytes) -> np.ndarray:
    import matplotlib.image as mpimg

    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return np.asarray(mpimg.imread(io.BytesIO(png), format="png"))


def assert_not_blank(png: bytes, min_fraction: float = 0.02) -> None:
    """The figure has drawn content: pixel variance and a share of non-background pixels."""
    px = png_pixels(png)[..., :3]
    assert px.std() > 0.02
    background = np.all(px > 0.97, axis=-1)
    assert (~background).mean() > min_fraction


def _cohort():
    docs = []
    for i, (bor, ch) in enumerate((("PR", -0.45), ("SD", -0.1), ("PD", 0.35))):
        a = {"patient_id": f"P{i}", "results": {"RECIST1.1": {
            "timepoints": [{"id": "BL", "day": 0, "sum": 27.0, "response": None},
                           {"id": "FU1", "day": 63, "sum": 27 * (1 + ch), "change_from_baseline": ch,
                            "response": bor}],
            "bor_unconfirmed": bor, "bor_confirmed": bor, "pd_day": 63 if bor == "PD" else None}}}
        doc = read_document(f"P{i}")  # targets L1 16 + L2 11 = 27 mm at BL; L1 sized to give the FU1 sum
        doc["timepoints"][1]["lesions"][0]["longest_diameter_mm"] = round(27 * (1 + ch) - 10.0, 2)
        docs.append(as_export_read(doc, a))
    return docs


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.imgs: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        self.tags.append(tag)
        if tag == "img":
            self.imgs.append(dict(attrs)["src"])


def _parse(path: Path) -> _Collect:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert "http://" not in text and "https://" not in text  # self-contained
    p = _Collect()
    p.feed(text)
    return p


def test_patient_report_embeds_key_images_and_responses(tmp_path: Path, ct) -> None:
    path = write_report(read_document(), tmp_path / "r.html", assessment=ASSESSMENT, images={"BL": ct.volume})
    parsed = _parse(path)
    assert len(parsed.imgs) == 3  # sums plot + key images of L1 and L2 at baseline
    for src in parsed.imgs:
        assert src.startswith("data:image/png;base64,")
        assert_not_blank(base64.b64decode(src.split(",", 1)[1]))
    text = path.read_text()
    assert "RECIST1.1" in text and "mRECIST" in text
    assert re.search(r'class="resp PR">PR<', text)
    assert "Couinaud" not in text and "VII" in text  # segment column shows the segment
    assert "TACE" in text and "lenvatinib" in text


def test_cohort_report_has_waterfall_spider_swimmer(tmp_path: Path) -> None:
    path = write_cohort_report(_cohort(), tmp_path / "c.html")
    parsed = _parse(path)
    assert len(parsed.imgs) == 3
    for src in parsed.imgs:
        assert_not_blank(base64.b64decode(src.split(",", 1)[1]))
    text = path.read_text()
    for pid in ("P0", "P1", "P2"):
        assert pid in text


def test_waterfall_bars_follow_best_change() -> None:
    reads = _cohort()
    px = png_pixels(waterfall_png(reads, "RECIST1.1"))[..., :3]
    # the PD bar (orange-red, +35 %) and the PR bar (blue, -45 %) are both drawn
    red = np.all(np.abs(px - np.array([0xD5, 0x5E, 0x00]) / 255) < 0.08, axis=-1)
    blue = np.all(np.abs(px - np.array([0x56, 0xB4, 0xE9]) / 255) < 0.08, axis=-1)
    assert red.sum() > 200 and blue.sum() > 200
    # PR bar (-45 %) goes lower than the PD bar (+35 %) goes high -> more blue rows below
    red_rows, blue_rows = np.nonzero(red.any(axis=1))[0], np.nonzero(blue.any(axis=1))[0]
    assert blue_rows.max() > red_rows.max() and red_rows.min() < blue_rows.min()


@pytest.mark.parametrize("fn", [spider_png, swimmer_png], ids=["spider", "swimmer"])
def test_cohort_plots_not_blank(fn) -> None:  # noqa: ANN001
    assert_not_blank(fn(_cohort(), "RECIST1.1"))


def test_single_patient_sums_plot_not_blank() -> None:
    assert_not_blank(sums_png(as_export_read(read_document(), ASSESSMENT)))


def test_key_image_draws_the_line_on_the_image(ct) -> None:
    read = as_export_read(read_document())
    l1 = read.lesions[0]
    px = png_pixels(key_image_png(ct.volume, l1))[..., :3]
    yellow = np.all(np.abs(px - np.array([1.0, 0xD7 / 255, 0.0])) < 0.1, axis=-1)
    assert yellow.sum() > 50  # the LD line
    grey = (np.abs(px[..., 0] - px[..., 1]) < 0.02) & (px[..., 0] > 0.05) & (px[..., 0] < 0.95)
    assert grey.mean() > 0.2  # the CT image under it


def test_key_image_errors(ct) -> None:
    read = as_export_read(read_document())
    no_line = next(x for x in read.lesions if x.ld_endpoints_lps is None)
    with pytest.raises(PlotError, match="no longest-diameter endpoints"):
        key_image_png(ct.volume, no_line)
    from dataclasses import replace

    far = replace(read.lesions[0], ld_endpoints_lps=((0.0, 0.0, 500.0), (10.0, 0.0, 500.0)))
    with pytest.raises(PlotError, match="outside series"):
        key_image_png(ct.volume, far)


def test_empty_plots_say_so() -> None:
    read = as_export_read(read_document())  # no assessment
    assert_not_blank(waterfall_png([read], "RECIST1.1"), min_fraction=0.005)
    assert_not_blank(spider_png([read], "RECIST1.1"), min_fraction=0.005)


def _swimmer_reads():
    from hcc_imaging.export.model import (CriterionSummary, ExportRead, TimepointInfo, TimepointResponse,
                                          TreatmentEvent)

    def read(pid: str, bor: str, pd_day: int | None, resp: list) -> ExportRead:
        tps = tuple(TimepointInfo(f"T{i}", i, day=d) for i, (d, _) in enumerate(resp))
        rs = tuple(TimepointResponse(pid, "RECIST1.1", f"T{i}", day=d, response=r) for i, (d, r) in enumerate(resp))
        return ExportRead(pid, "R1", tps, (), rs, (CriterionSummary(pid, "RECIST1.1", bor_unconfirmed=bor,
                                                                    pd_day=pd_day),),
                          (TreatmentEvent(pid, "TACE", start_day=0, end_day=10),))

    # P1: BOR PD (a PD-coloured bar), progression on day 120 with scans after it; scans before day 0
    return [read("P1", "PD", 120, [(-40, None), (-25, "NON-CR/NON-PD"), (60, "SD"), (120, "PD"), (180, "PD")]),
            read("P2", "PR", 90, [(0, None), (60, "PR"), (90, "PD")])]


def test_swimmer_pd_mark_is_visible_on_a_pd_bar() -> None:
    """The PD mark was drawn in the PD colour, on the bar coloured PD for a BOR of PD: invisible.
    Rendered with the response labels hidden, the pixels at the mark are not the bar's colour."""
    from matplotlib.colors import to_rgb

    from hcc_imaging.export.plots import RESPONSE_COLOURS, swimmer_figure

    fig = swimmer_figure(_swimmer_reads(), "RECIST1.1")
    ax = fig.axes[0]
    for t in ax.texts:
        t.set_visible(False)  # (only the bars and the marks)
    fig.canvas.draw()
    rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(float) / 255.0
    height = rgb.shape[0]
    for y, (pd_day, bor) in enumerate(((120, "PD"), (90, "PR"))):
        x_px, y_px = ax.transData.transform((pd_day, y))
        r, c = int(round(height - y_px)), int(round(x_px))
        bar = np.array(to_rgb(RESPONSE_COLOURS[bor]))
        beside = rgb[r, c - 15]  # on the bar, left of the mark: the bar's colour
        assert np.abs(beside - bar).max() < 0.02, (bor, beside)
        mark = rgb[r - 3:r + 4, c - 1:c + 2]  # the mark's core
        assert np.abs(mark - bar).max(axis=-1).min() > 0.5, f"PD mark on the {bor} bar has the bar's colour"


def test_swimmer_labels_stay_inside_the_axes() -> None:
    """A scan before day 0 (negative day) had its response label drawn over the y axis and its
    tick labels; none is outside the plot area now."""
    from hcc_imaging.export.plots import swimmer_figure

    fig = swimmer_figure(_swimmer_reads(), "RECIST1.1")
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    box = ax.get_window_extent(renderer)
    labels = [t for t in ax.texts if t.get_text()]
    assert {t.get_text() for t in labels} == {"NON-CR/NON-PD", "SD", "PD", "PR"}
    for t in labels:
        e = t.get_window_extent(renderer)
        assert box.x0 < e.x0 and e.x1 < box.x1 and box.y0 < e.y0 and e.y1 < box.y1, (t.get_text(), e, box)
    ticks = [t.get_window_extent(renderer) for t in ax.get_yticklabels()]
    assert all(tk.x1 <= box.x0 for tk in ticks)  # the patient ids left of the axes, never under a label
    assert_not_blank(swimmer_png(_swimmer_reads(), "RECIST1.1"))
