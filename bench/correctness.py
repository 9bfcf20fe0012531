"""Correctness on fresh narration: clip boundaries, last words and WER, per part/voice/speed.

Renders the corpus presets ``tuning`` and ``heldout`` (data/corpus.yaml: sentences written
for this, never reworded after recognition) in every voice x speed x delivery style asked
for, runs each video through VideoSearcher's real stages in this process (the orchestrator's
own ``run_request`` with a client that calls each handler directly, as tests/test_stages.py
does; storage is a loopback S3 server), scores every request with :mod:`vsbench.correctness`
and prints the distributions. Tune on ``tuning`` only; report ``heldout``.

Styles: ``natural`` is the presets' own delivery (levels vary over 10 dB, voices fade 20 dB
over a sentence's last 0.5 s); ``plain`` is espeak as it is; ``soft`` fades 30 dB over the
last 0.8 s (a stress case: the truth's last samples lie under the noise floor). Segmenters
(``--edges``): ``energy`` (the librosa stage's default) and ``split`` (its former edges: the
"before"), and ``oracle`` (the truth's spans +-0.3 s stand in for librosa's: what the ASR
hears when nothing is cut). Styles in ``--full`` run every audio stage (last word, WER); the
others only ffmpeg-0 and librosa (boundaries only: the clip times are the segment times).
ffmpeg-3 and the detector do not touch the audio and are stubbed unless ``--visual``.

    python bench/correctness.py [--parts tuning heldout] [--voices en-us en-gb-x-rp en-029]
        [--rates 125 165] [--styles natural plain soft] [--full natural]
        [--edges energy split oracle] [--visual] [--librosa '{"hangover_s": 0.1}']
        [--json rows.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PARTS = ["tuning", "heldout"]
VOICES = ["en-us", "en-gb-x-rp", "en-029"]
RATES = [125, 165]
STYLES = {"natural": {}, "plain": {"level_spread_db": 0.0, "trail_off_db": 0.0},
          "soft": {"trail_off_db": 30.0, "trail_off_s": 0.8}}


class InProcessClient:
    """The orchestrator's GatewayClient interface, calling each handler in this process."""

    def __init__(self, store, workdir: Path, stubs: dict[str, dict] | None = None):
        from functions.orchestrator.client import StageFailed

        self.store, self.workdir, self.records = store, workdir, []
        self.stubs = stubs or {}  # function -> canned outputs (stages not measured here)
        self._failed = StageFailed
        self._modules: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._n = 0

    def _module(self, function: str):
        from functions.registry import load_handler

        with self._lock:
            if function not in self._modules:
                mod = load_handler(function)
                if hasattr(mod, "init"):
                    mod.init({})
                self._modules[function] = mod
            self._n += 1
            return self._modules[function], self._n

    def call(self, function: str, envelope: dict, clip: int | None = None) -> dict:
        from functions.runtime.context import InvocationContext
        from functions.runtime.envelope import Envelope
        from functions.runtime.telemetry import InvocationMeter

        if function in self.stubs:
            return self.stubs[function]
        mod, n = self._module(function)
        work = self.workdir / f"{n:05d}-{function}"
        work.mkdir(parents=True)
        env = Envelope(envelope["request_id"], function, envelope["inputs"], envelope["config"])
        ctx = InvocationContext(env, function, self.store, work, InvocationMeter(), "bench")
        try:
            return mod.handle(ctx)
        except Exception as exc:
            raise self._failed(function, 500, f"{type(exc).__name__}: {exc}", "bench") from exc


