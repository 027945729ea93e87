"""Self-contained HTML with inline SVG charts: ``chartgate report``/``drift`` and the admin page.

For people who would rather look than read: one file, no script, no CDN, no font or image
fetched (a Content-Security-Policy of ``default-src 'none'`` says so to the browser), so
it can be mailed or archived with the launch review. Every text is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from chartgate.service.reports import Drift, Report, Row

GREEN, RED, AMBER, BLUE, GREY = "#2e7d32", "#c62828", "#ef8f00", "#1565c0", "#9e9e9e"
STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:68rem}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.2rem .6rem;text-align:right;
border-bottom:1px solid #ddd}th:first-child,td:first-child{text-align:left}
.legend span{display:inline-block;margin-right:1rem}.swatch{display:inline-block;width:.8rem;
height:.8rem;margin-right:.3rem;vertical-align:middle}svg text{font:12px system-ui,sans-serif}
.note{color:#555;font-size:.9rem}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        "<meta http-equiv=Content-Security-Policy "
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"<title>{_e(title)}</title><style>{STYLE}</style></head>"
        f"<body><main><h1>{_e(title)}</h1>{body}</main></body></html>\n"
    )


def _legend(items: Sequence[tuple[str, str]]) -> str:
    spans = "".join(
        f'<span><i class=swatch style="background:{color}"></i>{_e(label)}</span>'
        for label, color in items
    )
    return f"<p class=legend>{spans}</p>"


def stacked_daily(days: Sequence[tuple[str, int, int, int]], *, width: int = 880) -> str:
    """Daily write-backs: committed, conflict/rejected and (overlaid) ambiguous, as bars."""
    if not days:
        return "<p class=note>No write-backs in this window.</p>"
    height, left, bottom = 220, 40, 40
    peak = max(max(c + f, a) for _, c, f, a in days) or 1
    step = (width - left - 10) / len(days)
    bar = min(48.0, max(2.0, step * 0.7))
    parts = [
        (
            f'<svg role=img aria-label="write-backs per day" width={width} height={height} '
            f'viewBox="0 0 {width} {height}" class=chart-daily>'
        )
    ]
    plot = height - bottom - 10
    for tick in (0, peak):
        y = 10 + plot - plot * tick / peak
        parts.append(f'<text x=4 y="{y + 4:.1f}">{tick}</text>')
        parts.append(f'<line x1={left} x2={width} y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
    for index, (day, committed, failed, ambiguous) in enumerate(days):
        x = left + index * step
        y = 10 + plot
        for count, color, label in ((committed, GREEN, "committed"), (failed, RED, "failed")):
            if count:
                h = plot * count / peak
                y -= h
                parts.append(
                    f'<rect class=bar data-value="{count}" x="{x:.1f}" y="{y:.1f}" '
                    f'width="{bar:.1f}" height="{h:.1f}" fill="{color}">'
                    f"<title>{_e(day)}: {count} {label}</title></rect>"
                )
        if ambiguous:
            h = plot * ambiguous / peak
            parts.append(
                f'<rect class=bar data-value="{ambiguous}" x="{x + bar * 0.35:.1f}" '
                f'y="{10 + plot - h:.1f}" width="{bar * 0.3:.1f}" height="{h:.1f}" '
                f'fill="{AMBER}"><title>{_e(day)}: {ambiguous} went ambiguous</title></rect>'
            )
        if len(days) <= 31 and (index % max(1, len(days) // 10) == 0):  # noqa: PLR2004
            parts.append(f'<text x="{x:.1f}" y="{height - 20}">{_e(day[5:])}</text>')
    parts.append("</svg>")
    legend = _legend([("committed", GREEN), ("conflict or rejected", RED), ("ambiguous", AMBER)])
    return legend + "".join(parts)


def hbars(
    rows: Sequence[tuple[str, float, str]],
    *,
    label: str,
    width: int = 880,
    fmt: str = "{:.0%}",
    css: str = "chart-bars",
) -> str:
    """Horizontal bars of a share or value per group (label, value, colour).

    ``label`` names the chart for screen readers (an ``role=img`` needs a name).
    """
    if not rows:
        return "<p class=note>No data.</p>"
    label_w, line = 260, 24
    peak = max(value for _, value, _ in rows) or 1.0
    height = line * len(rows) + 10
    parts = [
        (
            f'<svg role=img aria-label="{_e(label)}" width={width} height={height} '
            f'viewBox="0 0 {width} {height}" class={css}>'
        )
    ]
    for index, (group, value, color) in enumerate(rows):
        y = 5 + index * line
        w = (width - label_w - 80) * value / peak
        parts.append(f'<text x=0 y="{y + 15}">{_e(group[:40])}</text>')
        parts.append(
            f'<rect class=bar data-value="{value}" x={label_w} y="{y + 3}" width="{w:.1f}" '
            f'height="{line - 8}" fill="{color}"><title>{_e(group)}: '
            f"{_e(fmt.format(value))}</title></rect>"
        )
        parts.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 15}">{_e(fmt.format(value))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def histogram(seconds: Sequence[float], *, width: int = 880) -> str:
    """Approve → committed durations in doubling buckets (¼ s … 1 h and more)."""
    if not seconds:
        return "<p class=note>No committed write-backs in this window.</p>"
    edges = [0.25 * 2**i for i in range(15)]
    counts = [0] * (len(edges) + 1)
    for value in seconds:
        counts[next((i for i, edge in enumerate(edges) if value <= edge), len(edges))] += 1
    while len(counts) > 1 and counts[-1] == 0:
        counts.pop()
    labels = [f"≤{_duration(edge)}" for edge in edges][: len(counts)]
    if len(labels) < len(counts):
        labels.append(f">{_duration(edges[-1])}")
    return hbars(
        list(zip(labels, map(float, counts), [BLUE] * len(counts), strict=True)),
        label="approve to committed, write-backs per duration bucket",
        fmt="{:.0f}",
        width=width,
        css="chart-latency",
    )


def _duration(seconds: float) -> str:
    if seconds < 60:  # noqa: PLR2004
        return f"{seconds:g}s"
    if seconds < 3600:  # noqa: PLR2004
        return f"{seconds / 60:g}min"
    return f"{seconds / 3600:g}h"


def _fmt_seconds(value: float | None) -> str:
    return "-" if value is None else _duration(round(value, 1))


def _table(rows: Sequence[Row], dimension: str) -> str:
    head = (
        f"<tr><th>{_e(dimension)}</th><th>write-backs</th><th>success</th><th>conflict</th>"
        "<th>rejected</th><th>ambiguous</th><th>open</th><th>rollback</th><th>review p50</th>"
        "<th>commit p50</th><th>commit p95</th><th>audit incomplete</th></tr>"
    )
    body = "".join(
        f"<tr><td>{_e(r.group)}</td><td>{r.writebacks}</td><td>{r.rate(r.committed):.1%}</td>"
        f"<td>{r.rate(r.conflict):.1%}</td><td>{r.rate(r.rejected):.1%}</td>"
        f"<td>{r.rate(r.ambiguous):.1%}</td><td>{r.open}</td><td>{r.rate(r.rollbacks):.1%}</td>"
        f"<td>{_fmt_seconds(r.review_p50_s)}</td><td>{_fmt_seconds(r.commit_p50_s)}</td>"
        f"<td>{_fmt_seconds(r.commit_p95_s)}</td><td>{r.incomplete}</td></tr>"
        for r in rows
    )
    return f"<table>{head}{body}</table>"


def report_title(report: Report, *, tenant: str | None) -> str:
    """The report's title (the page's and the admin page's)."""
    scope = f", tenant {tenant}" if tenant else ""
    return f"chartgate write-back report {report.start.date()} → {report.end.date()}{scope}"


