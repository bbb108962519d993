"""The labelling page: render time for long documents, one-span save latency, and a 16,000-token
note in Chromium.

    nice .venv/bin/python -m bench.labelling [--no-browser] [--only-save]

Documents of 500, 2,000, 5,000 and 16,000 tokens with 10% of tokens in spans. Our page renders
the text with string joins and a save answers with only the blocks it touched; the baseline is
the first thing one would write: a Django template loop over every token, and a save that
re-renders the whole page. A span save is also measured through the API (a PUT of the spans
with one more) on a 2,000-token document with 100 spans, beside doccano's figure for creating
one span. Requests go through Django's test client in this process. Then a
headless Chromium (Debian's chromium) opens the 16,000-token note from a live server in this
process, until the text has the focus, and tags tokens with a key press, until the answer is
drawn (targets: under 1 s and under 300 ms).
"""

import argparse
import itertools
import shutil
import sys
import time

from bench.common import bench_admin, corpus_blocks, p50_p95, print_table, setup_django, time_calls

SIZES = [500, 2_000, 5_000, 16_000]
PROJECT = "bench-labelling"
SAVE_PROJECT = "bench-labelling-save"  # its 2,000-token document has the same text as one above
NAIVE_TEMPLATE = """{% for token in tokens %}{% if token.span_start %}<mark class="span" data-span="{{ token.span_id }}">{% endif %}<span class="t" data-i="{{ forloop.counter0 }}">{{ token.text }}</span>{% if token.span_end %}<span class="span-tag">{{ token.label }}</span></mark>{% endif %}{{ token.gap }}{% endfor %}"""


def text_of(tokens: int) -> str:
    """Corpus abstracts, end to end, until the text has `tokens` tokens."""
    from annotation.text.tokenize import tokenize

    parts, count = [], 0
    for block in itertools.cycle(corpus_blocks()):  # the fallback sample is shorter than the longest note
        abstract = block[1].split("|", 2)[2]
        parts.append(abstract)
        count += len(tokenize(abstract).starts)
        if count >= tokens:
            break
    text = "\n".join(parts)
    cut = tokenize(text).ends[tokens - 1]
    return text[:cut]


def fresh_project(user, name=PROJECT):
    from annotation.services import create_project
    from bench.common import delete_projects

    delete_projects(name)
    return create_project(name, created_by=user)


def build_documents(user):
    from annotation import editing
    from annotation.models import Project
    from annotation.services import create_document

    project = fresh_project(user)
    disease = project.labels.get(name="DISEASE")
    documents = {}
    for size in SIZES:
        document = create_document(project, text_of(size), title=f"{size} tokens")
        annotation = editing.annotation_for(document, user)
        for first in range(0, size - 2, 10):  # one token in ten becomes a span
            annotation = editing.add_span(
                annotation, version=annotation.version, first_token=first, last_token=first, label=disease
            ).annotation
        documents[size] = document
    return Project.objects.get(pk=project.pk), documents


def naive_render(document, annotation):
    """The baseline page body: a template loop over every token."""
    from django.template import Context, Template

    spans = {s.start: s for s in annotation.spans.select_related("label")}
    ends = {s.end for s in spans.values()}
    starts, token_ends, text = document.token_starts, document.token_ends, document.text
    tokens = []
    for index, (start, end) in enumerate(zip(starts, token_ends)):
        span = spans.get(start)
        next_start = starts[index + 1] if index + 1 < len(starts) else len(text)
        tokens.append(
            {
                "text": text[start:end],
                "gap": text[end:next_start],
                "span_start": span is not None,
                "span_id": span.pk if span else "",
                "span_end": end in ends,
                "label": span.label.name if span else "",
            }
        )
    return Template(NAIVE_TEMPLATE).render(Context({"tokens": tokens}))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=30, help="renders per document size")
    parser.add_argument("--saves", type=int, default=200, help="saves per way of saving")
    parser.add_argument("--only-save", action="store_true", help="measure the span save alone")
    parser.add_argument("--browser-repeat", type=int, default=10, help="openings and edits in Chromium")
    parser.add_argument("--no-browser", action="store_true", help="leave out the in-browser figures")
    args = parser.parse_args(argv)
    setup_django()
    from django.test import Client
    from django.urls import reverse

    from annotation.models import Annotation

    user = bench_admin()
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    if args.only_save:
        save_one_span(user, fresh_project(user, SAVE_PROJECT), client, args.saves)
        return 0
    project, documents = build_documents(user)

    rows = []
    for size, document in documents.items():
        url = reverse("annotate", args=[project.pk, document.pk])
        ours = p50_p95(time_calls(lambda url=url: client.get(url), args.repeat))
        annotation = Annotation.objects.get(document=document, annotator=user)
        naive = p50_p95(time_calls(lambda d=document, a=annotation: naive_render(d, a), args.repeat))
        spans = annotation.spans.count()
        rows.append(
            [
                size,
                spans,
                f"{ours[0]:.1f} / {ours[1]:.1f}",
                f"{naive[0]:.1f} / {naive[1]:.1f}",
                f"{naive[0] / ours[0]:.1f}×",
            ]
        )
    print_table(
        ["tokens", "spans", "our page p50 / p95 ms", "template loop, text only, p50 / p95 ms", "ratio"],
        rows,
        "Labelling page render, server side (target: 5,000 tokens under 300 ms)",
    )

    save_one_span(user, fresh_project(user, SAVE_PROJECT), client, args.saves)
    if not args.no_browser:
        in_the_browser(user, project, documents[16_000], repeat=args.browser_repeat)
    return 0


