"""Figures (valid, deterministic SVG) and the HTML report (numbers from the tables)."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET

import pandas as pd
import pytest
from test_tables import build_study  # tests/ is on sys.path (pytest rootdir-relative import)

from vsbench.analysis.plots import FIGURES, make_figures
from vsbench.analysis.report import TEMPLATE, fmt, fmt_pct, render_pdf, render_report
from vsbench.analysis.tables import aggregate


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    aggregate([p / "summary.json" for p in build_study(root)], root / "tables")
    figures = make_figures(root / "tables", root / "figures")
    html = render_report(root / "tables", root / "figures", root / "report.html")
    return root, figures, html.read_text()


def test_figures_are_valid_deterministic_svg(outputs, tmp_path):
    root, figures, _ = outputs
    assert [p.name for p in figures] == [f"{n}.svg" for n in FIGURES]
    for p in figures:
        tree = ET.parse(p)
        assert tree.getroot().tag == "{http://www.w3.org/2000/svg}svg"
        text = p.read_text()
        assert "<dc:date>" not in text
        assert "<text" in text                                  # svg.fonttype: none
    again = make_figures(root / "tables", tmp_path / "again")
    for a, b in zip(figures, again, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_sweeps_figure_without_sweep(tmp_path):
    aggregate(build_study(tmp_path / "results", sweep=False), tmp_path / "tables")
    figs = make_figures(tmp_path / "tables", tmp_path / "figures")
    assert "no sweep in this study" in (tmp_path / "figures" / "sweeps.svg").read_text()
    assert len(figs) == len(FIGURES)
    html = render_report(tmp_path / "tables", tmp_path / "figures", tmp_path / "r.html")
    text = html.read_text()
    assert "No one-factor sweep in this study" in text
    assert "No one-factor sweep ran in this study" in text      # the guideline says so too


def test_report_sections_and_numbers_from_tables(outputs):
    root, _, html = outputs
    for heading in ("Method", "RQ1", "RQ2", "RQ3", "One factor at a time",
                    "Latency versus cost", "Cold starts by class", "Correctness",
                    "Guidelines", "Threats to validity", "Provenance"):
        assert re.search(rf"<h[23][^>]*>{heading}", html), heading
    assert html.count("<svg") == len(FIGURES)                   # figures inlined
    lat = pd.read_parquet(root / "tables" / "latency.parquet")
    cold = lat[lat["regime"] == "cold"].iloc[0]
    assert fmt(cold["p50_ms"]) in html and fmt(cold["p99_ms"]) in html
    assert f"{fmt(cold['p50_ms'])} [{fmt(cold['p50_low_ms'])}, {fmt(cold['p50_high_ms'])}]" \
        in html
    cost = pd.read_parquet(root / "tables" / "cost.parquet")
    assert fmt_pct(cost[cost["regime"] == "cold"]["idle_share"].iloc[0]) in html
    # guideline 1, from the comparison's run-level verdicts: warm (min 1) vs cold (min 0)
    cmp = pd.read_parquet(root / "tables" / "comparisons.parquet").iloc[0]
    assert "keeping 1 replica(s) per function warm (warm) instead of scaling to zero (cold)" \
        in html and "p50 3,000 → 650 ms" in html
    verdicts = {cmp["latency_verdict"], cmp["cost_verdict"]}
    if verdicts == {"no detectable difference"}:
        assert "made no difference the intervals can detect" in html
    # guideline 2, the frontier; guideline 3, the sweep (2 s → 30 s), said only if decided
    assert "the p99-latency/cost frontier is" in html
    assert "idle timeout 2 s → 30 s changed" in html
    assert "abc123" in html and "Test CPU" in html               # provenance and machine
    assert "sweep-idle-2s" in html and "detect" in html


def test_template_has_no_literal_numbers():
    body = TEMPLATE.read_text()
    body = re.sub(r"<style>.*?</style>", "", body, flags=re.S)
    body = re.sub(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", "", body, flags=re.S)
    body = re.sub(r"<[^>]*>", "", body)                        # tags (h1, h2…) are not text
    body = re.sub(r"RQ\d|S3", "", body)                           # names, not numbers
    assert not re.findall(r"\d", body)


def test_report_with_missing_tables_and_figures(tmp_path):
    out = render_report(tmp_path / "nothing", tmp_path / "nofigs", tmp_path / "r.html")
    text = out.read_text()
    assert "Missing or empty tables" in text and "latency table is missing" in text
    assert "Figure latency.svg is missing" in text
    assert "<h2 id=\"rq3\">" in text


def test_render_pdf_needs_a_toolchain(outputs, tmp_path):
    try:
        import weasyprint  # noqa: F401
        pytest.skip("weasyprint is installed")
    except ImportError:
        pass
    if shutil.which("pandoc") and any(shutil.which(e) for e in ("xelatex", "lualatex",
                                                                  "pdflatex")):
        pytest.skip("pandoc and LaTeX are installed")
    root = outputs[0]
    with pytest.raises(RuntimeError, match="weasyprint"):
        render_pdf(root / "report.html", tmp_path / "report.pdf")
