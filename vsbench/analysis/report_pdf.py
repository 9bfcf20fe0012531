"""The HTML report as PDF, with whichever converter this machine has."""

from __future__ import annotations

import html
import shutil
import subprocess
from pathlib import Path

__all__ = ["render_pdf"]


def render_pdf(out_html: str | Path, out_pdf: str | Path) -> Path:
    """HTML → PDF with weasyprint, else pandoc + a LaTeX engine; RuntimeError when neither."""
    out_html, out_pdf = Path(out_html), Path(out_pdf)
    try:
        import weasyprint  # type: ignore[import-not-found]
    except ImportError:
        weasyprint = None
    if weasyprint is not None:
        weasyprint.HTML(filename=str(out_html)).write_pdf(str(out_pdf))
        return out_pdf
    engine = next((e for e in ("xelatex", "lualatex", "pdflatex") if shutil.which(e)), None)
    if shutil.which("pandoc") and engine:
        subprocess.run(["pandoc", str(out_html), "-o", str(out_pdf), f"--pdf-engine={engine}"],
                       check=True)
        return out_pdf
    have = []
    if shutil.which("pandoc"):
        have.append("pandoc (but no LaTeX engine)")
    if engine:
        have.append(f"{engine} (but no pandoc)")
    raise RuntimeError(
        "cannot render a PDF: need the weasyprint Python package, or pandoc together with a "
        "LaTeX engine (xelatex, lualatex or pdflatex); found "
        + (", ".join(have) if have else "none of them")
        + f". The HTML report is complete on its own: {html.escape(str(out_html))}")