DOCCANO_SAVE = "15–18 / 20–26"  # doccano 1.8.4 creating one span over HTTP, ../shared/notes/performance.md


def save_one_span(user, project, client, saves: int) -> None:
    """Tag one free token of a 2,000-token document holding 100 spans, through the labelling
    page's endpoint and through the API (PUT the spans with one more), each save then taken
    back untimed so every save meets 100 spans; the baseline saves on the page and then
    re-renders it, what a page without partial answers would do."""
    import os

    from django.test import Client
    from django.urls import reverse

    from annotation import editing
    from annotation.services import create_document
    from studio.tokens import create_token

    document = create_document(project, text_of(2_000), title="2,000 tokens, 100 spans")
    disease, treatment = project.labels.get(name="DISEASE"), project.labels.get(name="TREATMENT")
    annotation = editing.annotation_for(document, user)
    for first in range(0, 2_000, 20):
        annotation = editing.add_span(
            annotation, version=annotation.version, first_token=first, last_token=first, label=disease
        ).annotation
    free = [first + 10 for first in range(0, 2_000, 20)]
    add_url = reverse("span_add", args=[project.pk, document.pk])
    page_url = reverse("annotate", args=[project.pk, document.pk])
    spans_url = f"/api/v1/projects/{project.pk}/documents/{document.pk}/spans/"
    os.environ.setdefault("API_RATE_LIMIT", "1000000/minute")  # measure the work, not the throttle
    _, key = create_token(user, "labelling benchmark")
    api = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Token {key}", HTTP_X_FORWARDED_PROTO="https")
    loaded = api.get(spans_url).json()["spans"]
    kept = [{"start": span["start"], "end": span["end"], "label": span["label"]} for span in loaded]

    def timed(save, count: int) -> list[float]:
        samples = []
        for number in range(count + 5):  # the first five warm up
            token = free[number % len(free)]
            version = editing.own_annotation(document, user).version
            started = time.perf_counter()
            save(token, version)
            if number >= 5:
                samples.append((time.perf_counter() - started) * 1000)
            annotation = editing.own_annotation(document, user)
            span = annotation.spans.get(start=document.token_starts[token])
            editing.delete_span(annotation, version=annotation.version, span_id=span.pk)
        return samples

    def on_the_page(token, version, then_reload=False):
        response = client.post(add_url, {"first": token, "last": token, "label": treatment.pk, "version": version})
        assert response.status_code == 200, response.content[:200]
        if then_reload:
            client.get(page_url)

    def through_the_api(token, version):
        new = {"start": document.token_starts[token], "end": document.token_ends[token], "label": "TREATMENT"}
        payload = {"version": version, "spans": [*kept, new]}
        response = api.put(spans_url, payload, content_type="application/json")
        assert response.status_code == 200, response.content[:200]

    page = p50_p95(timed(on_the_page, saves))
    through_api = p50_p95(timed(through_the_api, saves))
    naive = p50_p95(timed(lambda token, version: on_the_page(token, version, then_reload=True), saves // 2))
    print_table(
        ["save one span (2,000 tokens, 100 spans)", "p50 ms", "p95 ms"],
        [
            ["ours, the labelling page: answer with the touched blocks", f"{page[0]:.1f}", f"{page[1]:.1f}"],
            ["ours, the API: PUT .../spans/ with one span more", f"{through_api[0]:.1f}", f"{through_api[1]:.1f}"],
            ["baseline: save on the page, then re-render it", f"{naive[0]:.1f}", f"{naive[1]:.1f}"],
            ["ratio (baseline / the page, p50)", f"{naive[0] / page[0]:.1f}×", ""],
            ["doccano 1.8.4, one span over HTTP (performance note)", *DOCCANO_SAVE.split(" / ")],
        ],
        f"Span save latency over {saves} saves each, in-process client (target: p95 ≤ 10 ms, p50 ≤ 6 ms)",
    )


# The page's own clock, so that the figures do not include how often the driver looks: when
# the text first has the focus (from the start of the navigation), and from a key press until
# the frame after its answer has settled.
IN_PAGE_CLOCK = """
window.__focusedAt = null;
window.__drawn = null;
document.addEventListener("focusin", (event) => {
  if (window.__focusedAt === null && event.target.closest("#doc-text")) window.__focusedAt = performance.now();
});
document.addEventListener("keydown", () => { window.__pressedAt = performance.now(); window.__drawn = null; }, true);
document.addEventListener("htmx:afterSettle", () => {
  const pressed = window.__pressedAt;
  requestAnimationFrame(() => { window.__drawn = performance.now() - pressed; });
});
"""


def page_value(page, expression: str, timeout: float = 10.0):
    """`expression` once the page has set it (wait_for_function would need eval, which the
    page's Content-Security-Policy refuses)."""
    deadline = time.monotonic() + timeout
    while (value := page.evaluate(expression)) is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{expression} was never set")
        time.sleep(0.1)  # the clock is in the page: looking less often leaves the server the CPU
    return value


def in_the_browser(user, project, document, *, repeat: int) -> None:
    """Open the note and tag free tokens by key presses in headless Chromium, against a live
    server in this process (static files served as under runserver)."""
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.test import Client
    from django.test.testcases import LiveServerThread
    from django.urls import reverse
    from playwright.sync_api import expect, sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("\n(no chromium on this machine: the in-browser figures are left out)")
        return
    server = LiveServerThread("localhost", StaticFilesHandler, connections_override={}, port=0)
    server.daemon = True
    server.start()
    server.is_ready.wait()
    if server.error:
        raise server.error
    client = Client()
    client.force_login(user)
    url = f"http://localhost:{server.port}" + reverse("annotate", args=[project.pk, document.pk])
    opening, saving = [], []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
            context = browser.new_context(viewport={"width": 1300, "height": 900})
            context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": url}])
            page = context.new_page()
            page.add_init_script(IN_PAGE_CLOCK)
            for _ in range(repeat + 1):  # the first opening warms the server's caches
                page.goto(url)
                expect(page.locator("#doc-text")).to_be_focused()
                opening.append(page.evaluate("window.__focusedAt"))
            opening = opening[1:]
            for first in range(5, 5 + 10 * (repeat + 1), 10):  # tokens 5, 15, ...: free, between the spans
                page.evaluate(f"document.querySelector('#doc-text .t[data-i=\"{first}\"]').click()")
                page.keyboard.press("2")
                saving.append(page_value(page, "window.__drawn"))
            saving = saving[1:]
            browser.close()
    finally:
        server.terminate()
    tokens, spans = len(document.token_starts), document.annotations.get().spans.count()
    open_p50, open_p95 = p50_p95(opening)
    save_p50, save_p95 = p50_p95(saving)
    print_table(
        ["in Chromium, " + f"{tokens:,}-token note with {spans:,} spans", "p50 ms", "p95 ms", "target"],
        [
            ["open: from navigation until the text has the focus", f"{open_p50:.0f}", f"{open_p95:.0f}", "< 1,000"],
            ["tag a token: key press until the answer is drawn", f"{save_p50:.0f}", f"{save_p95:.0f}", "< 300"],
        ],
        f"The longest note in a headless browser, {repeat} openings and {repeat} edits",
    )


if __name__ == "__main__":
    sys.exit(main())
