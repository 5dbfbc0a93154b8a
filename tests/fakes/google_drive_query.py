"""The Drive v3 search language used by ``files.list`` and ``drives.list``.

Grammar, as Google documents it (``query_term operator values``)::

    query   := or
    or      := and ("or" and)*
    and     := unary ("and" unary)*
    unary   := "not" unary | "(" query ")" | term
    term    := 'value' "in" collection
             | map "has" "{" "key" "=" 'k' "and" "value" "=" 'v' "}"
             | name operator value

Strings are single-quoted with ``\\'`` and ``\\\\`` escapes. ``name contains``
matches a prefix of any word in the name. ``fullText contains`` matches whole
words, or an exact phrase when the value is wrapped in double quotes. A query
that does not parse, names an unknown term or pairs a term with an operator it
does not take raises :class:`QueryError`, which the API reports as 400.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

ORDERING = ("<", "<=", "=", "!=", ">", ">=")
EQUALITY = ("=", "!=")
STRING_OPS = ("contains", "=", "!=")

# term -> (kind, operators accepted)
FILE_TERMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "name": ("name", STRING_OPS),
    "fullText": ("fulltext", ("contains",)),
    "mimeType": ("string", STRING_OPS),
    "modifiedTime": ("date", ORDERING),
    "viewedByMeTime": ("date", ORDERING),
    "createdTime": ("date", ORDERING),
    "trashed": ("bool", EQUALITY),
    "starred": ("bool", EQUALITY),
    "sharedWithMe": ("bool", EQUALITY),
    "parents": ("collection", ("in",)),
    "owners": ("collection", ("in",)),
    "writers": ("collection", ("in",)),
    "readers": ("collection", ("in",)),
    "properties": ("map", ("has",)),
    "appProperties": ("map", ("has",)),
    "visibility": ("string", EQUALITY),
    "shortcutDetails.targetId": ("string", EQUALITY),
}
DRIVE_TERMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "name": ("name", STRING_OPS),
    "createdTime": ("date", ORDERING),
    "hidden": ("bool", EQUALITY),
    "memberCount": ("number", ORDERING),
    "organizerCount": ("number", ORDERING),
}

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\]|\\.)*')
      | (?P<op><=|>=|!=|=|<|>)
      | (?P<punct>[(){}])
      | (?P<number>-?\d+(?:\.\d+)?(?![\w.]))
      | (?P<word>[A-Za-z_][\w.]*)
    )""",
    re.VERBOSE,
)
_KEYWORDS = frozenset({"and", "or", "not", "in", "has", "contains"})


class QueryError(ValueError):
    """The query is not valid Drive search syntax."""


class Record(Protocol):
    """What a query reads from a file or shared drive."""

    def value(self, term: str) -> Any: ...


Node = Callable[[Record], bool]


@dataclass
class _Token:
    kind: str
    text: str


def compile_query(
    text: str, terms: dict[str, tuple[str, tuple[str, ...]]] = FILE_TERMS
) -> Node:
    """Parse ``text`` into a predicate, or raise QueryError if it is invalid."""
    parser = _Parser(_tokenize(text), terms)
    node = parser.parse_or()
    if parser.peek() is not None:
        raise QueryError(f"unexpected {parser.peek()!r}")
    return node


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None:
            raise QueryError(f"invalid query text at {text[position:]!r}")
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "word" and value.lower() in _KEYWORDS:
            kind, value = "keyword", value.lower()
        tokens.append(_Token(kind, value))
        position = match.end()
    return tokens


def _unquote(literal: str) -> str:
    return re.sub(r"\\(.)", r"\1", literal[1:-1])


