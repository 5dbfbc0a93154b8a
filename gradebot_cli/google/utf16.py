"""UTF-16 arithmetic for the Docs API, whose indexes count UTF-16 code units.

A character outside the Basic Multilingual Plane (most emoji, some CJK) is two
code units, so ``len()`` of a Python string gives wrong indexes as soon as a
student or the feedback uses one.
"""

from __future__ import annotations

import re

# insertText drops U+0000-U+0008, U+000C-U+001F and the private use area
# U+E000-U+F8FF (Docs API reference, InsertTextRequest). Removing them first keeps
# computed indexes equal to what the document receives. U+0009 (tab), U+000A
# (paragraph break) and U+000B (line break) are kept.
_DROPPED_BY_DOCS = re.compile("[\u0000-\u0008\u000c-\u001f\ue000-\uf8ff]")


def utf16_len(text: str) -> int:
    """Return the length of ``text`` in UTF-16 code units."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def docs_text(text: str) -> str:
    """Return ``text`` as one Docs paragraph's content.

    Newlines become line breaks (U+000B) so the text stays one paragraph, and
    the characters the Docs API would silently drop are removed.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\u000b")
    return _DROPPED_BY_DOCS.sub("", text)
