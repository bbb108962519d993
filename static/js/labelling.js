// The labelling page: token selection, hotkeys and edits. Every edit is a POST whose
// answer (htmx out-of-band fragments) redraws what changed; nothing is kept only here.
(() => {
  const root = document.getElementById("annotate");
  if (!root) return;
  const text = document.getElementById("doc-text");
  const csrf = document.body.getAttribute("hx-headers");

  // 400 (refused edit) and 409 (changed elsewhere) answers carry fragments to show too.
  htmx.config.responseHandling = [
    { code: "204", swap: false },
    { code: "[23]..", swap: true },
    { code: "(400|409)", swap: true, error: false },
    { code: "[45]..", swap: false, error: true },
  ];

  let selection = null; // {first, last} token indices, inclusive
  let selectedSpan = null; // span id
  let selectedSuggestion = null; // suggestion id
  let cursor = null; // token index
  let anchor = null; // where a Shift-extended selection started
  let busy = false;
  let pointer = "mouse"; // how the last click came
  let tappedFirst = false; // a tap chose the first word of a range: the next tap chooses the last
  let warnedLeaving = false;

  const tokens = () => text.querySelectorAll(".t");
  const token = (index) => text.querySelector(`.t[data-i="${index}"]`);
  const tokenCount = () => tokens().length;
  const indexOf = (element) => Number(element.dataset.i);
  const spanOf = (tokenElement) => tokenElement && tokenElement.closest("mark.span");
  const version = () => document.getElementById("editor-state").dataset.version;

  // One cursor at a time: the token cursor shows only while the selection is tokens.
  function paint() {
    text.querySelectorAll(".selected, .cursor").forEach((el) => el.classList.remove("selected", "cursor"));
    if (selectedSuggestion) {
      const marks = text.querySelectorAll(`mark.suggestion[data-suggestion="${selectedSuggestion}"]`);
      marks.forEach((m) => m.classList.add("selected"));
      // A field in use (the suggestion panel's threshold slider) keeps the focus.
      if (!document.activeElement?.closest("input, textarea, select")) marks[0]?.focus({ preventScroll: false });
    }
    if (selection) {
      for (let i = selection.first; i <= selection.last; i++) token(i)?.classList.add("selected");
    }
    if (selectedSpan) {
      text.querySelectorAll(`mark.span[data-span="${selectedSpan}"]`).forEach((m) => m.classList.add("selected"));
    }
    if (cursor !== null && !selectedSpan && !selectedSuggestion) token(cursor)?.classList.add("cursor");
  }

  function say(message, level = "error") {
    const box = document.getElementById("editor-message");
    box.textContent = message;
    box.className = `editor-message ${level}`;
  }

  // Refusals other than 400 and 409 carry no fragments: say what happened, keep the page.
  const REFUSALS = {
    403: "You may not change this document.",
    404: "That is gone: it was changed elsewhere. Reload the page to see the current version.",
    413: "That edit is too large to send.",
    429: "Too many edits in a row; wait a moment and try again.",
  };
  document.body.addEventListener("htmx:responseError", (event) => {
    const xhr = event.detail.xhr;
    const plain = (xhr.getResponseHeader("Content-Type") || "").startsWith("text/plain") && xhr.responseText.trim();
    say(
      plain ||
        REFUSALS[xhr.status] ||
        (xhr.status >= 500
          ? "The server could not save this; nothing was changed. Try again."
          : `The server refused this (${xhr.status}); nothing was changed.`),
    );
  });

  function selectTokens(first, last) {
    selection = { first: Math.min(first, last), last: Math.max(first, last) };
    selectedSpan = selectedSuggestion = null;
    paint();
  }

  function selectSpan(id) {
    tappedFirst = false;
    selectedSpan = id;
    selection = selectedSuggestion = null;
    paint();
  }

  function selectSuggestion(id) {
    tappedFirst = false;
    selectedSuggestion = id;
    selection = selectedSpan = null;
    paint();
  }

  function clearSelection() {
    tappedFirst = false;
    selection = selectedSpan = selectedSuggestion = null;
    paint();
  }

  // Tab walks the suggestions in text order.
  function stepSuggestion(step) {
    const ids = [...new Set([...text.querySelectorAll("mark.suggestion")].map((m) => m.dataset.suggestion))];
    if (!ids.length) return false;
    const at = ids.indexOf(selectedSuggestion);
    const next = at === -1 ? (step > 0 ? 0 : ids.length - 1) : (at + step + ids.length) % ids.length;
    selectSuggestion(ids[next]);
    return true;
  }

  // Snap a mouse selection outwards to whole tokens.
  function tokensInRange(range) {
    const probe = document.createRange();
    const hits = [];
    for (const element of tokens()) {
      probe.selectNodeContents(element);
      // The token overlaps the range: the range ends after the token starts, and starts
      // before the token ends (compareBoundaryPoints names these the other way round).
      if (
        range.compareBoundaryPoints(Range.START_TO_END, probe) > 0 &&
        range.compareBoundaryPoints(Range.END_TO_START, probe) < 0
      ) {
        hits.push(indexOf(element));
      } else if (hits.length) {
        break;
      }
    }
    return hits;
  }

  text.addEventListener("mouseup", () => {
    const browserSelection = window.getSelection();
    if (!browserSelection.rangeCount || browserSelection.isCollapsed) return;
    const hits = tokensInRange(browserSelection.getRangeAt(0));
    browserSelection.removeAllRanges();
    if (!hits.length) return;
    anchor = hits[0];
    cursor = hits[hits.length - 1];
    selectTokens(hits[0], cursor);
  });

  text.addEventListener("pointerdown", (event) => {
    pointer = event.pointerType;
  });

  text.addEventListener("click", (event) => {
    if (!window.getSelection().isCollapsed) return;
    const clicked = event.target.closest(".t, mark.span, mark.suggestion");
    if (!clicked) return;
    const suggestion = clicked.closest("mark.suggestion");
    if (suggestion) return selectSuggestion(suggestion.dataset.suggestion);
    const mark = clicked.closest("mark.span");
    const index = indexOf(clicked.closest(".t") || clicked.querySelector(".t"));
    if (!mark && selection && (tappedFirst || event.shiftKey) && index !== anchor) {
      cursor = index;
      selectTokens(anchor, index);
      tappedFirst = false;
    } else if (mark) {
      cursor = indexOf(mark.querySelector(".t"));
      selectSpan(mark.dataset.span);
    } else {
      cursor = anchor = index;
      selectTokens(cursor, cursor);
      tappedFirst = pointer === "touch";
      if (tappedFirst) say("Tap the last word to select up to it, or tap a label.", "hint");
    }
  });

  // The span list beside the text, read off the marks after each answer (one row per span, in
  // text order), so an edit's answer stays the few blocks it touched however many spans there are.
  let listed = null;
  function listSpans() {
    const marks = [...text.querySelectorAll("mark.span")].filter(
      (mark, at, all) => at === 0 || all[at - 1].dataset.span !== mark.dataset.span
    );
    const signature = marks.map((mark) => `${mark.dataset.span}:${mark.dataset.label}`).join(",");
    if (signature === listed) return;
    listed = signature;
    const card = document.getElementById("span-list");
    const rows = marks.map((mark) => {
      const words = mark.getAttribute("aria-label").slice(mark.dataset.label.length + 2);
      const line = mark.closest("[data-line]").dataset.line;
      const row = document.createElement("button");
      row.type = "button";
      row.className = "span-row";
      row.dataset.jump = mark.dataset.span;
      row.setAttribute("aria-label", `Go to ${mark.dataset.label} ${words}, line ${line}`);
      const chip = document.createElement("span");
      chip.className = `label-chip ${[...mark.classList].find((name) => name.startsWith("c-")) ?? ""}`;
      chip.textContent = mark.dataset.label;
      const item = document.createElement("li");
      item.append(row);
      row.append(chip, part("span-words", words), part("span-line muted", `line ${line}`));
      return item;
    });
    card.querySelector("ol").replaceChildren(...rows);
    card.querySelector(".span-list-empty").hidden = rows.length > 0;
    document.getElementById("span-count").textContent = `(${rows.length})`;
  }

  function part(className, content) {
    const element = document.createElement("span");
    element.className = className;
    element.textContent = content;
    return element;
  }

  // The span list beside the text: a click selects that span and brings it into view.
  root.addEventListener("click", (event) => {
    const row = event.target.closest("[data-jump]");
    if (!row) return;
    const mark = text.querySelector(`mark.span[data-span="${row.dataset.jump}"]`);
    if (!mark) return;
    cursor = anchor = indexOf(mark.querySelector(".t"));
    selectSpan(row.dataset.jump);
    mark.scrollIntoView({ block: "center" });
    text.focus({ preventScroll: true });
  });

  function post(url, values) {
    if (busy) return Promise.resolve();
    busy = true;
    return htmx
      .ajax("POST", url, {
        source: root,
        target: "#editor-message",
        swap: "none",
        values: { ...values, version: version() },
        headers: JSON.parse(csrf || "{}"),
      })
      .catch(() => say("Could not reach the server; nothing was changed. Try again."))
      .finally(() => {
        busy = false;
      });
  }

  // Ctrl+Enter: submit, then open the next document in the project's order once saved.
  function submitAndNext() {
    post(root.dataset.submitUrl, {}).then(() => {
      const outcome = document.getElementById("editor-state").dataset.outcome;
      if (outcome === "ok" && root.dataset.nextUrl) window.location.assign(root.dataset.nextUrl);
    });
  }

  function spanUrl(template, id) {
    return template.replace(/\/0\/(label|delete|accept|reject)\/$/, `/${id}/$1/`);
  }

  // The suggestion panel (from the model's side of the studio) carries the URLs for deciding on them.
  const suggestionUrls = () => document.getElementById("suggestion-panel")?.dataset ?? {};

  function decideSuggestion(accepted, labelId) {
    if (!selectedSuggestion && !stepSuggestion(1)) return say("There are no suggestions on this document.");
    const template = accepted ? suggestionUrls().acceptUrl : suggestionUrls().rejectUrl;
    post(spanUrl(template, selectedSuggestion), labelId ? { label: labelId } : {});
  }

  function applyLabel(labelId) {
    if (selectedSuggestion) {
      decideSuggestion(true, labelId);
    } else if (selectedSpan) {
      post(spanUrl(root.dataset.relabelUrl, selectedSpan), { label: labelId });
    } else if (selection) {
      post(root.dataset.addUrl, { first: selection.first, last: selection.last, label: labelId });
    } else {
      say("Select some text first: drag over it, double-click a word, or use the arrow keys.");
    }
  }

  function deleteSelected() {
    if (selectedSpan) post(spanUrl(root.dataset.deleteUrl, selectedSpan), {});
  }

  // After each answer: a saved edit clears the selection; a refused one keeps it.
  document.body.addEventListener("htmx:afterSettle", afterAnswer);
  document.body.addEventListener("htmx:afterRequest", afterAnswer);
  function afterAnswer() {
    listSpans();
    const outcome = document.getElementById("editor-state").dataset.outcome;
    if (outcome === "ok") {
      selection = null;
      if (selectedSpan && !text.querySelector(`mark.span[data-span="${selectedSpan}"]`)) selectedSpan = null;
      if (selectedSuggestion && !text.querySelector(`mark.suggestion[data-suggestion="${selectedSuggestion}"]`)) {
        selectedSuggestion = null;
        stepSuggestion(1);
      }
    }
    paint();
  }

  root.addEventListener("click", (event) => {
    const labelButton = event.target.closest(".label-button");
    if (labelButton) return applyLabel(labelButton.dataset.label);
    const action = event.target.closest("[data-action]")?.dataset.action;
    if (action === "undo") post(root.dataset.undoUrl, {});
    if (action === "redo") post(root.dataset.redoUrl, {});
    if (action === "submit") post(root.dataset.submitUrl, {});
    if (action === "help") document.getElementById("shortcuts").showModal();
    if (action === "accept-all") post(suggestionUrls().acceptAllUrl, {});
    if (action === "reject-all") post(suggestionUrls().rejectAllUrl, {});
    if (action === "restore") {
      const chosen = event.target.closest("[data-rejected]")?.dataset.rejected;
      post(suggestionUrls().restoreUrl, chosen ? { suggestion: chosen } : {});
    }
  });

  function moveCursor(step, extend) {
    const count = tokenCount();
    if (!count) return;
    placeCursor(cursor === null ? (step > 0 ? 0 : count - 1) : Math.max(0, Math.min(count - 1, cursor + step)), step, extend);
  }

  function placeCursor(index, step = 1, extend = false) {
    tappedFirst = false;
    cursor = index;
    const mark = spanOf(token(cursor));
    const suggestion = token(cursor)?.closest("mark.suggestion");
    if (suggestion && !extend) {
      anchor = cursor;
      selectSuggestion(suggestion.dataset.suggestion);
    } else if (extend) {
      if (anchor === null) anchor = cursor - step;
      selectTokens(anchor, cursor);
    } else if (mark) {
      anchor = cursor;
      selectSpan(mark.dataset.span);
    } else {
      anchor = cursor;
      selectTokens(cursor, cursor);
    }
    token(cursor)?.scrollIntoView({ block: "nearest" });
  }

  const hotkeys = new Map(
    [...root.querySelectorAll(".label-button[data-hotkey]")]
      .filter((b) => b.dataset.hotkey)
      .map((b) => [b.dataset.hotkey.toLowerCase(), b.dataset.label])
  );

  document.addEventListener("keydown", (event) => {
    if (event.target.closest("input, textarea, select, dialog") || event.altKey || event.metaKey) return;
    const key = event.key;
    if (event.ctrlKey) {
      if (key === "Enter") submitAndNext();
      else if (key.toLowerCase() === "z" && event.shiftKey) post(root.dataset.redoUrl, {});
      else if (key.toLowerCase() === "z") post(root.dataset.undoUrl, {});
      else if (key.toLowerCase() === "y") post(root.dataset.redoUrl, {});
      else return;
      event.preventDefault();
      return;
    }
    if (key === "ArrowRight" || key === "ArrowLeft") {
      moveCursor(key === "ArrowRight" ? 1 : -1, event.shiftKey);
    } else if (key === "Tab" && text.contains(document.activeElement)) {
      if (!stepSuggestion(event.shiftKey ? -1 : 1)) moveCursor(event.shiftKey ? -1 : 1, false);
    } else if (key === "a" && !hotkeys.has("a")) {
      decideSuggestion(true);
    } else if (key === "x" && !hotkeys.has("x")) {
      decideSuggestion(false);
    } else if (hotkeys.has(key.toLowerCase())) {
      applyLabel(hotkeys.get(key.toLowerCase()));
    } else if (key === "Delete" || key === "Backspace") {
      deleteSelected();
    } else if (key === "Escape") {
      clearSelection();
    } else if (key === "]" && root.dataset.nextUrl) {
      if (mayLeave()) window.location.assign(root.dataset.nextUrl);
    } else if (key === "[" && root.dataset.previousUrl) {
      if (mayLeave()) window.location.assign(root.dataset.previousUrl);
    } else if (key === "?") {
      document.getElementById("shortcuts").showModal();
    } else {
      return;
    }
    event.preventDefault();
  });

  // Edits are saved as they happen; leaving a document that is not submitted says so once.
  function mayLeave() {
    if (warnedLeaving || document.getElementById("editor-state").dataset.unsubmitted !== "true") return true;
    warnedLeaving = true;
    say(root.dataset.leaveWarning, "warning");
    return false;
  }

  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[href]");
    if (!link || link.target || event.ctrlKey || event.metaKey || event.shiftKey || link.getAttribute("href").startsWith("#")) return;
    if (!mayLeave()) event.preventDefault();
  });

  // The side column sits below the sticky bar, whose height changes as its buttons wrap.
  const bar = document.getElementById("annotate-bar");
  new ResizeObserver(() => root.style.setProperty("--bar-height", `${bar.offsetHeight}px`)).observe(bar);

  // On opening, the text has the focus: on the first suggestion if there is one, else on the
  // first token. The span list follows once the page has drawn, so a long note is ready sooner.
  text.focus({ preventScroll: true });
  if (!stepSuggestion(1) && tokenCount()) placeCursor(0);
  requestAnimationFrame(() => setTimeout(listSpans));
})();
