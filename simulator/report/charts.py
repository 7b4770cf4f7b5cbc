"""Charts rendered in Python as inline SVG, so the report needs no script library and makes
no network fetch. Every text that reaches the SVG (labels, tooltips) is escaped here."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from markupsafe import Markup, escape

from simulator.results.execution import Execution

WIDTH, HEIGHT = 560, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 44
PALETTE = ("#2f6fb0", "#d0743c", "#3a9a5b", "#a04aa0", "#b8a02a", "#5a5a5a")


def _frame(title: str, body: list[str], x_label: str, y_label: str) -> Markup:
    """Wrap chart elements in an accessible SVG with axis labels."""
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<rect x="{LEFT}" y="{TOP}" width="{inner_w}" height="{inner_h}" fill="#fafafa" '
        'stroke="#ccc"/>',
        *body,
        f'<text x="{LEFT + inner_w / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle" '
        f'class="axis-label">{escape(x_label)}</text>',
        f'<text x="14" y="{TOP + inner_h / 2:.1f}" text-anchor="middle" class="axis-label" '
        f'transform="rotate(-90 14 {TOP + inner_h / 2:.1f})">{escape(y_label)}</text>',
        "</svg>",
    ]
    return Markup("".join(parts))


def _empty(title: str, message: str) -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} 60" width="{WIDTH}" height="60" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
        f'<text x="10" y="35" class="axis-label">{escape(message)}</text></svg>'
    )


def _ratio_label(log2: float) -> str:
    ratio = 2.0**log2
    return f"{ratio:.2g}×" if ratio < 1 else f"{ratio:.3g}×"


def ratio_histogram(ratios: Sequence[float], title: str = "Latency ratio") -> Markup:
    """Histogram of candidate/baseline ratios on a log2 axis (1× in the middle)."""
    logs = [math.log2(r) for r in ratios if r and r > 0 and math.isfinite(r)]
    if not logs:
        return _empty(title, "no latency ratios measured")
    span = max(1.0, math.ceil(max(abs(min(logs)), abs(max(logs))) * 4) / 4)
    bins = 25  # odd, so that one bin is centred on 1x
    width = 2 * span / bins
    counts = [0] * bins
    for value in logs:
        counts[min(bins - 1, max(0, int((value + span) / width)))] += 1
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = max(counts)
    body = []
    for i, n in enumerate(counts):
        if not n:
            continue
        x = LEFT + i * inner_w / bins
        h = inner_h * n / top
        low, high = -span + i * width, -span + (i + 1) * width
        color = "#c0392b" if low >= 0.1375 else "#2f6fb0" if high <= -0.1375 else "#7f8c8d"
        body.append(
            f'<rect x="{x + 1:.1f}" y="{TOP + inner_h - h:.1f}" width="{inner_w / bins - 2:.1f}" '
            f'height="{h:.1f}" fill="{color}"><title>{escape(_ratio_label(low))} – '
            f"{escape(_ratio_label(high))}: {n} pattern(s)</title></rect>"
        )
    for tick in (-span, -span / 2, 0.0, span / 2, span):
        x = LEFT + (tick + span) / (2 * span) * inner_w
        body.append(
            f'<line x1="{x:.1f}" y1="{TOP + inner_h}" x2="{x:.1f}" y2="{TOP + inner_h + 5}" '
            'stroke="#555"/>'
            f'<text x="{x:.1f}" y="{TOP + inner_h + 18}" text-anchor="middle" class="tick">'
            f"{escape(_ratio_label(tick))}</text>"
        )
    body.append(
        f'<text x="{LEFT - 6}" y="{TOP + 10}" text-anchor="end" class="tick">{top}</text>'
        f'<text x="{LEFT - 6}" y="{TOP + inner_h}" text-anchor="end" class="tick">0</text>'
    )
    return _frame(title, body, "candidate / baseline latency (log scale)", "patterns")


def _log_ticks(low: float, high: float) -> list[float]:
    return [10.0**k for k in range(math.floor(low), math.ceil(high) + 1)]


def latency_scatter(
    points: Sequence[tuple[float, float, str, bool]], title: str = "Latency per pattern"
) -> Markup:
    """Log-log scatter of (baseline ms, candidate ms, label, regressed) with the y = x line."""
    usable = [(b, c, label, bad) for b, c, label, bad in points if b > 0 and c > 0]
    if not usable:
        return _empty(title, "no latency pairs measured")
    logs = [math.log10(v) for b, c, _, _ in usable for v in (b, c)]
    low, high = math.floor(min(logs)), math.ceil(max(logs))
    if high == low:
        high = low + 1
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(value: float) -> float:
        return LEFT + (math.log10(value) - low) / (high - low) * inner_w

    def py(value: float) -> float:
        return TOP + inner_h - (math.log10(value) - low) / (high - low) * inner_h

    body = [
        f'<line x1="{LEFT}" y1="{TOP + inner_h}" x2="{LEFT + inner_w}" y2="{TOP}" '
        'stroke="#999" stroke-dasharray="4 3"/>'
    ]
    for tick in _log_ticks(low, high):
        label = escape(f"{tick:g} ms")
        body.append(
            f'<text x="{px(tick):.1f}" y="{TOP + inner_h + 18}" text-anchor="middle" '
            f'class="tick">{label}</text>'
            f'<text x="{LEFT - 6}" y="{py(tick) + 4:.1f}" text-anchor="end" class="tick">'
            f"{label}</text>"
        )
    for b, c, label, bad in usable:
        color = "#c0392b" if bad else "#2f6fb0"
        body.append(
            f'<circle cx="{px(b):.1f}" cy="{py(c):.1f}" r="4" fill="{color}" '
            f'fill-opacity="0.7"><title>{escape(label)}: {b:.2f} ms → {c:.2f} ms</title>'
            "</circle>"
        )
    return _frame(title, body, "baseline latency (ms, log)", "candidate latency (ms, log)")


def _mean_in_flight(starts: np.ndarray, ends: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Time-weighted mean of executions in flight within each bucket between ``edges``.

    The in-flight count is a step function; its running integral is piecewise linear
    between events, so interpolating it at the bucket edges is exact.
    """
    times = np.concatenate([starts, ends])
    deltas = np.concatenate([np.ones(len(starts)), -np.ones(len(ends))])
    order = np.argsort(times, kind="stable")
    times, level = times[order], np.cumsum(deltas[order])
    area = np.concatenate([[0.0], np.cumsum(level[:-1] * np.diff(times))])
    integral = np.interp(edges, times, area)
    return np.diff(integral) / np.diff(edges)