def report_html(report: Report, *, tenant: str | None) -> str:
    """The post-launch report as one HTML page."""
    return _page(report_title(report, tenant=tenant), report_body(report))


def admin_html(report: Report, drift: Drift, *, tenant: str, baseline: str, window: str) -> str:
    """The admin page: the report, then the drift of its window against a baseline."""
    return _page(
        report_title(report, tenant=tenant),
        report_body(report)
        + "<h2 id=drift>Oversight drift</h2>"
        + drift_body(drift, baseline=baseline, window=window),
    )


def report_body(report: Report) -> str:
    """The report's charts and tables."""
    total = report.total
    body = [
        (
            "<p class=note>Write-backs queued in the window; rates are shares of them. No "
            "patient data: clinicians appear as keyed pseudonyms.</p>"
        ),
        _table([total], "all"),
        "<h2>Write-backs per day</h2>",
        stacked_daily(report.daily),
        "<h2>Approve → committed</h2>",
        histogram(report.commit_seconds),
    ]
    for dimension, rows in report.by.items():
        name = dimension.replace("_", " ")
        body.append(f"<h2>Success rate by {_e(name)}</h2>")
        body.append(
            hbars(
                [(r.group, r.rate(r.committed), GREEN) for r in rows],
                label=f"success rate by {name}",
            )
        )
        body.append(_table(rows, name))
    if report.incomplete:
        items = "".join(
            f"<li>{_e(wb)}: missing {_e(', '.join(missing))}</li>"
            for wb, missing in report.incomplete[:100]
        )
        body.append(f"<h2>Incomplete audit chains</h2><ul>{items}</ul>")
    else:
        body.append(
            "<h2>Audit completeness</h2><p>Every committed write-back has its whole chain.</p>"
        )
    return "".join(body)


