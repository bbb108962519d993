"""What readers produce and writers consume, and the checks every reader shares."""

from dataclasses import dataclass, field

from annotation.text.bio import tags_to_spans
from annotation.text.formats.errors import FormatError
from studio.safe_json import first_problem, string_problem

Mention = tuple[int, int, str]  # (start, end exclusive, label), character offsets
# PostgreSQL's full-text index refuses a document whose word list passes 1 MB, which a
# text of distinct words reaches near a million characters; notes and abstracts are far shorter.
MAX_CHARACTERS = 500_000
NOT_STARTED = "not_started"  # the status an export gives a document nobody has annotated
LABEL_MAX_LENGTH = 50


@dataclass
class ImportedAnnotation:
    """One person's annotation of a document, as the source tool kept it. No mentions is a
    decision too: that person found nothing to tag."""

    mentions: list[Mention] = field(default_factory=list)
    annotator: str = ""  # the source's user name, e-mail or id; "" for whoever imports the file


@dataclass
class ImportedDocument:
    text: str
    title: str = ""
    external_id: str = ""
    metadata: dict = field(default_factory=dict)
    # The file's mentions when it names no annotator (most formats): the importer's.
    mentions: list[Mention] = field(default_factory=list)
    # Annotations by the people the source names (Label Studio), one each.
    annotations: list[ImportedAnnotation] = field(default_factory=list)
    # True: the source holds an annotation of it, if only an empty one; False: nobody
    # annotated it there; None: the format cannot tell, so the whole file decides.
    annotated: bool | None = None
    concepts: dict[Mention, str] = field(default_factory=dict)  # concept ids the source gives mentions
    # Set only when the source has its own tokenisation (CoNLL, Hugging Face).
    tokens: list[tuple[int, int]] | None = None
    line: int | None = None  # where the document starts in the source, for messages
    where: str = ""  # how messages name it when a line number would not help ("task 3, id 17")
    nested_dropped: int = 0  # mentions inside a longer one, which flat NER cannot keep
    trimmed: int = 0  # mentions whose selection took in surrounding whitespace, trimmed
    repaired: int = 0  # I- tags that began a mention (after O or another label), read as B-
    problems: list[str] = field(default_factory=list)  # what stops it from being imported

    def all_mentions(self) -> list[Mention]:
        return self.mentions + [m for annotation in self.annotations for m in annotation.mentions]


@dataclass
class ExportDocument:
    id: int
    title: str
    external_id: str
    text: str
    token_starts: list[int]
    token_ends: list[int]
    spans: list[Mention]
    metadata: dict
    status: str = ""
    concepts: dict[tuple[int, int], str] = field(default_factory=dict)  # (start, end) -> concept id
    # Every annotator's annotation in the export's scope (their e-mail or user name, their
    # mentions), for the formats that keep one per annotator (Label Studio JSON).
    annotations: list[tuple[str, list[Mention]]] = field(default_factory=list)


def sentences_of(document: ExportDocument) -> list[range]:
    """The token indices of each sentence: a line of the text each, as CoNLL sentences are
    imported, so that exports give them back."""
    text, starts, ends = document.text, document.token_starts, document.token_ends
    breaks = [index for index in range(1, len(starts)) if "\n" in text[ends[index - 1] : starts[index]]]
    edges = [0, *breaks, len(starts)]
    return [range(first, end) for first, end in zip(edges, edges[1:]) if first < end]


def quote(text: str, start: int, end: int, limit: int = 40) -> str:
    excerpt = text[start:end]
    if len(excerpt) > limit:
        excerpt = excerpt[: limit - 1] + "…"
    return '"' + excerpt.replace("\n", " ") + '"'


def _describe(text: str, mention: Mention) -> str:
    start, end, label = mention
    return f"{label} {start}-{end} {quote(text, start, end)}"


def check_mention(text: str, mention: Mention, *, line: int | None) -> None:
    """Raise FormatError unless the mention is a well-formed, non-blank slice of text."""
    start, end, label = mention
    if not all(isinstance(offset, int) and not isinstance(offset, bool) for offset in (start, end)):
        raise FormatError(f"mention offsets must be integers, found {start!r}-{end!r}", line=line)
    if not isinstance(label, str) or not label.strip():
        raise FormatError(f"mention {start}-{end} has no label", line=line)
    if len(label) > LABEL_MAX_LENGTH or string_problem(label):
        problem = string_problem(label) or f"is longer than {LABEL_MAX_LENGTH} characters"
        raise FormatError(f"the label of mention {start}-{end} {problem}", line=line)
    if start >= end:
        raise FormatError(f"mention {label} {start}-{end} is empty or reversed", line=line)
    if start < 0 or end > len(text):
        raise FormatError(
            f"mention {label} {start}-{end} is out of range: the text has {len(text)} characters",
            line=line,
        )
    # Whitespace at an edge is never on a token edge, so the mention could not be stored.
    if text[start].isspace() or text[end - 1].isspace():
        raise FormatError(f"mention {_describe(text, mention)} starts or ends with whitespace", line=line)


