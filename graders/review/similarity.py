"""Similar submissions, step by step: winnowed fingerprints (the MOSS algorithm) from `copydetect`.

For each solution cell of the assignment (a graded step's code, or a written answer), every
student's text is fingerprinted:

* code: `copydetect` tokenizes it with pygments and replaces every name by one letter, every
  string by another, and drops comments and whitespace, so renamed variables, other strings and
  comments, other formatting, and functions in another order (fingerprints are a set) change
  nothing; then it keeps the winnowed hashes of its k-grams;
* a written answer: the same winnowing over its words, lowercased, without punctuation or
  formatting (`prose`);
* the release's text of that cell (signature, docstring, ``# YOUR CODE HERE``; the question of a
  written answer) and the release's given code are boilerplate: their fingerprints never count.

Each student is compared with every other student, with the reference solution (the source
notebook's cell), and with each earlier term's submission (``--against DIR``). A pair is flagged
when the matched part is at least `Settings.min_match` normalised characters long and covers at
least `Settings.threshold` of either side's fingerprinted text: a short step (a one-line
`accuracy`) is written the same way by everyone and tells nothing.

Scale: a text handed in by several students is fingerprinted once, and texts that are the same
after normalisation (a copy with other names, comments and layout) are compared once, through one
of them. The fingerprints of a step's distinct texts go into one sparse matrix (texts x
fingerprints); its product with itself counts the fingerprints every pair shares, all at once.
Only the pairs that share enough for a possible flag (`Settings.prefilter` of the threshold) are
compared with `copydetect.compare_files` (about 0.1 ms a pair): quadratic in the class at worst.
The matched slices that the page highlights are computed again for the pairs it shows only.

copydetect hashes its k-grams with Python's salted `hash`; `stable_hashes` swaps in a hash of their
bytes meanwhile, so the same class gives the same figures on every run.

Similarity is evidence for a person to read, never a verdict: nothing here changes a score.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import itertools
from dataclasses import dataclass, field
from hashlib import blake2b
from pathlib import Path

import numpy as np

REFERENCE = "reference"
EARLIER = "earlier term: "


@dataclass(frozen=True)
class Settings:
    noise: int = 25  # k: matches shorter than this many normalised characters are never seen
    guarantee: int = 30  # matches at least this long are always seen (winnowing window = guarantee - noise + 1)
    threshold: float = 0.75  # flag when the match covers this share of either side
    min_match: int = 60  # ... and is at least this many normalised characters
    prefilter: float = 0.6  # pairs sharing less than prefilter * threshold of either side's fingerprints are not compared


@dataclass
class Document:
    owner: str  # a student id, REFERENCE, or EARLIER + an id
    text: str  # as written
    fingerprint: object  # copydetect.CodeFingerprint
    shown: str  # the text the slices index (the code itself; a written answer's normalised words map back by `positions`)
    positions: list[int] | None = None  # normalised index -> index in `text` (written answers)


@dataclass
class Pair:
    """Two texts of one step whose fingerprints match: `match_a` of a's text and `match_b` of b's."""

    step: str
    a: str
    b: str
    match_a: float
    match_b: float
    matched: int  # normalised characters of a in the match
    document_a: Document = field(repr=False)
    document_b: Document = field(repr=False)

    @property
    def figure(self) -> float:
        """The pair's match figure: the larger share (a copy padded with code of one's own still shows)."""
        return max(self.match_a, self.match_b)

    @property
    def text_a(self) -> str:
        return self.document_a.text

    @property
    def text_b(self) -> str:
        return self.document_b.text

    def marked(self) -> tuple[str, str]:
        """Both texts as HTML, escaped, the matching parts in <mark> (compared again: only the pairs a page shows)."""
        from copydetect import compare_files

        with stable_hashes():
            _, _, (slices_a, slices_b) = compare_files(self.document_a.fingerprint, self.document_b.fingerprint)
        return _marked(self.document_a, slices_a), _marked(self.document_b, slices_b)


@dataclass
class StepSimilarity:
    step: str
    kind: str  # "code" | "markdown"
    documents: int  # texts compared (students with more than the given text, the reference, earlier terms)
    compared: int  # comparisons made with copydetect (one per pair of distinct normalised texts that may match)
    pairs: list[Pair] = field(default_factory=list)  # flagged, highest figure first


def find_similar(graded, against: Path | None = None, settings: Settings = Settings()) -> list[StepSimilarity]:
    """Flagged pairs of each solution cell of a `GradedClass`, in the assignment's order."""
    earlier = read_earlier(against) if against else {}
    results = []
    for step, kind in graded.solution_kinds.items():
        results.append(_step(graded, step, kind, earlier, settings))
    return results


