"""Deterministic synthetic test videos with known ground truth.

A video is a sequence of scenes; each scene is a scikit-image bundled photo
shown as a still (letterboxed to a fixed frame size) with one narrated
sentence (espeak-ng via `vsbench.tts`) placed inside the scene's time span:

    |<- pre_speech_s ->|<- speech ->|<- post_speech_s (+ frame rounding) ->|

Natural delivery (optional, off by default): espeak speaks every sentence at one level and
stops abruptly, unlike a person. ``level_spread_db`` lowers each sentence's level by a seeded
draw in [0, spread] dB (speakers get louder and softer between sentences);
``trail_off_db``/``trail_off_s`` let the voice fade over the sentence's last seconds (to
-trail_off_db at its last sample), as voices trail off at the end of a sentence. The truth's
speech span is taken before the trail-off: the last word is still said, only softer.

Scene boundaries fall on frame boundaries, so truth times are exact. Next to
`<name>.mp4` (H.264 + AAC, faststart) we write `<name>.truth.json`
(schema in `TRUTH_SCHEMA` / `_truth()`). Same spec -> same bytes on a given
machine: TTS is flutter-free, noise is seeded, and ffmpeg runs bitexact with
one thread.
"""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
import subprocess
import tempfile
import wave
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import yaml

from functions.runtime.mediainfo import ffmpeg_exe

__all__ = [
    "SceneSpec", "VideoSpec", "DEFAULT_CONFIG", "TRUTH_SCHEMA", "load_presets", "preset_spec",
    "generate_video", "generate_preset", "build_corpus", "load_truth", "write_bad_inputs",
]

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "data" / "corpus.yaml"
TRUTH_SCHEMA = "vsbench.corpus.truth/1"
# Bump when output for an unchanged spec changes; part of spec_hash (reuse check).
GENERATOR_VERSION = 1
_TRIM_DB = -40.0      # speech boundary: first/last sample within 40 dB of the peak
_SPEECH_PEAK = 0.5    # every sentence normalised to -6 dBFS peak: AAC headroom


@dataclass(frozen=True)
class SceneSpec:
    """One still scene: a skimage photo, expected COCO labels, optional narration."""

    name: str
    loader: str                   # function name in skimage.data
    index: int | None = None      # pick element `index` if the loader returns a tuple
    labels: tuple[str, ...] = ()  # expected detector labels; () = expect none
    text: str | None = None       # narration sentence; None = silent scene