def validated(document: ImportedDocument, *, drop_nested: bool = True) -> ImportedDocument:
    """Check a freshly read document, repair what a peer tool's habits leave behind, and
    return it, with whatever cannot be repaired listed in `problems` (every one, so that
    a person can fix a file in one go).

    A mention whose selection took in the spaces around a word is trimmed to the word and
    counted. Corpora such as BC5CDR annotate "hepatitis" inside "drug-induced hepatitis";
    spans here are flat, so a mention inside a longer one is dropped and counted, unless
    `drop_nested` is off. Mentions that cross (each reaching outside the other) are a
    problem either way: which one was meant is not for us to guess.
    """
    text = document.text
    problems = document.problems
    if len(document.annotations) == 1 and not document.annotations[0].annotator and not document.mentions:
        document.mentions = document.annotations.pop().mentions  # one annotation, by nobody named
    if not text.strip():
        problems.append("empty document")
        return document
    for name, value in (("the text", text), ("the title", document.title), ("the id", document.external_id)):
        problem = string_problem(value)
        if problem:
            problems.append(f"{name} {problem}")
    problem = first_problem(document.metadata, "metadata")
    if problem:
        problems.append(problem)
    if len(text) > MAX_CHARACTERS:
        problems.append(
            f"the document has {len(text):,} characters; split it into documents of at most {MAX_CHARACTERS:,}"
        )
        return document
    document.mentions = _checked(document, document.mentions, drop_nested)
    for annotation in document.annotations:
        annotation.mentions = _checked(document, annotation.mentions, drop_nested)
    return document


def _checked(document: ImportedDocument, mentions: list[Mention], drop_nested: bool) -> list[Mention]:
    """One annotation's mentions, trimmed, checked, sorted and flat."""
    text, good = document.text, []
    for mention in mentions:
        trimmed = trim_mention(text, mention)
        try:
            check_mention(text, trimmed, line=None)
        except FormatError as error:
            document.problems.append(error.message)
            continue
        if trimmed != mention:
            document.trimmed += 1
            if mention in document.concepts:
                document.concepts[trimmed] = document.concepts.pop(mention)
        good.append(trimmed)
    # Longest first at each start, so an outer mention comes before those inside it.
    kept: list[Mention] = []
    for mention in sorted(good, key=lambda m: (m[0], -m[1], m[2])):
        previous = kept[-1] if kept else None
        if previous is None or mention[0] >= previous[1]:
            kept.append(mention)
        elif drop_nested and mention[1] <= previous[1]:
            document.nested_dropped += 1
        else:
            document.problems.append(f"mention {_describe(text, mention)} overlaps {_describe(text, previous)}")
    return kept


def trim_mention(text: str, mention: Mention) -> Mention:
    """The mention without the whitespace at its edges (a mouse selection's habit)."""
    start, end, label = mention
    if not (type(start) is int and type(end) is int) or not 0 <= start < end <= len(text):
        return mention  # check_mention says what is wrong with it
    trimmed_start, trimmed_end = start, end
    while trimmed_start < trimmed_end and text[trimmed_start].isspace():
        trimmed_start += 1
    while trimmed_end > trimmed_start and text[trimmed_end - 1].isspace():
        trimmed_end -= 1
    if trimmed_start == trimmed_end:
        return mention  # only whitespace: check_mention refuses it
    return trimmed_start, trimmed_end, label


def problems_of(documents: list[ImportedDocument], limit: int = 50) -> str:
    """Every document's problems, one a line, each saying where; "" when there are none."""
    lines = []
    for document in documents:
        where = ", ".join(filter(None, [f"line {document.line}" if document.line is not None else "", document.where]))
        lines += [
            f"{where}: {problem}" if where and not problem.startswith("line ") else problem
            for problem in document.problems
        ]
    if len(lines) > limit:
        lines = lines[:limit] + [f"and {len(lines) - limit} more"]
    return "\n".join(lines)


def from_tagged_sentences(sentences: list[list[tuple[str, str]]], **fields) -> ImportedDocument:
    """A validated document from (token, IOB2 tag) sentences, keeping their tokenisation.

    Tokens are joined by single spaces and sentences by newlines; invalid tag
    sequences are repaired like conlleval.
    """
    lines: list[str] = []
    tokens: list[tuple[int, int]] = []
    mentions: list[Mention] = []
    repaired = 0
    offset = 0
    for sentence in sentences:
        previous = "O"
        for _, tag in sentence:
            if tag.startswith("I-") and previous[2:] != tag[2:]:
                repaired += 1
            previous = tag
        starts, ends = [], []
        for token, _ in sentence:
            starts.append(offset)
            offset += len(token)
            ends.append(offset)
            offset += 1  # the space after the token, or the newline after the sentence
        lines.append(" ".join(token for token, _ in sentence))
        tokens.extend(zip(starts, ends))
        mentions.extend(tags_to_spans(starts, ends, [tag for _, tag in sentence]))
    document = ImportedDocument("\n".join(lines), mentions=mentions, tokens=tokens, repaired=repaired, **fields)
    return validated(document)