class _Parser:
    def __init__(
        self, tokens: list[_Token], terms: dict[str, tuple[str, tuple[str, ...]]]
    ) -> None:
        self.tokens = tokens
        self.position = 0
        self.terms = terms

    def peek(self) -> str | None:
        if self.position >= len(self.tokens):
            return None
        return self.tokens[self.position].text

    def take(self, kind: str | None = None, text: str | None = None) -> _Token:
        if self.position >= len(self.tokens):
            raise QueryError("query ended early")
        token = self.tokens[self.position]
        if (kind and token.kind != kind) or (text and token.text != text):
            raise QueryError(f"unexpected {token.text!r}")
        self.position += 1
        return token

    def parse_or(self) -> Node:
        nodes = [self.parse_and()]
        while self.peek() == "or":
            self.take()
            nodes.append(self.parse_and())
        return nodes[0] if len(nodes) == 1 else _any_of(nodes)

    def parse_and(self) -> Node:
        nodes = [self.parse_unary()]
        while self.peek() == "and":
            self.take()
            nodes.append(self.parse_unary())
        return nodes[0] if len(nodes) == 1 else _all_of(nodes)

    def parse_unary(self) -> Node:
        if self.peek() == "not":
            self.take()
            inner = self.parse_unary()
            return lambda record: not inner(record)
        if self.peek() == "(":
            self.take()
            node = self.parse_or()
            self.take("punct", ")")
            return node
        return self.parse_term()

    def parse_term(self) -> Node:
        first = self.take()
        if first.kind == "string":
            self.take("keyword", "in")
            term = self.take("word").text
            self._expect_term(term, "in")
            member = _unquote(first.text)
            return lambda record: member in record.value(term)
        if first.kind != "word":
            raise QueryError(f"unexpected {first.text!r}")
        term = first.text
        operator = self.take().text
        self._expect_term(term, operator)
        if operator == "has":
            return self._parse_has(term)
        return _comparison(term, self.terms[term][0], operator, self.take())

    def _parse_has(self, term: str) -> Node:
        self.take("punct", "{")
        pair: dict[str, str] = {}
        for index in range(2):
            if index:
                self.take("keyword", "and")
            name = self.take("word").text
            if name not in ("key", "value") or name in pair:
                raise QueryError(f"unexpected {name!r}")
            self.take("op", "=")
            pair[name] = _unquote(self.take("string").text)
        self.take("punct", "}")
        key, wanted = pair["key"], pair["value"]
        return lambda record: record.value(term).get(key) == wanted

    def _expect_term(self, term: str, operator: str) -> None:
        if term not in self.terms:
            raise QueryError(f"unknown term {term!r}")
        if operator not in self.terms[term][1]:
            raise QueryError(f"{term} does not take {operator!r}")


def _any_of(nodes: list[Node]) -> Node:
    return lambda record: any(node(record) for node in nodes)


def _all_of(nodes: list[Node]) -> Node:
    return lambda record: all(node(record) for node in nodes)


def _comparison(term: str, kind: str, operator: str, token: _Token) -> Node:
    wanted = _literal(kind, token)
    if operator == "contains":
        return _contains(term, kind, wanted)
    compare = _COMPARE[operator]
    return lambda record: compare(record.value(term), wanted)


def _literal(kind: str, token: _Token) -> Any:
    if kind == "bool":
        if token.kind != "word" or token.text not in ("true", "false"):
            raise QueryError(f"expected true or false, got {token.text!r}")
        return token.text == "true"
    if kind == "number":
        if token.kind != "number":
            raise QueryError(f"expected a number, got {token.text!r}")
        return float(token.text)
    if token.kind != "string":
        raise QueryError(f"expected a quoted string, got {token.text!r}")
    text = _unquote(token.text)
    if kind == "date":
        return parse_time(text)
    return text


def parse_time(text: str) -> dt.datetime:
    """Parse an RFC 3339 time. A time without an offset is UTC, as in Drive."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise QueryError(f"invalid time {text!r}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value


def _contains(term: str, kind: str, wanted: str) -> Node:
    if kind == "name":
        return lambda record: name_matches(record.value(term), wanted)
    if kind == "fulltext":
        return lambda record: full_text_matches(record.value(term), wanted)
    return lambda record: wanted in record.value(term)


def name_matches(name: str, prefix: str) -> bool:
    """Return whether ``prefix`` starts at the beginning of a word of ``name``.

    A word starts at the beginning of the name, at a character that is not a
    letter or digit, or right after one. So ``Hello`` and ``World`` both match
    ``Hello World``, but only ``Hello`` matches ``HelloWorld``.
    """
    lowered, prefix = name.lower(), prefix.lower()
    for index in range(len(lowered)):
        boundary = (
            index == 0
            or not lowered[index].isalnum()
            or not lowered[index - 1].isalnum()
        )
        if boundary and lowered.startswith(prefix, index):
            return True
    return False


def full_text_matches(text: str, wanted: str) -> bool:
    """Return whether every word of ``wanted`` (or its quoted phrase) is in text."""
    words = re.findall(r"\w+", text.lower())
    stripped = wanted.strip()
    if len(stripped) >= 2 and stripped.startswith('"') and stripped.endswith('"'):
        phrase = re.findall(r"\w+", stripped[1:-1].lower())
        width = len(phrase)
        return any(
            words[start : start + width] == phrase
            for start in range(len(words) - width + 1)
        )
    return all(word in words for word in re.findall(r"\w+", stripped.lower()))


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda left, right: left == right,
    "!=": lambda left, right: left != right,
    "<": lambda left, right: left is not None and left < right,
    "<=": lambda left, right: left is not None and left <= right,
    ">": lambda left, right: left is not None and left > right,
    ">=": lambda left, right: left is not None and left >= right,
}
