"""Word error rate: normalization and hand-computed alignments."""

import pytest

from vsbench.wer import WerResult, corpus_wer, normalize, wer


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("The Cat  sat.", ["the", "cat", "sat"]),
        ("Don't stop!", ["don't", "stop"]),
        ("It\u2019s fine", ["it's", "fine"]),  # typographic apostrophe folded
        ("'quoted' dogs' toys", ["quoted", "dogs", "toys"]),  # edge apostrophes dropped
        ("well-known and/or", ["well", "known", "and", "or"]),
        ("U.S. costs $5, (really)?", ["us", "costs", "5", "really"]),
        ("  tabs\tand\nnewlines  ", ["tabs", "and", "newlines"]),
        ("", []),
        ("?! ...", []),
    ],
)
def test_normalize(text, words):
    assert normalize(text) == words


def test_identical_texts_have_zero_wer():
    r = wer("The cat sat on the mat.", "the cat sat on the mat")
    assert r == WerResult(0.0, 0, 0, 0, 6)
    assert r.errors == 0 and r.hits == 6


def test_one_substitution():
    # cat -> dog: 1 error over 3 reference words
    r = wer("the cat sat", "the dog sat")
    assert (r.substitutions, r.deletions, r.insertions, r.ref_words) == (1, 0, 0, 3)
    assert r.wer == pytest.approx(1 / 3)


def test_deletion_and_substitution():
    # ref:  the cat sat on the mat
    # hyp:  the cat sit on  *  mat   -> sat/sit substituted, "the" deleted
    r = wer("the cat sat on the mat", "the cat sit on mat")
    assert (r.substitutions, r.deletions, r.insertions) == (1, 1, 0)
    assert r.wer == pytest.approx(2 / 6)
    assert r.hits == 4


def test_insertions_can_push_wer_above_one():
    # ref: a          hyp: x a y z  -> 3 insertions over 1 word
    r = wer("a", "x a y z")
    assert (r.substitutions, r.deletions, r.insertions) == (0, 0, 3)
    assert r.wer == pytest.approx(3.0)


def test_all_deleted():
    r = wer("one two three", "")
    assert (r.substitutions, r.deletions, r.insertions, r.wer) == (0, 3, 0, 1.0)


def test_mixed_alignment_hand_computed():
    # ref: I  like   green eggs and ham
    # hyp: I  liked  green  *   and ham too
    # 1 substitution (like/liked), 1 deletion (eggs), 1 insertion (too): 3/6; aligning
    # word by word instead would cost 4 (liked, and, ham, too all substituted).
    r = wer("I like green eggs and ham", "i liked green and ham too")
    assert (r.substitutions, r.deletions, r.insertions) == (1, 1, 1)
    assert r.wer == pytest.approx(0.5)


def test_shifted_words_prefer_fewest_edits():
    # "b c d" vs "a b c": dropping "d" and inserting "a" costs 2, fewer than 3 substitutions
    r = wer("b c d", "a b c")
    assert r.errors == 2
    assert (r.deletions, r.insertions) == (1, 1)


def test_tie_breaks_toward_substitution():
    # One word against another: a substitution, not a deletion plus an insertion.
    assert wer("yes", "no") == WerResult(1.0, 1, 0, 0, 1)


def test_punctuation_and_case_do_not_count():
    assert wer("Hello, World!", "hello world").wer == 0.0


def test_empty_reference_convention():
    assert wer("", "") == WerResult(0.0, 0, 0, 0, 0)
    r = wer("", "two words")
    assert (r.wer, r.insertions, r.ref_words) == (1.0, 2, 0)
    assert wer("...", "").wer == 0.0  # a reference of only punctuation is empty too


def test_corpus_wer_sums_errors_over_reference_words():
    pairs = [
        ("the cat sat", "the dog sat"),  # 1 sub / 3
        ("a b c d e f g", "a b c d e f g"),  # 0 / 7
        ("", "noise"),  # 1 ins / 0
    ]
    r = corpus_wer(pairs)
    assert (r.substitutions, r.deletions, r.insertions, r.ref_words) == (1, 0, 1, 10)
    assert r.wer == pytest.approx(2 / 10)  # not the mean of per-pair rates


def test_corpus_wer_empty():
    assert corpus_wer([]) == WerResult(0.0, 0, 0, 0, 0)
    assert corpus_wer([("", "x")]).wer == 1.0


def test_long_texts_are_fast_enough():
    ref = " ".join(f"w{i % 50}" for i in range(1000))
    hyp = " ".join(f"w{i % 50}" if i % 10 else "oops" for i in range(1000))
    r = wer(ref, hyp)
    assert r.substitutions == 100 and r.wer == pytest.approx(0.1)
