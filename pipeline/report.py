"""`qcode report`: a self-contained HTML report (figures embedded, opens offline) and the
same figures as PNG files.

Figures: participants mentioning each code by sector (or another attribute), code x code
co-occurrence within passages, review progress; then agreement between the machine and
reviewers, and the top excerpts per code with the question that prompted them.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np

from . import __version__
from .agreement import agreement
from .counts import collect
from .io import atomic_write
from .review import read_excerpts, status_counts
from .schemas import Codebook, Excerpt, final_codes

TOP_EXCERPTS = 3
STATUSES = ("pending", "accepted", "corrected", "rejected")


def _figure(draw) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "svg.hashsalt": "qcode"})
    fig = draw(plt)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def frequency_png(excerpts: list[Excerpt], codebook: Codebook, by: str, source: str) -> bytes:
    coded = collect(excerpts, source)
    transcripts = sorted(coded.passages)
    groups = sorted({coded.attributes[t].get(by, "") or "(missing)" for t in transcripts})
    codes = codebook.code_ids
    mentions = {t: set().union(*coded.passages[t]) if coded.passages[t] else set() for t in transcripts}

    def draw(plt):
        fig, ax = plt.subplots(figsize=(8, 0.45 * len(codes) + 1.2))
        height = 0.8 / max(len(groups), 1)
        y = np.arange(len(codes))
        for i, g in enumerate(groups):
            members = [t for t in transcripts if (coded.attributes[t].get(by, "") or "(missing)") == g]
            share = [100 * sum(c in mentions[t] for t in members) / len(members) if members else 0 for c in codes]
            ax.barh(y + i * height, share, height=height, label=f"{g} (n={len(members)})")
        ax.set_yticks(y + height * (len(groups) - 1) / 2, codes)
        ax.invert_yaxis()
        ax.set_xlabel("% of participants mentioning the code")
        ax.set_xlim(0, 100)
        ax.legend(title=by, loc="lower right", fontsize=8)
        ax.set_title(f"Participants mentioning each code, by {by}")
        return fig

    return _figure(draw)


def cooccurrence_png(excerpts: list[Excerpt], codebook: Codebook, source: str) -> bytes:
    coded = collect(excerpts, source)
    codes = codebook.code_ids
    m = np.zeros((len(codes), len(codes)), dtype=int)
    for passages in coded.passages.values():
        for s in passages:
            idx = [k for k, c in enumerate(codes) if c in s]
            for a in idx:
                for b in idx:
                    m[a, b] += 1

    def draw(plt):
        fig, ax = plt.subplots(figsize=(7, 6))
        ax.imshow(m, cmap="Blues")
        ax.set_xticks(range(len(codes)), codes, rotation=60, ha="right")
        ax.set_yticks(range(len(codes)), codes)
        for a in range(len(codes)):
            for b in range(len(codes)):
                ax.text(b, a, str(m[a, b]), ha="center", va="center", fontsize=7, color="white" if m[a, b] > m.max() / 2 else "black")
        ax.set_title("Passages coded with both codes (diagonal: with the code)")
        return fig

    return _figure(draw)


def progress_png(excerpts: list[Excerpt]) -> bytes:
    counts = status_counts(excerpts)["status"]

    def draw(plt):
        fig, ax = plt.subplots(figsize=(7, 1.6))
        left = 0
        colours = {"pending": "#BBBBBB", "accepted": "#2CA02C", "corrected": "#1F77B4", "rejected": "#D62728"}
        for s in STATUSES:
            n = counts.get(s, 0)
            ax.barh([0], [n], left=left, color=colours[s], label=f"{s} ({n})")
            left += n
        ax.set_yticks([])
        ax.set_xlabel("passages")
        ax.legend(ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.45), fontsize=8, frameon=False)
        ax.set_title("Review progress")
        return fig

    return _figure(draw)


def machine_vs_reviewers(excerpts: list[Excerpt], codebook: Codebook):
    decided = {e.id: set(final_codes(e)) for e in excerpts if final_codes(e) is not None}
    if not decided:
        return None
    machine = {e.id: set(e.codes) for e in excerpts if e.id in decided}
    return agreement([("machine", machine), ("reviewers", decided)], codebook.code_ids)


def _img(data: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'


def build_report(out_dir: Path, codebook: Codebook, *, report_dir: Path, by: str = "sector", source: str = "final") -> Path:
    excerpts = read_excerpts(out_dir / "excerpts.jsonl")
    if not any(by in e.attributes for e in excerpts):
        by = next(iter(sorted({k for e in excerpts for k in e.attributes})), "")
    figures = {}
    if by:
        figures["frequency_by_" + by] = (frequency_png(excerpts, codebook, by, source), f"Participants mentioning each code, by {by}")
    figures["cooccurrence"] = (cooccurrence_png(excerpts, codebook, source), "Code co-occurrence within passages")
    figures["review_progress"] = (progress_png(excerpts), "Review progress")
    report_dir.mkdir(parents=True, exist_ok=True)
    for name, (png, _) in figures.items():
        with atomic_write(report_dir / f"{name}.png", "wb") as f:
            f.write(png)

    esc = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>qcode report: {esc(codebook.name)}</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}"
        "img{max-width:100%}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
        "td:first-child,th:first-child{text-align:left}blockquote{margin:.5em 0 1em;padding:.3em 1em;border-left:4px solid #1F77B4;background:#f5f8fc}"
        ".q{color:#666;font-size:.9em}.meta{color:#666;font-size:.85em}</style></head><body>",
        f"<h1>qcode report</h1><p class='meta'>Codebook: {esc(codebook.name)} v{esc(codebook.version)} &middot; "
        f"{len({e.transcript for e in excerpts})} transcripts, {len(excerpts)} passages &middot; codes: {esc(source)} &middot; qcode {esc(__version__)}</p>",
    ]
    for name, (png, alt) in figures.items():
        parts.append(f"<h2>{esc(alt)}</h2>{_img(png, alt)}")
    report = machine_vs_reviewers(excerpts, codebook)
    parts.append("<h2>Agreement between the machine and reviewers</h2>")
    if report is None:
        parts.append("<p>No reviewed passages yet.</p>")
    else:
        fmt = lambda x: "&ndash;" if x is None else f"{x:.2f}"  # noqa: E731
        parts.append(f"<p>{report.units} reviewed passages.</p><table><tr><th>code</th><th>Cohen's &kappa;</th><th>Krippendorff's &alpha;</th><th>% agreement</th></tr>")
        for c in report.per_code:
            parts.append(f"<tr><td>{esc(c.code)}</td><td>{fmt(c.kappa)}</td><td>{fmt(c.alpha)}</td><td>{fmt(None if c.percent is None else 100 * c.percent)}</td></tr>")
        parts.append(f"<tr><th>mean</th><th>{fmt(report.mean_kappa)}</th><th>{fmt(report.mean_alpha)}</th><th>{fmt(None if report.mean_percent is None else 100 * report.mean_percent)}</th></tr></table>")
    parts.append("<h2>Top excerpts per code</h2>")
    for code in codebook.codes:
        scored = []
        for e in excerpts:
            codes = final_codes(e)
            applied = codes if codes is not None else e.codes
            if code.id in applied:
                score = next((s.score for s in e.suggestions if s.code == code.id), 0.0)
                scored.append((-score, e.id, e))
        scored.sort()
        parts.append(f"<h3 id='{esc(code.id)}'>{esc(code.name)} <span class='meta'>({esc(code.id)}, {len(scored)} passages)</span></h3>")
        if not scored:
            parts.append("<p class='meta'>No passages.</p>")
        for neg, _, e in scored[:TOP_EXCERPTS]:
            question = f"<div class='q'>Q: {esc(e.context)}</div>" if e.context else ""
            parts.append(f"<blockquote>{question}<div>{esc(e.text)}</div><div class='meta'>{esc(e.transcript)}, {esc(e.speaker)} &middot; score {-neg:.2f}</div></blockquote>")
    parts.append("</body></html>\n")
    page = report_dir / "report.html"
    with atomic_write(page) as f:
        f.write("\n".join(parts))
    return page
