"""Word error rate (WER) between a reference text and an ASR hypothesis.

WER = (substitutions + deletions + insertions) / reference words, from a word-level
Levenshtein alignment. Both texts go through :func:`normalize` first, so case and
punctuation never count as errors.

Empty reference: there is nothing to divide by, so by convention WER is 0.0 when the
hypothesis is empty too and 1.0 otherwise (every hypothesis word is an insertion, and
insertions are still counted in the result's ``insertions``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["WerResult", "normalize", "wer", "corpus_wer"]

# Punctuation that joins two words ("well-known", "and/or"): becomes a space so that the
# two words stay two words instead of fusing into one.
_SEPARATORS = frozenset("-/\u2010\u2011\u2012\u2013\u2014\u2015\u2212")
# Typographic apostrophes folded into the ASCII one before the apostrophe rule.
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})
# An apostrophe stays only between two letters/digits ("don't", "o'clock", "90's").
_INNER_APOSTROPHE = re.compile(r"(?<=\w)'(?=\w)")


@dataclass(frozen=True)
class WerResult:
    """Alignment counts and the rate they give (see the module docstring for empty refs)."""

    wer: float
    substitutions: int
    deletions: int
    insertions: int
    ref_words: int

    @property
    def errors(self) -> int:
        """Substitutions + deletions + insertions (the edit distance in words)."""
        return self.substitutions + self.deletions + self.insertions

    @property
    def hits(self) -> int:
        """Reference words that the hypothesis got right."""
        return self.ref_words - self.substitutions - self.deletions


def _drop(ch: str) -> bool:
    # Punctuation (P*), symbols (S*: "$", "%", "+", ...) and control/format characters (C*)
    # are stripped; whitespace (some of which is C*) is handled before this is asked.
    return unicodedata.category(ch)[0] in ("P", "S", "C")


def normalize(text: str) -> list[str]:
    """Split ``text`` into comparable words.

    Lowercases; folds typographic apostrophes to ``'`` and keeps an apostrophe only inside
    a word (``"Don't"`` -> ``don't``, ``"'quoted'"`` -> ``quoted``); turns hyphens, dashes
    and slashes into spaces (``well-known`` -> ``well known``); deletes all other
    punctuation and symbols (``"U.S."`` -> ``us``, ``"$5"`` -> ``5``); splits on any
    whitespace, so runs of it collapse.
    """
    text = unicodedata.normalize("NFKC", text).lower().translate(_APOSTROPHES)
    inner = {m.start() for m in _INNER_APOSTROPHE.finditer(text)}
    out = []
    for i, ch in enumerate(text):
        if ch.isspace() or ch in _SEPARATORS:
            out.append(" ")
        elif i in inner or not _drop(ch):
            out.append(ch)
    return "".join(out).split()


# Backtrace moves, stored per cell.
_MATCH, _SUB, _DEL, _INS = 0, 1, 2, 3


def _align(ref: list[str], hyp: list[str]) -> tuple[int, int, int]:
    """Return (substitutions, deletions, insertions) of a minimal word alignment.

    Ties between equally cheap paths are broken toward diagonal moves (match or
    substitution), then deletions, then insertions, so the breakdown is deterministic.
    """
    n, m = len(ref), len(hyp)
    # cost rows are rolled; the move table is kept whole for the backtrace.
    prev = list(range(m + 1))
    moves = [bytearray([_INS]) * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        cur = [i] + [0] * m
        row = moves[i]
        row[0] = _DEL
        r = ref[i - 1]
        for j in range(1, m + 1):
            same = r == hyp[j - 1]
            best, move = prev[j - 1] + (0 if same else 1), (_MATCH if same else _SUB)
            if prev[j] + 1 < best:
                best, move = prev[j] + 1, _DEL
            if cur[j - 1] + 1 < best:
                best, move = cur[j - 1] + 1, _INS
            cur[j] = best
            row[j] = move
        prev = cur

    subs = dels = ins = 0
    i, j = n, m
    while i > 0 or j > 0:
        move = moves[i][j] if i > 0 else _INS
        if move in (_MATCH, _SUB):
            subs += move == _SUB
            i, j = i - 1, j - 1
        elif move == _DEL:
            dels += 1
            i -= 1
        else:
            ins += 1
            j -= 1
    return subs, dels, ins


def _rate(errors: int, ref_words: int) -> float:
    if ref_words == 0:
        return 0.0 if errors == 0 else 1.0  # convention for an empty reference
    return errors / ref_words


def wer(reference: str, hypothesis: str) -> WerResult:
    """Word error rate of ``hypothesis`` against ``reference`` (both normalized first).

    Can exceed 1.0 when the hypothesis has many insertions. An empty reference gives 0.0
    for an empty hypothesis and 1.0 otherwise.
    """
    ref, hyp = normalize(reference), normalize(hypothesis)
    subs, dels, ins = _align(ref, hyp)
    return WerResult(_rate(subs + dels + ins, len(ref)), subs, dels, ins, len(ref))


def corpus_wer(pairs: Iterable[tuple[str, str]]) -> WerResult:
    """Corpus-level WER over ``(reference, hypothesis)`` pairs.

    Errors and reference words are summed over all pairs before dividing, so long
    utterances weigh more than short ones (unlike an average of per-pair WERs).
    """
    subs = dels = ins = ref_words = 0
    for reference, hypothesis in pairs:
        r = wer(reference, hypothesis)
        subs, dels, ins = subs + r.substitutions, dels + r.deletions, ins + r.insertions
        ref_words += r.ref_words
    return WerResult(_rate(subs + dels + ins, ref_words), subs, dels, ins, ref_words)
