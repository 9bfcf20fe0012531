from functions.search.matching import search, terms


def _clip(i, transcript="", labels=()):
    return {"index": i, "transcript": transcript,
            "frames": [{"time_s": 0.0, "detections": [{"label": lab, "score": s}
                                                      for lab, s in labels]}]}


CLIPS = [
    _clip(0, "a man with a camera on the street", [("person", 0.9)]),
    _clip(1, "the cat is sleeping", [("cat", 0.8)]),
    _clip(2, "", [("motorbike", 0.88)]),
    _clip(3, "two cups of coffee", [("cup", 0.7), ("diningtable", 0.6)]),
]


def test_terms_drop_stop_words():
    assert terms("Find the cat on a SOFA!") == ["cat", "sofa"]


def test_label_synonym_motorcycle_finds_motorbike():
    matches = search(CLIPS, "motorcycle")
    assert [m.clip for m in matches] == [2]
    assert matches[0].why == ["label: motorbike (0.88)"]


def test_transcript_and_label_both_reported():
    m = search(CLIPS, "cat")[0]
    assert m.clip == 1 and m.score == 1.0
    assert m.why == ["transcript: cat", "label: cat (0.80)"]


def test_plural_and_ranking_by_fraction_of_terms():
    matches = search(CLIPS, "cups on a table")
    assert matches[0].clip == 3 and matches[0].score == 1.0


def test_partial_matches_rank_below_full():
    matches = search(CLIPS, "cat camera")
    assert {m.clip for m in matches} == {0, 1}
    assert all(m.score == 0.5 for m in matches)


def test_no_match_and_empty_query():
    assert search(CLIPS, "giraffe") == []
    assert search(CLIPS, "the a of") == []
