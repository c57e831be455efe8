"""The class's loss curves: each submission's loss history, read from its autograded notebook.

Where the history is: the whole-pipeline cell calls ``check.plot_losses(history)``, which shows the
loss of every training step as a matplotlib image (a ``display_data`` output, ``image/png``). The
values themselves are printed nowhere, so `read_history` takes, in this order:

1. the values, when the notebook exposes them: a display output whose bundle holds
   ``application/vnd.tf-pytorch-course.losses+json`` (`EXPOSED_MIME`) = ``{"losses": [float, ...]}``
   (one float per training step, NaN as null), shown with the plot; nothing shows it yet;
2. else the plot itself, digitised (`digitise`): the axes box and tick marks are found in the
   pixels, the tick labels read by matching their glyphs against the same font rendered by
   matplotlib here, and the line's pixels (matplotlib's first colour) mapped through the two axes.
   The result has one point per pixel column (about 540 over the training), within a pixel or two
   of the true values: enough for the class's median, spread and outliers, not for single steps.

A plot that cannot be read (no line, labels that do not form an arithmetic progression, an axis
offset it cannot parse) gives None and the report says so; it never guesses.
"""

from __future__ import annotations

import base64
import io
import math
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from graders.check.shared.protocol import LOSSES_MIME as EXPOSED_MIME  # what plot_losses writes beside the plot

LINE_RGB = np.array([0x1F, 0x77, 0xB4], dtype=np.float32) / np.float32(255)  # matplotlib's first colour (C0), as plot_losses draws the line
GLYPHS = "0123456789.−+e"  # what tick labels and the axis offset ("1e6", "+2.3") are made of
FONT_SIZE = 10  # rcParams["xtick.labelsize"] "medium" at font.size 10 (points)
DPI = 100  # the inline backend's figure.dpi
INK = 0.35  # a pixel darker than this (0 white .. 1 black) is ink
GLYPH_GAP = 4  # pixels between two glyphs of one label at most (a label and the axis title lie further apart)


@dataclass(frozen=True)
class LossCurve:
    """One submission's loss history: `steps` (training step of each point) and `losses`, and where they came from
    ("exposed": the values themselves; "plot": read from the image, one point per pixel column, each within about
    `resolution` of the true value)."""

    steps: np.ndarray
    losses: np.ndarray
    source: str
    resolution: float = 0.0  # loss per pixel of the plot it was read from (0: exact values)


def read_history(cells) -> tuple[LossCurve | None, str | None]:
    """The loss curve that a notebook's cells show, and None or why there is none.

    `cells`: the notebook's code cells (nbformat dicts). The exposed values win over the plot.
    """
    images = []
    for cell in cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if EXPOSED_MIME in data:
                values = data[EXPOSED_MIME].get("losses") if isinstance(data[EXPOSED_MIME], dict) else None
                if isinstance(values, list) and values:
                    losses = np.array([math.nan if v is None else float(v) for v in values])
                    return LossCurve(np.arange(1, len(losses) + 1, dtype=float), losses, "exposed"), None
            if "image/png" in data and ".plot_losses(" in _text(cell.get("source", "")):
                images.append(data["image/png"])
    if not images:
        return None, "no loss plot (the whole pipeline did not reach train, or train returned nothing)"
    try:
        png = base64.b64decode(_text(images[-1]))
    except ValueError:
        return None, "its loss plot is not a readable PNG"
    return digitise(png)


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


