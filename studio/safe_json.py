"""JSON from outside (API bodies, uploaded files), and what PostgreSQL can store of it.

Python's decoder recurses once per nesting level and gives up on integers of over 4,300
digits with a bare ValueError: `loads` and `decode` turn both, and malformed JSON, into an
`UnsafeJSON` naming the place. Decoded values may still hold what PostgreSQL refuses (NUL,
lone surrogates from `\\ud800`, NaN and `1e400`'s infinity): `first_problem` finds it, for
the callers that know which field they are checking. No Django: the import formats use it.
"""

import json
import math

MAX_DEPTH = 64

_decoder = json.JSONDecoder()


class UnsafeJSON(ValueError):
    """Malformed or too deeply nested JSON; the message says where."""


def loads(text: str):
    value, end = decode(text)
    if text[end:].strip():
        raise UnsafeJSON("malformed JSON: extra data after the value")
    return value


def decode(text: str, position: int = 0) -> tuple[object, int]:
    """The value starting at `position` (whitespace allowed before it), and where it ends."""
    try:
        while position < len(text) and text[position] in " \t\r\n":
            position += 1
        value, end = _decoder.raw_decode(text, position)
    except json.JSONDecodeError as error:
        raise UnsafeJSON(f"malformed JSON: {error.msg} (line {error.lineno}, column {error.colno})") from None
    except RecursionError:
        raise UnsafeJSON(f"JSON nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as error:  # an integer of thousands of digits
        raise UnsafeJSON(f"malformed JSON: {error}") from None
    if _deeper_than(value, MAX_DEPTH):
        raise UnsafeJSON(f"JSON nested more than {MAX_DEPTH} levels deep")
    return value, end


def _deeper_than(value, limit: int) -> bool:
    pending = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        pending.extend((child, depth + 1) for child in children)
    return False


def first_problem(value, path: str = "value") -> str:
    """Why `value` (decoded JSON) cannot be stored, naming where; "" when it can."""
    pending = [(value, path)]
    while pending:
        item, where = pending.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return f"{where} is not a finite number"
        if isinstance(item, str):
            problem = string_problem(item)
            if problem:
                return f"{where} {problem}"
        elif isinstance(item, dict):
            for key, child in item.items():
                problem = string_problem(key) if isinstance(key, str) else ""
                if problem:
                    return f"{where} key {problem}"
                pending.append((child, f"{where}.{key}"))
        elif isinstance(item, list):
            pending.extend((child, f"{where}[{index}]") for index, child in enumerate(item))
    return ""


def string_problem(text: str) -> str:
    """PostgreSQL text and JSONB refuse NUL characters and unpaired surrogates."""
    if "\x00" in text:
        return "contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains an unpaired surrogate character"
    return ""