def _step(graded, step: str, kind: str, earlier: dict, settings: Settings) -> StepSimilarity:
    """One step's texts: each student's, the reference's, each earlier term's; compared."""
    texts = {s.student: (s.answers if kind == "markdown" else s.code).get(step) for s in graded.submissions.values()}
    texts = {owner: text for owner, text in texts.items() if text}
    reference = (graded.reference_answers if kind == "markdown" else graded.reference_code).get(step)
    if reference:
        texts[REFERENCE] = reference
    for owner, cells in earlier.items():
        if cells.get(step):
            texts[EARLIER + owner] = cells[step]
    return compare_step(step, kind, texts, graded.boilerplate.get(step, []), settings)


def compare_step(step: str, kind: str, texts: dict[str, str], boilerplate: list[str], settings: Settings) -> StepSimilarity:
    """The flagged pairs among `texts` (owner -> text) of one step. Pairs of two reference or earlier texts are
    not compared: only pairs with a current student."""
    with stable_hashes():
        return _compare_step(step, kind, texts, boilerplate, settings)


def _compare_step(step: str, kind: str, texts: dict[str, str], boilerplate: list[str], settings: Settings) -> StepSimilarity:
    """Texts that are the same after normalisation (a copy with other names, comments and layout is one) are compared
    once, through one of them; each pair of their owners then gets that comparison's figures."""
    from copydetect import compare_files

    given = set()
    for text in boilerplate:
        given |= _fingerprint(text, kind, settings).fingerprint.hashes
    given_hashes = list(given)
    alike: dict[str, list[Document]] = {}
    made: dict[str, Document] = {}  # text -> its document: a text handed in by many is fingerprinted once
    for owner, text in texts.items():
        if text not in made:
            made[text] = _fingerprint(text, kind, settings, given_hashes, owner)
        document = dataclasses.replace(made[text], owner=owner)
        if document.fingerprint.hashes:
            alike.setdefault(document.fingerprint.filtered_code, []).append(document)
    kinds = list(alike.values())
    result = StepSimilarity(step, kind, sum(map(len, kinds)), 0)

    def flag(group_a: list[Document], group_b: list[Document] | None, figures) -> None:
        matched, (share_a, share_b), _ = figures
        if matched < settings.min_match or max(share_a, share_b) < settings.threshold:
            return
        pairs = itertools.combinations(group_a, 2) if group_b is None else itertools.product(group_a, group_b)
        for a, b in pairs:
            if not (_archived(a.owner) and _archived(b.owner)):
                result.pairs.append(_pair(step, a, b, float(share_a), float(share_b), int(matched)))

    for group in kinds:
        if len(group) > 1:
            result.compared += 1
            flag(group, None, compare_files(group[0].fingerprint, group[0].fingerprint))
    for i, j in _candidates([group[0] for group in kinds], settings):
        if all(_archived(d.owner) for d in kinds[i] + kinds[j]):
            continue
        result.compared += 1
        flag(kinds[i], kinds[j], compare_files(kinds[i][0].fingerprint, kinds[j][0].fingerprint))
    result.pairs.sort(key=lambda p: (-p.figure, p.a, p.b))
    return result


def _archived(owner: str) -> bool:
    return owner == REFERENCE or owner.startswith(EARLIER)


def _pair(step: str, a: Document, b: Document, share_a: float, share_b: float, matched: int) -> Pair:
    """The pair with the student first and the reference or an earlier term second; two students in name order."""
    if _archived(a.owner) or (not _archived(b.owner) and b.owner < a.owner):
        a, b, share_a, share_b = b, a, share_b, share_a
    return Pair(step, a.owner, b.owner, share_a, share_b, matched, a, b)


def _candidates(documents: list[Document], settings: Settings) -> list[tuple[int, int]]:
    """Pairs (i < j) sharing at least `prefilter * threshold` of either one's fingerprints: one sparse product."""
    from scipy import sparse

    if len(documents) < 2:
        return []
    columns: dict[int, int] = {}
    rows, cols = [], []
    for row, document in enumerate(documents):
        for value in document.fingerprint.hashes:
            rows.append(row)
            cols.append(columns.setdefault(value, len(columns)))
    matrix = sparse.csr_matrix((np.ones(len(rows), dtype=np.int32), (rows, cols)), shape=(len(documents), len(columns)))
    shared = sparse.triu(matrix @ matrix.T, k=1).tocoo()
    sizes = np.array([len(d.fingerprint.hashes) for d in documents])
    enough = settings.prefilter * settings.threshold
    keep = (shared.data >= enough * sizes[shared.row]) | (shared.data >= enough * sizes[shared.col])
    return sorted(zip(shared.row[keep].tolist(), shared.col[keep].tolist()))