# -- reading a plot ---------------------------------------------------------------------------------
def digitise(png: bytes) -> tuple[LossCurve | None, str | None]:
    """The curve drawn by ``plot_losses`` in a PNG, read back through its axes; (None, why) when it cannot be."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(png)) as picture:
            pixels = np.asarray(picture.convert("RGB"))
    except Exception:
        return None, "its loss plot is not a readable PNG"
    ink = (765 - pixels.sum(axis=2, dtype=np.int32)).astype(np.float32) / np.float32(765)
    box = _axes_box(ink)
    if box is None:
        return None, "no axes found in its loss plot"
    left, right, top, bottom = box
    y_ticks = _tick_rows(ink, left, top, bottom)
    x_ticks = _tick_columns(ink, bottom, left, right)
    y_axis = _calibrate([(row, _read_label(_y_label_box(ink, row, left))) for row in y_ticks])
    if y_axis is None:
        return None, "the loss axis of its plot could not be read"
    scale, shift = _offset(ink, left, top)
    if scale is None:
        return None, "the loss axis offset of its plot could not be read"
    x_axis = _calibrate([(column, _read_label(_x_label_box(ink, column, bottom))) for column in x_ticks])

    inside = pixels[top + 2: bottom - 1, left + 2: right - 1].astype(np.float32) / np.float32(255)
    blue = _line_weight(inside)
    columns = np.nonzero(blue.max(axis=0) > 0.5)[0]
    if len(columns) < 2:
        return None, "no line in its loss plot (every loss NaN?)"
    rows = np.arange(inside.shape[0], dtype=np.float32)[:, None] + top + 2
    weights = np.where(blue > 0.25, blue, np.float32(0))[:, columns]
    centres = (weights * rows).sum(axis=0).astype(np.float64) / np.maximum(weights.sum(axis=0), 1e-9)
    losses = (y_axis[0] * centres + y_axis[1]) * scale + shift
    where = columns.astype(np.float64) + left + 2
    if x_axis is not None:
        steps = x_axis[0] * where + x_axis[1]
    else:  # the training's fraction: the line runs from the first step to the last
        steps = (where - where[0]) / max(where[-1] - where[0], 1.0)
    source = "plot" if x_axis is not None else "plot (steps as a fraction)"
    return LossCurve(steps, losses, source, abs(y_axis[0]) * scale), None


def _line_weight(rgb: np.ndarray) -> np.ndarray:
    """How much of the line's colour each pixel holds (0..1): blue over white, not the grey grid or black text."""
    red = (1.0 - rgb[..., 0]) / (1.0 - LINE_RGB[0])  # the share of the line's colour over white, from red
    blueish = (rgb[..., 2] - rgb[..., 0]) / (LINE_RGB[2] - LINE_RGB[0])  # grey (grid, text) has none
    return np.clip(np.minimum(blueish, red * np.float32(1.2)), 0.0, 1.0)


