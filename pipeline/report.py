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
import textwrap
from pathlib import Path

import numpy as np

from .agreement import agreement
from .counts import collect
from .io import atomic_write
from .reviewing.reviews import status_counts
from .schemas import STATUSES, Codebook, Excerpt, final_codes
from .store import read_excerpts
from .version import __version__

TOP_EXCERPTS = 3
A4_WIDTH = 6.7  # inches of text width on an A4 page with 2 cm margins
LABEL_CHARS = 30  # code names wrap at this many characters


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "svg.hashsalt": "qcode"})
    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    _pyplot().close(fig)
    return buf.getvalue()


def label(text: str) -> str:
    return textwrap.fill(text, LABEL_CHARS)


def rows_by_theme(codebook: Codebook) -> list[tuple[str, str | None]]:
    """(label, code id) rows in codebook order, a heading row (code None) before each
    theme's codes when the codebook has themes."""
    names = {t.id: t.name for t in codebook.themes}
    rows: list[tuple[str, str | None]] = []
    current = object()
    for c in codebook.codes:
        if names and c.theme != current:
            current = c.theme
            rows.append((label(names.get(c.theme, "Other codes")), None))
        rows.append((label(c.name), c.id))
    return rows


def frequency_figure(excerpts: list[Excerpt], codebook: Codebook, by: str, source: str):
    """Participants mentioning each code, one bar per group of `by`, codes under their
    themes, labelled by name; the legend sits right of the bars."""
    coded = collect(excerpts, source)
    transcripts = sorted(coded.passages)
    groups = sorted({coded.attributes[t].get(by, "") or "(missing)" for t in transcripts})
    mentions = {t: set().union(*coded.passages[t]) if coded.passages[t] else set() for t in transcripts}
    rows = rows_by_theme(codebook)
    fig, ax = _pyplot().subplots(figsize=(A4_WIDTH, 0.42 * len(rows) + 1.0))
    height = 0.8 / max(len(groups), 1)
    y = np.arange(len(rows))
    for i, g in enumerate(groups):
        members = [t for t in transcripts if (coded.attributes[t].get(by, "") or "(missing)") == g]
        share = [100 * sum(c in mentions[t] for t in members) / len(members) if members and c else 0 for _, c in rows]
        ax.barh(y + i * height, share, height=height, label=f"{g} (n={len(members)})")
    ax.set_yticks(y + height * (len(groups) - 1) / 2, [text for text, _ in rows])
    for tick, (_, code) in zip(ax.get_yticklabels(), rows):
        if code is None:
            tick.set_fontweight("bold")
    ax.invert_yaxis()
    ax.set_xlabel("% of participants mentioning the code")
    ax.set_xlim(0, 100)
    ax.legend(title=by, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
    ax.set_title(f"Participants mentioning each code, by {by}")
    return fig


def frequency_png(excerpts: list[Excerpt], codebook: Codebook, by: str, source: str) -> bytes:
    return _png(frequency_figure(excerpts, codebook, by, source))


def cooccurrence_figure(excerpts: list[Excerpt], codebook: Codebook, source: str):
    coded = collect(excerpts, source)
    codes = codebook.code_ids
    m = np.zeros((len(codes), len(codes)), dtype=int)
    for passages in coded.passages.values():
        for s in passages:
            idx = [k for k, c in enumerate(codes) if c in s]
            for a in idx:
                for b in idx:
                    m[a, b] += 1
    names = [label(c.name) for c in codebook.codes]
    fig, ax = _pyplot().subplots(figsize=(A4_WIDTH, A4_WIDTH * 0.9))
    ax.imshow(m, cmap="Blues")
    ax.set_xticks(range(len(codes)), names, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(codes)), names, fontsize=7)
    for a in range(len(codes)):
        for b in range(len(codes)):
            ax.text(
                b,
                a,
                str(m[a, b]),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if m[a, b] > m.max() / 2 else "black",
            )
    ax.set_title("Passages coded with both codes (diagonal: with the code)")
    return fig


def cooccurrence_png(excerpts: list[Excerpt], codebook: Codebook, source: str) -> bytes:
    return _png(cooccurrence_figure(excerpts, codebook, source))


def progress_png(excerpts: list[Excerpt]) -> bytes:
    counts = status_counts(excerpts)["status"]
    fig, ax = _pyplot().subplots(figsize=(A4_WIDTH, 1.6))
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
    return _png(fig)


def machine_vs_reviewers(excerpts: list[Excerpt], codebook: Codebook, learned_from: set[str] = frozenset()):
    """The batch run's codes against reviewers' final codes, on the decided passages its
    learned model (if any) was not trained on."""
    decided = {e.id: set(final_codes(e)) for e in excerpts if final_codes(e) is not None and e.id not in learned_from}
    if not decided:
        return None
    machine = {e.id: set(e.codes) for e in excerpts if e.id in decided}
    return agreement([("machine", machine), ("reviewers", decided)], codebook.code_ids)


