"""What may be stored as JSON: every value SpyGlass keeps (task arguments, results,
messages, custom event data) passes through here first.

Python's json accepts things that break later, far from the caller: a lone
UTF-16 surrogate ("\\ud800") cannot be encoded as UTF-8, so a stored one makes
every later read of the record fail; NaN and Infinity are not JSON and
PostgreSQL refuses them; very deep nesting exhausts the recursion limit of
whoever reads it next. They are refused at the door, with the reason.
"""

from __future__ import annotations

import json
import math
from typing import Any

from tasks.text import is_encodable

MAX_DEPTH = 64


class UnsafeJson(ValueError):
    """A value that cannot be stored as JSON; the message says why."""


def _refuse_constant(name: str) -> Any:
    raise UnsafeJson(f"{name} is not a JSON number")


def parse_json(raw: bytes | str) -> Any:
    """Decodes JSON text, refusing what `check_json` refuses; UnsafeJson says why."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise UnsafeJson(f"the body is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise UnsafeJson(f"the JSON is nested more than {MAX_DEPTH} levels deep") from None
    except json.JSONDecodeError as exc:
        raise UnsafeJson(f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except ValueError as exc:  # e.g. an integer longer than Python's digit limit
        raise UnsafeJson(f"invalid JSON: {exc}") from None
    return check_json(value)


def check_json(value: Any, what: str = "the value") -> Any:
    """Returns `value` if it can be stored and sent as JSON, else raises UnsafeJson.
    Iterative, so a deep value cannot exhaust the stack here."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise UnsafeJson(f"{what} is nested more than {MAX_DEPTH} levels deep")
        if isinstance(item, str):
            _check_text(item, what)
        elif isinstance(item, bool) or item is None or isinstance(item, int):
            continue
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise UnsafeJson(f"{what} holds {item}, which is not a JSON number")
        elif isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    raise UnsafeJson(f"{what} has a non-string key {key!r}")
                _check_text(key, what)
                stack.append((child, depth + 1))
        elif isinstance(item, list | tuple):
            stack.extend((child, depth + 1) for child in item)
        else:
            raise UnsafeJson(f"{what} holds a {type(item).__name__}, which is not JSON")
    return value


def _check_text(text: str, what: str) -> None:
    if not is_encodable(text):
        raise UnsafeJson(f"{what} contains an unpaired UTF-16 surrogate, which cannot be stored")
