"""VideoSearcher's "grep": which clips match a query, from transcript words and object labels.

Each query term (after lower-casing, dropping stop words and a plural "s") matches a clip
when the term, or a synonym of it, is a word of the clip's transcript or (a word of) one of
its detected labels. A clip's score is the fraction of query terms it matches; ties go to the
clip whose matching labels were detected more confidently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

STOP_WORDS = frozenset(
    "a an and are as at be by find for from in is it of on or show me the this to with where "
    "which who clip clips video videos".split()
)

# Both directions are looked up; COCO's darknet names (motorbike, sofa, tvmonitor...) included.
SYNONYMS: dict[str, set[str]] = {
    "motorcycle": {"motorbike"},
    "motorbike": {"motorcycle"},
    "bike": {"bicycle", "motorbike"},
    "sofa": {"couch"},
    "couch": {"sofa"},
    "tv": {"tvmonitor", "television", "monitor"},
    "television": {"tvmonitor", "tv"},
    "tvmonitor": {"tv", "television"},
    "plane": {"aeroplane", "airplane"},
    "airplane": {"aeroplane", "plane"},
    "aeroplane": {"airplane", "plane"},
    "kitten": {"cat"},
    "kitty": {"cat"},
    "puppy": {"dog"},
    "man": {"person"},
    "woman": {"person"},
    "people": {"person"},
    "astronaut": {"person"},
    "mug": {"cup"},
    "table": {"diningtable"},
    "plant": {"pottedplant"},
    "phone": {"cell"},
}

_WORD = re.compile(r"[a-z0-9']+")


def terms(text: str) -> list[str]:
    """Normalised content words of a text."""
    out = []
    for word in _WORD.findall(text.lower()):
        word = word.strip("'")
        if not word or word in STOP_WORDS:
            continue
        out.append(word)
    return out


def _variants(term: str) -> set[str]:
    forms = {term}
    if len(term) > 3 and term.endswith("s") and not term.endswith("ss"):
        forms.add(term[:-1])
    for form in list(forms):
        forms |= SYNONYMS.get(form, set())
    return forms


def _label_words(label: str) -> set[str]:
    return {label.lower(), *label.lower().split()}


@dataclass
class Match:
    clip: int
    score: float
    why: list[str] = field(default_factory=list)
    confidence: float = 0.0

    def to_dict(self) -> dict:
        return {"clip": self.clip, "score": round(self.score, 3), "why": self.why}


def search(clips: list[dict], query: str) -> list[Match]:
    """Rank ``clips`` (each with ``index``, ``transcript``, ``frames[].detections[]``)."""
    query_terms = list(dict.fromkeys(terms(query)))
    if not query_terms:
        return []
    matches = []
    for clip in clips:
        words = set()
        for w in terms(clip.get("transcript") or ""):
            words |= {w, w[:-1] if w.endswith("s") and len(w) > 3 else w}
        labels: dict[str, float] = {}
        for frame in clip.get("frames", []):
            for det in frame.get("detections", []):
                for lw in _label_words(det["label"]):
                    labels[lw] = max(labels.get(lw, 0.0), float(det.get("score", 0.0)))
        hit_terms, why, conf = 0, [], 0.0
        for term in query_terms:
            forms = _variants(term)
            said = sorted(forms & words)
            seen = sorted(forms & labels.keys())
            if said or seen:
                hit_terms += 1
            if said:
                why.append(f"transcript: {said[0]}")
            if seen:
                best = max(seen, key=lambda lab: labels[lab])
                why.append(f"label: {best} ({labels[best]:.2f})")
                conf += labels[best]
        if hit_terms:
            matches.append(Match(clip=int(clip["index"]), score=hit_terms / len(query_terms),
                                 why=why, confidence=conf))
    matches.sort(key=lambda m: (-m.score, -m.confidence, m.clip))
    return matches
