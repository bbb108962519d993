"""What readers produce and writers consume, and the checks every reader shares."""

from dataclasses import dataclass, field

from annotation.text.bio import tags_to_spans
from annotation.text.formats.errors import FormatError
from studio.safe_json import first_problem, string_problem

Mention = tuple[int, int, str]  # (start, end exclusive, label), character offsets
# PostgreSQL's full-text index refuses a document whose word list passes 1 MB, which a
# text of distinct words reaches near a million characters; notes and abstracts are far shorter.
MAX_CHARACTERS = 500_000
LABEL_MAX_LENGTH = 50


@dataclass
class ImportedDocument:
    text: str
    title: str = ""
    external_id: str = ""
    metadata: dict = field(default_factory=dict)
    mentions: list[Mention] = field(default_factory=list)
    # Set only when the source has its own tokenisation (CoNLL, Hugging Face).
    tokens: list[tuple[int, int]] | None = None
    line: int | None = None  # where the document starts in the source, for messages
    nested_dropped: int = 0  # mentions inside a longer one, which flat NER cannot keep


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
    """Check a freshly read document, sort its mentions, and return it.

    Corpora such as BC5CDR annotate "hepatitis" inside "drug-induced hepatitis"; spans
    here are flat, so a mention inside a longer one is dropped and counted, unless
    `drop_nested` is off. Mentions that cross (each reaching outside the other) are an
    error either way: which one was meant is not for us to guess.
    """
    text, line = document.text, document.line
    if not text.strip():
        raise FormatError("empty document", line=line)
    for name, value in (("the text", text), ("the title", document.title), ("the id", document.external_id)):
        problem = string_problem(value)
        if problem:
            raise FormatError(f"{name} {problem}", line=line)
    problem = first_problem(document.metadata, "metadata")
    if problem:
        raise FormatError(problem, line=line)
    if len(text) > MAX_CHARACTERS:
        raise FormatError(
            f"the document has {len(text):,} characters; split it into documents of at most {MAX_CHARACTERS:,}",
            line=line,
        )
    for mention in document.mentions:
        check_mention(text, mention, line=line)
    # Longest first at each start, so an outer mention comes before those inside it.
    ordered = sorted(document.mentions, key=lambda m: (m[0], -m[1], m[2]))
    kept: list[Mention] = []
    for mention in ordered:
        previous = kept[-1] if kept else None
        if previous is None or mention[0] >= previous[1]:
            kept.append(mention)
        elif drop_nested and mention[1] <= previous[1]:
            document.nested_dropped += 1
        else:
            raise FormatError(
                f"mention {_describe(text, mention)} overlaps {_describe(text, previous)}",
                line=line,
            )
    document.mentions = kept
    return document


def from_tagged_sentences(sentences: list[list[tuple[str, str]]], **fields) -> ImportedDocument:
    """A validated document from (token, IOB2 tag) sentences, keeping their tokenisation.

    Tokens are joined by single spaces and sentences by newlines; invalid tag
    sequences are repaired like conlleval.
    """
    lines: list[str] = []
    tokens: list[tuple[int, int]] = []
    mentions: list[Mention] = []
    offset = 0
    for sentence in sentences:
        starts, ends = [], []
        for token, _ in sentence:
            starts.append(offset)
            offset += len(token)
            ends.append(offset)
            offset += 1  # the space after the token, or the newline after the sentence
        lines.append(" ".join(token for token, _ in sentence))
        tokens.extend(zip(starts, ends))
        mentions.extend(tags_to_spans(starts, ends, [tag for _, tag in sentence]))
    return validated(ImportedDocument("\n".join(lines), mentions=mentions, tokens=tokens, **fields))