def concurrency_timeline(
    executions: Sequence[Execution],
    title: str = "Concurrency during the load phase",
    buckets: int = 160,
) -> Markup:
    """Mean executions in flight over time during the load phase, one line per engine."""
    # Banked baseline results ran in an earlier run: they were not part of this load.
    load = [
        e
        for e in executions
        if e.phase == "load" and not e.from_bank and e.finished_at >= e.started_at > 0
    ]
    if not load:
        return _empty(title, "no load-phase executions recorded")
    start = min(e.started_at for e in load)
    duration = max(max(e.finished_at for e in load) - start, 1e-3)
    edges = np.linspace(0.0, duration, buckets + 1)
    engines = sorted({e.engine for e in load})
    series = {}
    for engine in engines:
        mine = [e for e in load if e.engine == engine]
        series[engine] = _mean_in_flight(
            np.array([e.started_at - start for e in mine]),
            np.array([e.finished_at - start for e in mine]),
            edges,
        )
    peak = max(float(values.max()) for values in series.values()) or 1.0
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    body = []
    for i, engine in enumerate(engines):
        color = PALETTE[i % len(PALETTE)]
        points = " ".join(
            f"{LEFT + (edges[k] + edges[k + 1]) / 2 / duration * inner_w:.1f},"
            f"{TOP + inner_h - value / peak * inner_h:.1f}"
            for k, value in enumerate(series[engine])
        )
        body.append(
            f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{points}">'
            f"<title>{escape(engine)}</title></polyline>"
            f'<rect x="{LEFT + 8 + i * 150}" y="{HEIGHT - 16}" width="10" height="10" '
            f'fill="{color}"/><text x="{LEFT + 22 + i * 150}" y="{HEIGHT - 7}" class="tick">'
            f"{escape(engine)}</text>"
        )
    body.append(
        f'<text x="{LEFT - 6}" y="{TOP + 10}" text-anchor="end" class="tick">{peak:.1f}</text>'
        f'<text x="{LEFT - 6}" y="{TOP + inner_h}" text-anchor="end" class="tick">0</text>'
        f'<text x="{LEFT + inner_w}" y="{TOP + inner_h + 14}" text-anchor="end" class="tick">'
        f"{duration:.1f} s</text>"
        f'<text x="{LEFT}" y="{TOP + inner_h + 14}" class="tick">0 s</text>'
    )
    return _frame(title, body, "", "mean executions in flight")