def _pair(name: str, span: str) -> str:
    """A bar's label in a baseline/window pair: the name cut short, the span always shown."""
    room = 38 - len(span)
    short = name if len(name) <= room else name[: room - 1] + "…"
    return f"{short} ({span})"


def _access_chart(drift: Drift) -> str:
    """Paired bars per access line (scopes, roles, grants, model versions): counts, both spans."""
    rows: list[tuple[str, float, str]] = []
    for line in drift.access:
        name = f"{line.group}: {line.name}"
        rows.append((_pair(name, "baseline"), float(line.baseline), GREY))
        rows.append((_pair(name, "window, NEW" if line.added else "window"), line.window, BLUE))
    return hbars(
        rows,
        label="access and model versions, baseline and window",
        fmt="{:.0f}",
        css="chart-access",
    )


def drift_body(drift: Drift, *, baseline: str, window: str) -> str:
    """The drift comparison's charts and tables (the CLI's file and the admin page)."""
    rows: list[tuple[str, float, str]] = []
    for line in drift.lines:
        rows.append((_pair(line.signal, "baseline"), line.baseline, GREY))
        rows.append((_pair(line.signal, "window"), line.window, BLUE))
    table = "".join(
        f"<tr><td>{_e(line.signal)}</td><td>{line.baseline:.1%} (n={line.baseline_n})</td>"
        f"<td>{line.window:.1%} (n={line.window_n})</td><td>{line.change:+.1%}</td></tr>"
        for line in drift.lines
    )
    templates = "".join(
        f"<tr><td>{_e(t)}</td><td>{b}</td><td>{w}</td></tr>"
        for t, b, w in drift.exceptions_by_template
    )
    legend = _legend([("baseline", GREY), ("window", BLUE)])
    return (
        f"<p class=note>Baseline {_e(baseline)}; window {_e(window)}. Approvals only.</p>"
        + legend
        + hbars(rows, label="oversight signals, baseline and window", css="chart-drift")
        + "<table><tr><th>signal</th><th>baseline</th><th>window</th><th>change</th></tr>"
        + table
        + "</table><h2>Exceptions per template</h2>"
        + "<table><tr><th>template</th><th>baseline</th><th>window</th></tr>"
        + templates
        + "</table><h2>Access and models: scopes granted, roles acting, grants, model versions"
        + "</h2><p class=note>Counts; NEW marks what the window has and the baseline never had."
        + "</p>"
        + legend
        + _access_chart(drift)
        + "<table class=access><tr><th>signal</th><th>baseline</th><th>window</th><th>new</th></tr>"
        + "".join(
            f"<tr><td>{_e(a.group)}: {_e(a.name)}</td><td>{a.baseline}</td><td>{a.window}</td>"
            f"<td>{'<strong>added</strong>' if a.added else ''}</td></tr>"
            for a in drift.access
        )
        + "</table>"
    )


def drift_html(drift: Drift, *, baseline: str, window: str) -> str:
    """The drift comparison as one HTML page: paired bars per signal."""
    return _page("chartgate oversight drift", drift_body(drift, baseline=baseline, window=window))