def _img(data: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'


def _learned_from(out_dir: Path) -> set[str]:
    from .study import study_or_none

    study = study_or_none(out_dir)
    return study.learned_from() if study is not None else set()


STYLE = (
    "<style>body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}"
    "img{max-width:100%}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px"
    " 8px;text-align:right}"
    "td:first-child,th:first-child{text-align:left}blockquote{margin:.5em 0 1em;padding:.3em"
    " 1em;border-left:4px solid #1F77B4;background:#f5f8fc}"
    ".q{color:#666;font-size:.9em}.meta{color:#666;font-size:.85em}</style>"
)


def build_report(
    out_dir: Path, codebook: Codebook, *, report_dir: Path, by: str = "sector", source: str = "final"
) -> Path:
    """report.html (and the figures as PNG) in `report_dir` for an output folder."""
    excerpts = read_excerpts(out_dir / "excerpts.jsonl")
    figures = _figures(excerpts, codebook, by, source)
    report_dir.mkdir(parents=True, exist_ok=True)
    for name, (png, _) in figures.items():
        with atomic_write(report_dir / f"{name}.png", "wb") as f:
            f.write(png)
    esc = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>qcode report: {esc(codebook.name)}</title>{STYLE}</head><body>",
        f"<h1>qcode report</h1><p class='meta'>Codebook: {esc(codebook.name)} v{esc(codebook.version)} &middot;"
        f" {len({e.transcript for e in excerpts})} transcripts, {len(excerpts)} passages &middot; codes:"
        f" {esc(source)} &middot; qcode {esc(__version__)}</p>",
    ]
    parts += [f"<h2>{esc(alt)}</h2>{_img(png, alt)}" for png, alt in figures.values()]
    parts += [f"<p class='meta'>{esc(note)}</p>" for note in _missing_figures(excerpts, by)]
    parts += _agreement_section(excerpts, codebook, _learned_from(out_dir))
    parts += _top_excerpts(excerpts, codebook)
    parts.append("</body></html>\n")
    page = report_dir / "report.html"
    with atomic_write(page) as f:
        f.write("\n".join(parts))
    return page


def _figures(excerpts: list[Excerpt], codebook: Codebook, by: str, source: str) -> dict[str, tuple[bytes, str]]:
    """name -> (PNG, caption): frequency by `by` (or the first attribute there is),
    co-occurrence, review progress."""
    if not any(by in e.attributes for e in excerpts):
        by = next(iter(sorted({k for e in excerpts for k in e.attributes})), "")
    figures = {}
    if by:
        figures["frequency_by_" + by] = (
            frequency_png(excerpts, codebook, by, source),
            f"Participants mentioning each code, by {by}",
        )
    figures["cooccurrence"] = (cooccurrence_png(excerpts, codebook, source), "Code co-occurrence within passages")
    figures["review_progress"] = (progress_png(excerpts), "Review progress")
    return figures


def _missing_figures(excerpts: list[Excerpt], by: str) -> list[str]:
    """Why a figure the report would show is not there (none when all are)."""
    attributes = sorted({k for e in excerpts for k in e.attributes})
    if not attributes:
        return [
            f"No figure by {by}: the transcripts have no attributes. Add a participants.csv (file, {by}, ...)"
            " beside them and code them again (see docs/outputs.md)."
        ]
    if not any(by in e.attributes for e in excerpts):
        return [f"No figure by {by}: no transcript has that attribute; shown by {attributes[0]} instead."]
    return []


def _agreement_section(excerpts: list[Excerpt], codebook: Codebook, learned: set[str]) -> list[str]:
    """The machine against reviewers, saying where it is measured."""
    esc = html.escape
    report = machine_vs_reviewers(excerpts, codebook, learned)
    parts = ["<h2>Agreement between the machine and reviewers</h2>"]
    if report is None:
        return parts + ["<p>No reviewed passages yet (that the run's learned model was not trained on).</p>"]

    def fmt(x: float | None, scale: float = 1.0) -> str:
        return "&ndash;" if x is None else f"{scale * x:.2f}"

    where = f"the machine's codes in this run against reviewers' decisions on {report.units} reviewed passages"
    if learned:
        left_out = sum(1 for e in excerpts if e.id in learned and final_codes(e) is not None)
        where += f", leaving out {left_out} the run's learned model was trained on"
    parts.append(
        f"<p>Measured on {where}.</p><table><tr><th>code</th><th>Cohen's &kappa;</th><th>Krippendorff's"
        " &alpha;</th><th>% agreement</th></tr>"
    )
    names = {c.id: c.name for c in codebook.codes}
    for c in report.per_code:
        cells = f"<td>{fmt(c.kappa)}</td><td>{fmt(c.alpha)}</td><td>{fmt(c.percent, 100)}</td>"
        parts.append(f"<tr><td>{esc(names[c.code])}</td>{cells}</tr>")
    means = (
        f"<th>{fmt(report.mean_kappa)}</th><th>{fmt(report.mean_alpha)}</th><th>{fmt(report.mean_percent, 100)}</th>"
    )
    parts.append(f"<tr><th>mean</th>{means}</tr></table>")
    return parts


def _top_excerpts(excerpts: list[Excerpt], codebook: Codebook) -> list[str]:
    """Per code, its best-scored passages with the question that prompted them."""
    esc = html.escape
    parts = ["<h2>Top excerpts per code</h2>"]
    for code in codebook.codes:
        scored = []
        for e in excerpts:
            codes = final_codes(e)
            if code.id in (codes if codes is not None else e.codes):
                scored.append((-next((s.score for s in e.suggestions if s.code == code.id), 0.0), e.id, e))
        scored.sort()
        parts.append(
            f"<h3 id='{esc(code.id)}'>{esc(code.name)} <span class='meta'>({esc(code.id)}, {len(scored)}"
            " passages)</span></h3>"
        )
        if not scored:
            parts.append("<p class='meta'>No passages.</p>")
        for neg, _, e in scored[:TOP_EXCERPTS]:
            question = f"<div class='q'>Q: {esc(e.context)}</div>" if e.context else ""
            parts.append(
                f"<blockquote>{question}<div>{esc(e.text)}</div><div class='meta'>{esc(e.transcript)}, {esc(e.speaker)}"
                f" &middot; score {-neg:.2f}</div></blockquote>"
            )
    return parts
