"""The report reads only its declared inputs (tables, figures, template), never the run
archive; and its sections are a plain list the context is merged from."""

from __future__ import annotations

import pandas as pd
import pytest
from test_tables import build_study  # tests/ is on sys.path (pytest rootdir-relative import)

from vsbench.analysis import report
from vsbench.analysis.report import SECTIONS, render_report, report_context
from vsbench.analysis.report_data import ReportData, load_tables
from vsbench.analysis.tables import TABLE_COLUMNS, aggregate


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    written = aggregate([p / "summary.json" for p in build_study(root / "raw")],
                        root / "tables")
    return root, written


def test_a_list_of_files_reads_only_the_files_listed(study):
    root, written = study
    listed = [p for p in written if p.stem not in ("latency", "provenance")]
    tables = load_tables(listed)
    assert "latency" not in tables and "provenance" not in tables
    assert set(tables) == set(TABLE_COLUMNS) - {"latency", "provenance"}


def test_a_folder_reads_the_tables_of_its_manifest(study, tmp_path):
    root, written = study
    folder = tmp_path / "tables"
    folder.mkdir()
    for p in written:
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "stray.parquet").write_text("not a table: never read")
    assert set(load_tables(folder)) == set(TABLE_COLUMNS)
    assert load_tables(tmp_path / "absent") == {} and load_tables(None) == {}


def test_the_report_never_opens_the_archive(study, tmp_path, monkeypatch):
    root, written = study
    import vsbench.archive

    def refuse(*a, **k):
        raise AssertionError("the report opened the run archive")

    monkeypatch.setattr(vsbench.archive, "load_archive", refuse)
    listed = [p for p in written if p.stem != "provenance"]
    html = render_report(listed, tmp_path / "nofigs", tmp_path / "r.html",
                         archive_root=root / "raw").read_text()
    # the archive holds the provenance, but the report says the table is missing
    assert "The provenance table is missing" in html
    assert "abc123" not in html


def test_every_section_returns_its_own_variables(study):
    root, written = study
    d = ReportData.from_tables(load_tables(written))
    seen: set[str] = set()
    for section in SECTIONS:
        part = section(d)
        assert isinstance(part, dict) and part, section.__name__
        assert not seen & set(part), section.__name__
        seen |= set(part)


def test_a_new_section_adds_its_variables_and_clashes_are_refused(study, monkeypatch):
    root, written = study
    tables = load_tables(written)

    def extra(d: ReportData) -> dict:
        return {"extra_rows": [[str(len(d["latency"]))]]}

    monkeypatch.setattr(report, "SECTIONS", [*SECTIONS, extra])
    ctx = report_context(tables, {})
    assert ctx["extra_rows"] == [[str(len(tables["latency"]))]]

    monkeypatch.setattr(report, "SECTIONS", [*SECTIONS, lambda d: {"stages": []}])
    with pytest.raises(ValueError, match="stages"):
        report_context(tables, {})


def test_tables_the_report_does_not_know_are_kept():
    d = ReportData.from_tables({"pareto": pd.DataFrame({"x": [1]})})
    assert len(d["pareto"]) == 1
    assert d["latency"].empty and "latency" in d.missing
    assert d["no_such_table"].empty  # a table dropped from TABLE_COLUMNS reads as empty


def test_a_figure_the_plot_step_no_longer_draws_reads_as_missing(tmp_path):
    tpl = tmp_path / "t.html.j2"
    tpl.write_text("{{ figures['gone'] is none }} [{{ captions['gone'] }}]")
    html = render_report(None, None, tmp_path / "r.html", template=tpl).read_text()
    assert html == "True []"
