"""Small inline SVG line charts (no JavaScript, no chart library), for loss and F1 curves."""

from html import escape

WIDTH, HEIGHT = 520, 200
MARGIN = {"left": 44, "right": 12, "top": 12, "bottom": 28}


def line_chart(
    series: list[tuple[str, list[tuple[float, float]], str]],
    *,
    title: str,
    x_label: str,
    y_range: tuple[float, float] | None = None,
    x_range: tuple[float, float] | None = None,
) -> str:
    """`series` is [(name, [(x, y), ...], colour)]; returns an accessible <svg> element."""
    points = [p for _, values, _ in series for p in values]
    if not points:
        return ""
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    x_min, x_max = x_range or (min(xs), max(xs))
    y_min, y_max = y_range or (min(0.0, min(ys)), max(ys) or 1.0)
    if x_max == x_min:
        x_max = x_min + 1
    if y_max == y_min:
        y_max = y_min + 1
    plot_w = WIDTH - MARGIN["left"] - MARGIN["right"]
    plot_h = HEIGHT - MARGIN["top"] - MARGIN["bottom"]

    def sx(x):
        return MARGIN["left"] + (x - x_min) / (x_max - x_min) * plot_w

    def sy(y):
        return MARGIN["top"] + (1 - (y - y_min) / (y_max - y_min)) * plot_h

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for fraction in (0, 0.5, 1):
        value = y_min + fraction * (y_max - y_min)
        y = sy(value)
        parts.append(
            f'<line x1="{MARGIN["left"]}" x2="{WIDTH - MARGIN["right"]}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
        )
        parts.append(
            f'<text x="{MARGIN["left"] - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{value:.3g}</text>'
        )
    parts.append(f'<text x="{MARGIN["left"]}" y="{HEIGHT - 8}" class="tick">{x_min:g}</text>')
    parts.append(
        f'<text x="{WIDTH - MARGIN["right"]}" y="{HEIGHT - 8}" text-anchor="end" class="tick">{x_max:g}</text>'
    )
    parts.append(
        f'<text x="{WIDTH / 2:.0f}" y="{HEIGHT - 8}" text-anchor="middle" class="axis">{escape(x_label)}</text>'
    )
    for name, values, colour in series:
        if not values:
            continue
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in values)
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"><title>{escape(name)}</title></polyline>'
        )
        if len(values) <= 30:
            parts.extend(
                f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{colour}"><title>{escape(name)} {x:g}: {y:.3f}</title></circle>'
                for x, y in values
            )
    parts.append("</svg>")
    return "".join(parts)