def run_video(store, video: Path, config: dict, workdir: Path, full: bool = True,
              visual: bool = False, oracle: list[dict] | None = None) -> dict:
    """One request through the real stages; the orchestrator's result document. Not
    ``full``: ffmpeg-0 and librosa only, the segments as clips without transcripts. Not
    ``visual``: ffmpeg-3 and the detector answer "no frames" (they do not touch audio).
    ``oracle``: these segments stand in for librosa's."""
    from functions.orchestrator.pipeline import RequestState, run_request
    from functions.runtime.claimcheck import artifact_key

    rid = f"bench-{video.stem}-{len(list(workdir.glob('*'))) if workdir.exists() else 0}"
    uri = store.put_file(video, f"uploads/{rid}/{video.name}")
    stubs = {} if visual else {"ffmpeg-3": {"frames": None, "index": []},
                               "object-detector": {"frames": []}}
    if oracle is not None:
        stubs["librosa"] = {"segments": oracle, "count": len(oracle)}
    client = InProcessClient(store, workdir / rid, stubs)
    if not full:
        env = {"request_id": rid, "inputs": {}, "config": config["stages"]["librosa"]}
        split = client.call("ffmpeg-0", {**env, "inputs": {"video": uri}, "config": {}})
        seg = client.call("librosa", {**env, "inputs": {"audio": split["audio"]}})
        return {"clips": [{**c, "transcript": None} for c in store.get_json(seg["segments"])]}
    state = RequestState(rid, lambda doc: None)
    return run_request(client, rid, uri, config, state,
                       lambda obj, name: store.put_json(obj, artifact_key(rid, "bench", name)))