@dataclass(frozen=True)
class VideoSpec:
    """Everything that determines a generated video (and so its truth)."""

    name: str
    scenes: tuple[SceneSpec, ...]
    width: int = 640
    height: int = 480
    fps: int = 10
    audio: bool = True             # False: no audio stream at all
    sample_rate: int = 16000
    voice: str = "en-us"
    rate_wpm: int = 145
    pre_speech_s: float = 1.0
    post_speech_s: float = 0.8
    min_scene_s: float = 3.0
    noise_dbfs: float | None = -55.0  # RMS of white-noise floor (see corpus.yaml); None = none
    seed: int = 0
    level_spread_db: float = 0.0   # natural delivery (module docstring); 0 = off
    trail_off_db: float = 0.0
    trail_off_s: float = 0.5

    def __post_init__(self) -> None:
        if self.width % 2 or self.height % 2:
            raise ValueError("width/height must be even for yuv420p")
        if not self.scenes:
            raise ValueError("a video needs at least one scene")

    def spec_hash(self) -> str:
        """Stable hash of the spec + generator version (used to reuse outputs)."""
        spec = asdict(self)
        for key in _NATURAL_DEFAULTS:  # left out at their defaults: older hashes still hold
            if spec[key] == _NATURAL_DEFAULTS[key]:
                del spec[key]
        blob = json.dumps([GENERATOR_VERSION, spec], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


_NATURAL_DEFAULTS = {"level_spread_db": 0.0, "trail_off_db": 0.0, "trail_off_s": 0.5}


# ---------------------------------------------------------------- config

def load_presets(config_path: Path | str = DEFAULT_CONFIG) -> dict[str, VideoSpec]:
    """Parse corpus.yaml into {preset name: VideoSpec}."""
    cfg = yaml.safe_load(Path(config_path).read_text(encoding="utf-8"))
    defaults = cfg.get("defaults", {})
    scenes = {
        name: SceneSpec(name=name, loader=s["loader"], index=s.get("index"),
                        labels=tuple(s.get("labels") or ()), text=s.get("text"))
        for name, s in cfg["scenes"].items()
    }
    specs = {}
    for pname, p in cfg["presets"].items():
        opts = {**defaults, **{k: v for k, v in p.items() if k != "scenes"}}
        chosen = tuple(scenes[s] for s in p["scenes"])
        specs[pname] = VideoSpec(name=pname, scenes=chosen, **opts)
    return specs


def preset_spec(name: str, config_path: Path | str = DEFAULT_CONFIG) -> VideoSpec:
    """The VideoSpec of one preset ("sample", "short", "silent", "noise")."""
    specs = load_presets(config_path)
    if name not in specs:
        raise KeyError(f"unknown corpus preset {name!r}; known: {sorted(specs)}")
    return specs[name]


# ---------------------------------------------------------------- pictures

@functools.lru_cache(maxsize=32)
def _scene_frame(loader: str, index: int | None, width: int, height: int) -> bytes:
    """RGB24 bytes of the photo letterboxed (aspect kept, black bars) to width x height."""
    import skimage.data
    from PIL import Image

    img = getattr(skimage.data, loader)()
    if index is not None:
        img = img[index]
    img = np.asarray(img)
    if img.ndim == 2:                      # camera is greyscale
        img = np.stack([img] * 3, axis=-1)
    img = img[..., :3].astype(np.uint8)
    h, w = img.shape[:2]
    scale = min(width / w, height / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    resized = Image.fromarray(img).resize((nw, nh), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (width, height))
    canvas.paste(resized, ((width - nw) // 2, (height - nh) // 2))
    return canvas.tobytes()


# ---------------------------------------------------------------- audio

def _speech(text: str, spec: VideoSpec, index: int = 0) -> np.ndarray:
    """Synthesized sentence at spec.sample_rate, trimmed to true speech, peak-normalised,
    then given scene ``index``'s natural-delivery level and trail-off (if the spec asks)."""
    from scipy.signal import resample_poly

    from vsbench.tts import synthesize

    pcm, rate = synthesize(text, voice=spec.voice, rate_wpm=spec.rate_wpm)
    y = pcm.astype(np.float64) / 32768.0
    if rate != spec.sample_rate:
        g = np.gcd(rate, spec.sample_rate)
        y = resample_poly(y, spec.sample_rate // g, rate // g)
    # Trim espeak's own lead-in/trailing pause so truth boundaries are speech boundaries.
    loud = np.flatnonzero(np.abs(y) >= np.abs(y).max() * 10 ** (_TRIM_DB / 20))
    if loud.size == 0:
        raise RuntimeError(f"TTS produced silence for {text!r}")
    y = y[loud[0]: loud[-1] + 1]
    y = y * (_SPEECH_PEAK / np.abs(y).max())
    if spec.trail_off_db:
        n = min(len(y), round(spec.trail_off_s * spec.sample_rate))
        y[len(y) - n:] *= 10 ** (-np.linspace(0.0, spec.trail_off_db, n) / 20)
    if spec.level_spread_db:
        rng = np.random.default_rng([spec.seed, index])  # per scene: order-independent
        y = y * 10 ** (-rng.uniform(0.0, spec.level_spread_db) / 20)
    return y


def _write_wav(path: Path, y: np.ndarray, sample_rate: int) -> None:
    pcm = np.clip(np.round(y * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as wf:
        wf.setnchannels(1)
        wf.setsampwidth(2)
        wf.setframerate(sample_rate)
        wf.writeframes(pcm.tobytes())


# ---------------------------------------------------------------- layout

def _layout(spec: VideoSpec) -> tuple[list[dict], np.ndarray | None, int]:
    """Scene/speech timeline in frames + samples. Returns (scenes, mix or None, n_frames)."""
    fps, sr = spec.fps, spec.sample_rate
    scenes, clips, frame = [], [], 0
    for i, sc in enumerate(spec.scenes):
        speech = None
        seconds = spec.min_scene_s
        if spec.audio and sc.text:
            y = _speech(sc.text, spec, i)
            seconds = spec.pre_speech_s + len(y) / sr + spec.post_speech_s
        n = int(np.ceil(round(seconds * fps, 6)))  # whole frames: exact scene times
        start_s = frame / fps
        if spec.audio and sc.text:
            s0 = round((start_s + spec.pre_speech_s) * sr)
            clips.append((s0, y))
            speech = {"start_s": s0 / sr, "end_s": (s0 + len(y)) / sr, "text": sc.text}
        scenes.append({
            "index": i, "name": sc.name, "start_s": start_s, "end_s": (frame + n) / fps,
            "start_frame": frame, "end_frame": frame + n, "labels": list(sc.labels),
            "speech": speech,
        })
        frame += n
    if not spec.audio:
        return scenes, None, frame
    mix = np.zeros(round(frame * sr / fps))  # audio exactly as long as the video
    if spec.noise_dbfs is not None:
        rng = np.random.default_rng(spec.seed)
        mix += rng.standard_normal(mix.size) * 10 ** (spec.noise_dbfs / 20)
    for s0, y in clips:
        mix[s0: s0 + len(y)] += y
    return scenes, mix, frame


def _truth(spec: VideoSpec, scenes: list[dict], n_frames: int, video_name: str) -> dict:
    """Ground-truth document. Times are seconds from the start of the video."""
    r6 = lambda x: round(float(x), 6)  # noqa: E731 - 1/16000 s needs 6 decimals
    for sc in scenes:
        sc["start_s"], sc["end_s"] = r6(sc["start_s"]), r6(sc["end_s"])
        if sc["speech"]:
            sc["speech"]["start_s"] = r6(sc["speech"]["start_s"])
            sc["speech"]["end_s"] = r6(sc["speech"]["end_s"])
    audio = None
    if spec.audio:
        audio = {"sample_rate": spec.sample_rate, "codec": "aac", "voice": spec.voice,
                 "rate_wpm": spec.rate_wpm, "noise_dbfs": spec.noise_dbfs,
                 "level_spread_db": spec.level_spread_db, "trail_off_db": spec.trail_off_db,
                 "trail_off_s": spec.trail_off_s}
    return {
        "schema": TRUTH_SCHEMA,
        "name": spec.name,
        "video": video_name,
        "spec_hash": spec.spec_hash(),
        "duration_s": r6(n_frames / spec.fps),
        "has_audio": spec.audio,
        "width": spec.width,
        "height": spec.height,
        "fps": spec.fps,
        "n_frames": n_frames,
        "audio": audio,
        "scenes": scenes,
    }


# ---------------------------------------------------------------- encoding

def _encode(spec: VideoSpec, scenes: list[dict], wav: Path | None, out: Path, tmp: Path) -> None:
    """Pipe raw RGB frames (and a wav file) through ffmpeg into an H.264/AAC MP4."""
    w, h, fps = spec.width, spec.height, spec.fps
    # Keyframes at scene starts so downstream clip cuts land on a scene's first frame.
    keys = ",".join(f"{sc['start_s']:.3f}" for sc in scenes)
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-v", "error",
           "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", str(fps), "-i", "pipe:0"]
    if wav is not None:
        cmd += ["-i", str(wav)]
    cmd += ["-map", "0:v:0", "-c:v", "libx264", "-preset", "veryfast", "-tune", "stillimage",
            "-crf", "23", "-pix_fmt", "yuv420p", "-g", str(fps * 2), "-force_key_frames", keys,
            "-threads", "1"]
    if wav is not None:
        cmd += ["-map", "1:a:0", "-c:a", "aac", "-b:a", "64k", "-ac", "1",
                "-ar", str(spec.sample_rate)]
    cmd += ["-map_metadata", "-1", "-fflags", "+bitexact", "-flags", "+bitexact",
            "-movflags", "+faststart", "-f", "mp4", str(out)]
    errlog = tmp / "ffmpeg.log"
    with open(errlog, "wb") as err:  # a file, not a pipe: a full stderr pipe would deadlock us
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err)
        try:
            for sc, sspec in zip(scenes, spec.scenes, strict=True):
                frame = _scene_frame(sspec.loader, sspec.index, w, h)
                for _ in range(sc["end_frame"] - sc["start_frame"]):
                    proc.stdin.write(frame)
            proc.stdin.close()
        except BrokenPipeError:
            pass  # ffmpeg died; its log says why
        rc = proc.wait()
    if rc != 0:
        log = errlog.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"ffmpeg failed ({rc}) for {out.name}: {log}")


def generate_video(spec: VideoSpec, out_dir: Path | str, reuse: bool = False) -> Path:
    """Write `<name>.mp4` and `<name>.truth.json` into out_dir; return the mp4 path.

    With reuse=True an existing pair whose truth carries the same spec_hash is
    kept as is (saves a few seconds when a corpus is rebuilt).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    mp4, truth_path = out_dir / f"{spec.name}.mp4", out_dir / f"{spec.name}.truth.json"
    if reuse and mp4.is_file() and truth_path.is_file():
        try:
            if load_truth(truth_path).get("spec_hash") == spec.spec_hash():
                return mp4
        except (ValueError, OSError):
            pass
    scenes, mix, n_frames = _layout(spec)
    with tempfile.TemporaryDirectory(prefix="vsbench-corpus-") as td:
        tmp = Path(td)
        wav = None
        if mix is not None:
            wav = tmp / "audio.wav"
            _write_wav(wav, mix, spec.sample_rate)
        part = tmp / mp4.name  # write elsewhere, then move: no half-written mp4 on failure
        _encode(spec, scenes, wav, part, tmp)
        truth = _truth(spec, scenes, n_frames, mp4.name)
        shutil.move(str(part), str(mp4))
    truth_path.write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    return mp4


def generate_preset(name: str, out_dir: Path | str, config_path: Path | str = DEFAULT_CONFIG,
                    reuse: bool = False) -> Path:
    """Generate one preset from corpus.yaml; return the mp4 path."""
    return generate_video(preset_spec(name, config_path), out_dir, reuse=reuse)


def cache_dir(config_path: Path | str = DEFAULT_CONFIG) -> Path:
    """Where experiments keep generated presets between runs:
    ``$VSB_HOME/corpus/<hash of this generator's code and the corpus config>``, so a change
    to either makes new videos (a spec's own hash does not cover the code that renders it)."""
    from .paths import vsb_home

    h = hashlib.sha256()
    for f in (Path(__file__), Path(__file__).with_name("tts.py"), Path(config_path)):
        h.update(f.read_bytes())
    return vsb_home() / "corpus" / h.hexdigest()[:12]


def build_corpus(out_dir: Path | str, config_path: Path | str = DEFAULT_CONFIG,
                 presets: list[str] | None = None, reuse: bool = False) -> list[Path]:
    """Generate every preset (or the named ones) from corpus.yaml; return mp4 paths."""
    specs = load_presets(config_path)
    names = presets if presets is not None else list(specs)
    missing = [n for n in names if n not in specs]
    if missing:
        raise KeyError(f"unknown corpus presets {missing}; known: {sorted(specs)}")
    return [generate_video(specs[n], out_dir, reuse=reuse) for n in names]


def load_truth(path: Path | str) -> dict:
    """Read a truth.json (given it or its mp4); check the schema tag."""
    p = Path(path)
    if p.suffix == ".mp4":
        p = p.with_name(p.stem + ".truth.json")
    truth = json.loads(p.read_text(encoding="utf-8"))
    if truth.get("schema") != TRUTH_SCHEMA:
        raise ValueError(f"{p}: not a vsbench corpus truth file (schema {truth.get('schema')!r})")
    return truth


# ---------------------------------------------------------------- bad inputs

def write_bad_inputs(out_dir: Path | str, source: Path | str | None = None,
                     config_path: Path | str = DEFAULT_CONFIG) -> dict[str, Path]:
    """Write malformed inputs for error-path tests; return {name: path}.

    empty: 0-byte .mp4; text: a text file named .mp4; truncated: first 40% of
    a valid faststart mp4 (header intact, media data cut: probes fine, fails
    to decode fully); truncated_nomoov: first 40% of a valid mp4 whose moov
    atom is at the end (cannot even be opened); audio_only: an .m4a with an
    AAC stream and no video stream. `source` is a valid faststart mp4 with
    audio to derive them from (default: a freshly generated "short" preset).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vsbench-bad-") as td:
        src = Path(source) if source is not None else generate_preset("short", td, config_path)
        data = src.read_bytes()
        paths = {name: out_dir / f"bad_{name}{ext}" for name, ext in [
            ("empty", ".mp4"), ("text", ".mp4"), ("truncated", ".mp4"),
            ("truncated_nomoov", ".mp4"), ("audio_only", ".m4a")]}
        paths["empty"].write_bytes(b"")
        paths["text"].write_text("this is not a video, just some text\n", encoding="utf-8")
        paths["truncated"].write_bytes(data[: int(len(data) * 0.4)])
        ff = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-v", "error", "-i", str(src)]
        tail = ["-map_metadata", "-1", "-fflags", "+bitexact", "-flags", "+bitexact"]
        moov_end = Path(td) / "moov_end.mp4"  # remux without faststart: moov goes last
        subprocess.run(ff + ["-c", "copy"] + tail + [str(moov_end)],
                       check=True, capture_output=True)
        cut = moov_end.read_bytes()
        paths["truncated_nomoov"].write_bytes(cut[: int(len(cut) * 0.4)])
        subprocess.run(ff + ["-vn", "-c:a", "copy"] + tail + ["-movflags", "+faststart",
                       str(paths["audio_only"])], check=True, capture_output=True)
    return paths