# -- fingerprints -------------------------------------------------------------------------------------
@contextlib.contextmanager
def stable_hashes():
    """copydetect hashes each k-gram with Python's `hash`, which is salted anew in every process: the same class
    would give slightly other fingerprints, so other figures, on every run. Meanwhile its k-grams are hashed by
    their bytes (8 bytes of BLAKE2b), the same in every run; the winnowing and all the rest stay copydetect's."""
    from copydetect import utils

    def hashed_kgrams(string: str, k: int) -> np.ndarray:
        return np.array(
            [int.from_bytes(blake2b(string[i: i + k].encode(), digest_size=8).digest(), "little", signed=True)
             for i in range(len(string) - k + 1)],
            dtype=np.int64,
        )

    original, utils.hashed_kgrams = utils.hashed_kgrams, hashed_kgrams
    try:
        yield
    finally:
        utils.hashed_kgrams = original


def _fingerprint(text: str, kind: str, settings: Settings, boilerplate: list | None = None, owner: str = "") -> Document:
    from copydetect import CodeFingerprint

    window = settings.guarantee - settings.noise + 1
    if kind == "markdown":
        words, positions = prose(text)
        fingerprint = CodeFingerprint("answer.txt", settings.noise, window, boilerplate, filter=False, fp=io.StringIO(words))
        return Document(owner, text, fingerprint, words, positions)
    fingerprint = CodeFingerprint("cell.py", settings.noise, window, boilerplate, fp=io.StringIO(text))
    return Document(owner, text, fingerprint, text)


def prose(text: str) -> tuple[str, list[int]]:
    """A written answer's words, lowercased, one space apart (no punctuation, markup or line breaks), and the index
    in `text` of each of their characters."""
    words, positions, space = [], [], False
    for index, char in enumerate(text):
        if char.isalnum():
            if space and words:
                words.append(" ")
                positions.append(index)
            words.append(char.lower())
            positions.append(index)
            space = False
        else:
            space = True
    return "".join(words), positions


def _marked(document: Document, slices) -> str:
    """The document's text as HTML, each matching part in <mark>."""
    from copydetect.utils import highlight_overlap

    slices = np.asarray(slices)
    if slices.size == 0:
        return _escape(document.text)
    if document.positions is not None:  # normalised words -> the answer as written
        where = np.asarray(document.positions)
        starts = where[np.clip(slices[0], 0, len(where) - 1)]
        ends = where[np.clip(slices[1] - 1, 0, len(where) - 1)] + 1
        slices = np.array([starts, ends])
    marked, _ = highlight_overlap(document.text, slices, "<mark>", "</mark>", escape_html=True)
    return marked


def _escape(text: str) -> str:
    import html

    return html.escape(text)


# -- earlier terms ----------------------------------------------------------------------------------------
def read_earlier(folder: Path) -> dict[str, dict[str, str]]:
    """Earlier terms' submissions: every notebook under `folder` (any depth), as {id: {grade id: solution text}}.
    The id is the notebook's folder relative to `folder` (``2024/ada/torch_pipeline``), or its name at the top."""
    from graders.review.gather import _load, _nbgrader, _text

    found = {}
    for path in sorted(Path(folder).rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        notebook = _load(path)
        if notebook is None:
            continue
        cells = {
            meta["grade_id"]: _text(cell.get("source", ""))
            for cell in notebook.get("cells", [])
            if (meta := _nbgrader(cell)).get("solution") and meta.get("grade_id")
        }
        relative = path.parent.relative_to(folder)
        owner = str(relative) if str(relative) != "." else path.stem
        if owner in found:
            owner = str(path.relative_to(folder))
        found[owner] = cells
    return found


# -- the spreadsheet ----------------------------------------------------------------------------------------
CSV_COLUMNS = ("student_a", "student_b", "step", "match", "match_a", "match_b", "matched_characters")


def write_csv(results: list[StepSimilarity], path: Path) -> int:
    """One row per flagged pair and step; returns the number of rows."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(CSV_COLUMNS)
        for step in results:
            for pair in step.pairs:
                writer.writerow([pair.a, pair.b, pair.step, f"{pair.figure:.3f}", f"{pair.match_a:.3f}", f"{pair.match_b:.3f}",
                                 pair.matched])
                rows += 1
    return rows