def pct(xs: list[float], q: float) -> float:
    """Percentile by linear interpolation (NaN for no data)."""
    xs = sorted(x for x in xs if not math.isnan(x))
    if not xs:
        return math.nan
    k = (len(xs) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def summarize(rows: list[dict]) -> dict[str, float]:
    """Distribution of one group of clip rows (score_clips rows + part/voice/rate)."""
    from vsbench.wer import corpus_wer

    matched = [r for r in rows if r["clip_index"] is not None]
    s = [r["start_err_s"] for r in matched]
    e = [r["end_err_s"] for r in matched]
    out = {"n": len(rows), "matched": len(matched)}
    for name, xs in (("start", s), ("end", e)):
        for q in (0, 5, 50, 95, 100):
            out[f"{name}_p{q}"] = pct(xs, q)
    out["ok"] = sum(bool(r["boundary_ok"]) for r in matched) / max(1, len(matched))
    out["covered"] = sum(x >= 0 for x in e) / max(1, len(matched))
    heard = [r for r in matched if r["full"]]
    out["last_word"] = (sum(bool(r["last_word_present"]) for r in heard) / len(heard)
                        if heard else math.nan)
    full = [r for r in rows if r["full"]]
    out["wer"] = (corpus_wer((r["ref_text"], r["transcript"]) for r in full).wer
                  if full else math.nan)
    return out


def print_table(rows: list[dict], keys: list[str]) -> None:
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in keys), []).append(r)
        if len(keys) > 2:
            groups.setdefault(tuple(r[k] for k in keys[:2]) + ("all",) * (len(keys) - 2),
                              []).append(r)
    head = (f"{'/'.join(keys):<34}{'n':>4}{'mat':>4}  {'start p0/p5/p50/p95/p100 (s)':<32}"
            f"{'end p0/p5/p50/p95/p100 (s)':<32}{'ok0.2':>6}{'cov':>6}{'last':>6}{'WER':>6}")
    print(head)
    for key in sorted(groups, key=lambda k: tuple(str(x) for x in k)):
        s = summarize(groups[key])
        dist = {n: "/".join(f"{s[f'{n}_p{q}']:+.2f}" for q in (0, 5, 50, 95, 100))
                for n in ("start", "end")}
        print(f"{' '.join(str(k) for k in key):<34}{s['n']:>4}{s['matched']:>4}  "
              f"{dist['start']:<32}{dist['end']:<32}{s['ok']:>6.2f}{s['covered']:>6.2f}"
              f"{s['last_word']:>6.2f}{s['wer']:>6.2f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", nargs="+", default=PARTS)
    ap.add_argument("--voices", nargs="+", default=VOICES)
    ap.add_argument("--rates", nargs="+", type=int, default=RATES)
    ap.add_argument("--styles", nargs="+", default=list(STYLES), choices=list(STYLES))
    ap.add_argument("--full", nargs="*", default=["natural"], choices=list(STYLES),
                    help="styles that run every stage (the rest: boundaries only)")
    ap.add_argument("--edges", nargs="+", default=["energy", "split"],
                    choices=["energy", "split", "oracle"],
                    help="oracle: the truth's speech spans +-0.3 s instead of librosa's")
    ap.add_argument("--visual", action="store_true",
                    help="run ffmpeg-3 and the detector too (default: stubbed, no frames)")
    ap.add_argument("--librosa", default="{}", help="JSON config for the librosa stage")
    ap.add_argument("--query", default="cat")
    ap.add_argument("--corpus", type=Path, help="where to keep the videos (default: temp)")
    ap.add_argument("--json", type=Path, help="write every clip row here")
    args = ap.parse_args()

    from vsbench.paths import numba_cache_dir

    os.environ.setdefault("NUMBA_CACHE_DIR", str(numba_cache_dir()))
    from functions.runtime.claimcheck import ClaimCheckStore
    from vsbench.corpus import generate_video, load_truth, preset_spec
    from vsbench.correctness import score_clips, score_request
    from vsbench.platform.s3server import S3Server

    librosa_cfg = json.loads(args.librosa)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="vsb-correctness-") as td:
        tmp = Path(td)
        corpus = args.corpus or tmp / "corpus"
        with S3Server(tmp / "s3") as s3:
            store = ClaimCheckStore(s3.settings())
            store.ensure_bucket()
            grid = [(p, st, v, r) for p in args.parts for st in args.styles
                    for v in args.voices for r in args.rates]
            for part, style, voice, rate in grid:
                spec = dataclasses.replace(preset_spec(part), voice=voice, rate_wpm=rate,
                                           name=f"{part}-{style}-{voice}-{rate}",
                                           **STYLES[style])
                video = generate_video(spec, corpus, reuse=True)
                truth = load_truth(video)
                full = style in args.full
                for edges in args.edges:
                    if edges == "oracle" and not full:
                        continue  # the oracle's spans are known: only its transcripts tell
                    config = {"query": args.query, "max_parallel_clips": 4,
                              "stages": {"librosa": {**librosa_cfg, "edges": edges}}}
                    oracle = None
                    if edges == "oracle":
                        oracle = [{"index": i, "start_s": round(sp["start_s"] - 0.3, 3),
                                   "end_s": round(sp["end_s"] + 0.3, 3)}
                                  for i, sp in enumerate(
                                      sc["speech"] for sc in truth["scenes"] if sc["speech"])]
                    result = run_video(store, video, config, tmp / "work", full, args.visual,
                                       oracle)
                    req = score_request(result, truth)
                    heard = (f", last word {req['last_word_present_fraction']:.2f}, WER "
                             f"{req['wer']:.2f}") if full else ""
                    print(f"{spec.name} {edges}: clips {req['clips_matched']}/"
                          f"{req['clips_expected']} (found {req['clips_found']}), max |err| "
                          f"{req['boundary_max_abs_s']:.2f} s{heard}", file=sys.stderr)
                    for r in score_clips(result, truth):
                        rows.append({"part": part, "edges": edges, "style": style,
                                     "voice": voice, "rate": rate, "full": full, **r})
    print(f"\nlibrosa config: {json.dumps(librosa_cfg)} (+ edges)")
    print("errors are clip - speech, in s: start > 0 cuts the start, end < 0 cuts the end; "
          "ok0.2: both ends within 0.2 s; cov: end >= speech end; last: last word in the "
          "transcript's last two (full styles only); WER: corpus WER (full styles only)")
    for keys in (["part", "edges"], ["part", "edges", "style"],
                 ["part", "edges", "style", "voice"], ["part", "edges", "style", "rate"]):
        print()
        print_table(rows, keys)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
