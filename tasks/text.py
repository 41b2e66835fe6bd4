"""Text a store can hold. PostgreSQL refuses a NUL in a text value, as a row's
column or as a query parameter, and no driver can encode an unpaired UTF-16
surrogate (JSON's `\\ud800` decodes to one, so a browser's event or a task's
string may carry it). Free text is cleaned on its way in; a lookup by text no
store can hold finds nothing, the same on every store, instead of raising the
driver's error."""

from __future__ import annotations


def is_encodable(text: str) -> bool:
    """False for text holding an unpaired surrogate."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def names_nothing_stored(*texts: str) -> bool:
    """True when a text holds what stored text never does (a NUL, an unpaired
    surrogate): a lookup by it finds nothing."""
    return any("\x00" in text or not is_encodable(text) for text in texts)


def clean_text(text: str) -> str:
    """Free text from a task (log lines, messages, error strings, artifact labels)
    or a search box: each NUL and unpaired surrogate becomes one U+FFFD (a pair
    held as two code points is rejoined). A task whose error quoted a NUL had its
    end refused by PostgreSQL and stayed Processing."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    if is_encodable(text):
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