def _axes_box(ink: np.ndarray) -> tuple[int, int, int, int] | None:
    """(left, right, top, bottom) pixel of the axes' spines: the long dark lines of the frame."""
    dark = ink > 0.5
    columns = np.nonzero(dark.sum(axis=0) > 0.5 * ink.shape[0])[0]
    rows = np.nonzero(dark.sum(axis=1) > 0.5 * ink.shape[1])[0]
    if len(columns) < 2 or len(rows) < 2:
        return None
    return int(columns[0]), int(columns[-1]), int(rows[0]), int(rows[-1])


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of each run of True in a 1-D mask, end exclusive."""
    padded = np.concatenate([[False], mask, [False]])
    edges = np.nonzero(padded[1:] != padded[:-1])[0]
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist()))


def _tick_rows(ink: np.ndarray, left: int, top: int, bottom: int) -> list[float]:
    """Rows of the y tick marks: short dark lines just left of the left spine."""
    strip = ink[top - 2: bottom + 3, max(0, left - 4): left]
    marks = (strip > 0.5).all(axis=1)
    return [top - 2 + (a + b - 1) / 2 for a, b in _runs(marks)]


def _tick_columns(ink: np.ndarray, bottom: int, left: int, right: int) -> list[float]:
    """Columns of the x tick marks: short dark lines just below the bottom spine."""
    strip = ink[bottom + 1: bottom + 5, left - 2: right + 3]
    marks = (strip > 0.5).all(axis=0)
    return [left - 2 + (a + b - 1) / 2 for a, b in _runs(marks)]


def _text_block(ink: np.ndarray, rows: slice, columns: slice) -> np.ndarray | None:
    """The ink of a label: the region cut to its inked rows and columns (None when empty)."""
    region = ink[rows, columns]
    if region.size == 0:
        return None
    used_rows = np.nonzero((region > INK).any(axis=1))[0]
    used_columns = np.nonzero((region > INK).any(axis=0))[0]
    if len(used_rows) == 0:
        return None
    return region[used_rows[0]: used_rows[-1] + 1, used_columns[0]: used_columns[-1] + 1]


def _label_columns(inked: np.ndarray, at: int) -> tuple[int, int] | None:
    """The columns of the text around column `at` (or ending nearest before it) in a band's inked columns:
    runs of ink no more than GLYPH_GAP apart."""
    runs = _runs(inked)
    if not runs:
        return None
    index = min(range(len(runs)), key=lambda i: 0 if runs[i][0] <= at < runs[i][1] else min(abs(runs[i][0] - at), abs(runs[i][1] - at)))
    start, end = runs[index]
    for a, b in reversed(runs[:index]):
        if start - b > GLYPH_GAP:
            break
        start = a
    for a, b in runs[index + 1:]:
        if a - end > GLYPH_GAP:
            break
        end = b
    return start, end


def _label(ink: np.ndarray, centre_row: int, columns: slice, at: int) -> np.ndarray | None:
    """The label whose digits' middle is about `centre_row`, nearest to column `at` within `columns`."""
    height = _templates()["0"].shape[0]
    band = ink[max(0, centre_row - height // 2 - 1): centre_row + height // 2 + 2, columns]
    found = _label_columns((band > INK).any(axis=0), at)
    if found is None:
        return None
    start, end = found
    rows = slice(max(0, centre_row - height), centre_row + height + 1)
    return _text_block(ink[rows, columns], slice(None), slice(start, end))


def _y_label_box(ink: np.ndarray, row: float, left: int) -> np.ndarray | None:
    """The label of the y tick at `row`: the text right-aligned left of the tick mark, on the tick's line."""
    return _label(ink, int(round(row)), slice(0, max(0, left - 6)), left - 6)


def _x_label_box(ink: np.ndarray, column: float, bottom: int) -> np.ndarray | None:
    """The label of the x tick at `column`: the first line of text under the tick, centred on it."""
    below = ink[bottom + 6: bottom + 6 + 3 * FONT_SIZE, :]
    rows = np.nonzero((below > INK).any(axis=1))[0]
    if len(rows) == 0:
        return None
    first = _runs((below > INK).any(axis=1))[0]
    middle = bottom + 6 + (first[0] + first[1]) // 2
    return _label(ink, middle, slice(None), int(round(column)))


@lru_cache(maxsize=1)
def _templates() -> dict[str, np.ndarray]:
    """Each glyph of `GLYPHS` as matplotlib renders a tick label here: its ink within the digits' rows (a "0"
    drawn at the same place gives them), cut to its own columns."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    def drawn(text: str) -> np.ndarray:
        figure = Figure(figsize=(0.6, 0.4), dpi=DPI)
        FigureCanvasAgg(figure)
        figure.text(0.25, 0.3, text, fontsize=FONT_SIZE)
        figure.canvas.draw()
        return 1.0 - np.asarray(figure.canvas.buffer_rgba(), dtype=np.float32)[..., :3].mean(axis=2) / 255

    digit_rows = np.nonzero((drawn("0") > INK).any(axis=1))[0]
    glyphs = {}
    for glyph in GLYPHS:
        ink = drawn(glyph)[digit_rows[0]: digit_rows[-1] + 1]
        columns = np.nonzero((ink > INK).any(axis=0))[0]
        glyphs[glyph] = ink[:, columns[0]: columns[-1] + 1]
    return glyphs


def _read_label(block: np.ndarray | None) -> str | None:
    """The text of one label, glyph by glyph (glyphs are the runs of inked columns); None when any glyph is unsure:
    its best template matches poorly, or hardly better than the next best."""
    if block is None:
        return None
    templates = _templates()
    height = templates["0"].shape[0]
    if not height - 2 <= block.shape[0] <= height + 2:  # a label's inked rows: those of its digits
        return None
    text = ""
    for start, end in _runs((block > INK).any(axis=0)):
        glyph = np.round(block[:, start:end] * 255).astype(np.uint8)  # 8 bits, as the PNG held it: a cache key
        name = _glyph(glyph.tobytes(), glyph.shape)
        if name is None:
            return None
        text += name
    return text


@lru_cache(maxsize=4096)
def _glyph(pixels: bytes, shape: tuple[int, int]) -> str | None:
    """The glyph whose template matches these pixels best, or None when unsure: it matches poorly, or hardly
    better than the next best. Cached: a class's plots share a few dozen distinct glyph images."""
    glyph = np.frombuffer(pixels, dtype=np.uint8).reshape(shape).astype(np.float32) / 255
    scores = sorted(((_similarity(glyph, template), name) for name, template in _templates().items()), reverse=True)
    (best, name), (second, _) = scores[0], scores[1]
    return name if best >= 0.6 and best - second >= 0.05 else None


def _similarity(glyph: np.ndarray, template: np.ndarray) -> float:
    """Correlation of two glyphs' ink (Pearson's, over a common canvas) at the best relative shift of up to two
    pixels: 1 for identical glyphs."""
    if abs(glyph.shape[1] - template.shape[1]) > 2:
        return 0.0
    height, width = max(glyph.shape[0], template.shape[0]) + 2, max(glyph.shape[1], template.shape[1]) + 2
    canvas = np.zeros((height, width), dtype=np.float32)
    canvas[1: 1 + glyph.shape[0], 1: 1 + glyph.shape[1]] = glyph
    best = 0.0
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            other = np.zeros_like(canvas)
            h, w = min(template.shape[0], height - dy), min(template.shape[1], width - dx)
            other[dy: dy + h, dx: dx + w] = template[:h, :w]
            a, b = canvas - canvas.mean(), other - other.mean()
            norm = float(np.sqrt((a * a).sum() * (b * b).sum()))
            if norm > 0:
                best = max(best, float((a * b).sum()) / norm)
    return best


NUMBER = re.compile(r"^[−+-]?\d+(\.\d+)?$")


def _value(text: str | None) -> float | None:
    if text is None or not NUMBER.match(text):
        return None
    return float(text.replace("−", "-"))


def _calibrate(ticks: list[tuple[float, str | None]]) -> tuple[float, float] | None:
    """(slope, intercept) of value against pixel from the ticks whose label reads as a number, when they agree: at
    least two, all but one at most of the ticks, every one within a pixel and a half of the line through them."""
    points = [(pixel, value) for pixel, text in ticks if (value := _value(text)) is not None]
    if len(points) < 2 or len(points) < len(ticks) - 1:
        return None
    pixels, values = np.array(points).T
    slope, intercept = np.polyfit(pixels, values, 1)
    if slope == 0 or not np.all(np.abs(pixels - (values - intercept) / slope) < 1.5):
        return None
    return float(slope), float(intercept)


def _offset(ink: np.ndarray, left: int, top: int) -> tuple[float | None, float]:
    """(scale, shift) of the y axis from matplotlib's offset text above the axes' top-left ("1e6", "+2.3", "1e−3+2.3");
    (1, 0) when there is none, (None, 0) when there is one that cannot be read."""
    region = ink[: max(0, top - 1), max(0, left - 10): left + 8 * FONT_SIZE]
    inked_rows = np.nonzero((region > INK).any(axis=1))[0]
    if len(inked_rows) == 0:
        return 1.0, 0.0
    # the offset text sits on the last line of ink above the axes, at its left end
    runs = _runs((region > INK).any(axis=1))
    a, b = runs[-1]
    line = region[a:b]
    columns = _runs((line > INK).any(axis=0))
    if not columns or columns[0][0] > 2 * FONT_SIZE:
        return 1.0, 0.0  # ink further right: the title, not an offset
    end = columns[0][1]
    for start, stop in columns[1:]:
        if start - end > FONT_SIZE:
            break
        end = stop
    text = _read_label(_text_block(line, slice(None), slice(columns[0][0], end)))
    if text is None:
        return None, 0.0
    match = re.fullmatch(r"(?:1e([−+-]?\d+))?(?:([+−-]\d+(?:\.\d+)?))?", text)
    if not match or not text:
        return None, 0.0
    scale = 10.0 ** int(match.group(1).replace("−", "-")) if match.group(1) else 1.0
    shift = float(match.group(2).replace("−", "-")) if match.group(2) else 0.0
    return scale, shift
