"""Docstring parsing for tools: the description and the per-parameter texts.

Google-style (``Args:`` sections) and reST (``:param name:`` fields) docstrings; what
:mod:`trio_gemini_live.tools` documents under "Descriptions come from the docstring".
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from typing import Final

import msgspec

__all__ = ["Docstring", "class_doc", "parse_docstring"]


class Docstring(msgspec.Struct, frozen=True, kw_only=True):
    """A parsed docstring: the summary and the per-parameter (or per-attribute) texts."""

    summary: str | None = None
    params: dict[str, str] = msgspec.field(default_factory=dict)


# Google-style section headers. The ones whose entries describe names are "param sections";
# every other known header ends the summary and is skipped.
_PARAM_SECTIONS: Final = frozenset(
    {
        "args",
        "arguments",
        "parameters",
        "params",
        "keyword args",
        "keyword arguments",
        "kwargs",
        "attributes",
    }
)
_OTHER_SECTIONS: Final = frozenset(
    {
        "returns",
        "return",
        "yields",
        "yield",
        "raises",
        "raise",
        "except",
        "exceptions",
        "example",
        "examples",
        "note",
        "notes",
        "warning",
        "warnings",
        "warns",
        "see also",
        "todo",
        "references",
        "methods",
        "other parameters",
    }
)
_SECTION_RE: Final = re.compile(r"^([A-Za-z][A-Za-z ]*?)\s*:\s*$")
# "name (type): text"; the type may hold parentheses nested two deep ("dict(str, list(int))").
_PARENS: Final = r"\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*\)"
_GOOGLE_ENTRY_RE: Final = re.compile(r"^\*{0,2}(\w+)\s*(?:" + _PARENS + r")?\s*:(?:\s+(.*)|\s*$)")
_REST_FIELD_RE: Final = re.compile(r"^:(\w+)(?:\s+([^:]*?))?\s*:(?:\s+(.*)|\s*$)")
_REST_PARAM_KINDS: Final = frozenset({"param", "parameter", "arg", "argument", "key", "keyword",
                                      "ivar", "var", "cvar"})


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _section_name(line: str) -> str | None:
    match = _SECTION_RE.match(line.strip())
    if match is None:
        return None
    name = match.group(1).lower()
    if name in _PARAM_SECTIONS or name in _OTHER_SECTIONS:
        return name
    return None


def parse_docstring(doc: str | None) -> Docstring:
    """Parse a Google-style or reST docstring.

    The summary is everything before the first section header (``Args:``, ``Returns:``...)
    or the first reST field (``:param x:``), stripped; ``None`` when empty. Parameters come
    from Google-style ``Args:``/``Arguments:``/``Parameters:``/``Attributes:`` sections
    (``name: text`` or ``name (type): text``, with more-indented continuation lines) and
    from reST ``:param name:`` / ``:param type name:`` / ``:ivar name:`` fields.
    Continuation lines are joined with single spaces.

    Args:
        doc: The docstring (``func.__doc__``), or ``None``.

    Returns:
        The parsed :class:`Docstring`.
    """
    if not doc or not doc.strip():
        return Docstring()
    lines = inspect.cleandoc(doc).splitlines()
    summary: list[str] = []
    params: dict[str, str] = {}
    i = 0
    # The summary: up to the first section header or reST field.
    while i < len(lines):
        stripped = lines[i].strip()
        if _section_name(lines[i]) is not None or _REST_FIELD_RE.match(stripped):
            break
        summary.append(lines[i])
        i += 1
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        section = _section_name(line)
        if section is not None:
            header_indent = _indent(line)
            i += 1
            # The section's body: every blank or more-indented line.
            body: list[str] = []
            while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > header_indent):
                body.append(lines[i])
                i += 1
            if section in _PARAM_SECTIONS:
                params.update(_google_entries(body))
            continue
        rest = _REST_FIELD_RE.match(stripped)
        if rest is not None:
            kind, spec, text = rest.group(1), rest.group(2), rest.group(3) or ""
            field_indent = _indent(line)
            i += 1
            parts = [text.strip()] if text.strip() else []
            while (
                i < len(lines)
                and lines[i].strip()
                and _indent(lines[i]) > field_indent
                and not lines[i].strip().startswith(":")
            ):
                parts.append(lines[i].strip())
                i += 1
            if kind in _REST_PARAM_KINDS and spec:
                # ":param type name:" puts the name last.
                params[spec.split()[-1]] = " ".join(parts)
            continue
        i += 1
    text = "\n".join(summary).strip()
    return Docstring(summary=text or None, params=params)


def _google_entries(body: list[str]) -> dict[str, str]:
    entries: dict[str, str] = {}
    content = [line for line in body if line.strip()]
    if not content:
        return entries
    entry_indent = min(_indent(line) for line in content)
    name: str | None = None
    parts: list[str] = []
    for line in content:
        match = _GOOGLE_ENTRY_RE.match(line.strip()) if _indent(line) == entry_indent else None
        if match is not None:
            if name is not None:
                entries[name] = " ".join(parts)
            name = match.group(1)
            parts = [match.group(2).strip()] if match.group(2) else []
        elif name is not None:
            parts.append(line.strip())
    if name is not None:
        entries[name] = " ".join(parts)
    return entries



def class_doc(cls: type) -> Docstring:
    """The parsed docstring of a class (a dataclass's invented one counts as none)."""
    doc = cls.__doc__
    # dataclasses invent a docstring from the signature ("Point(x: int, y: int)"): not a
    # description anyone wrote.
    if dataclasses.is_dataclass(cls) and doc and doc.startswith(cls.__name__ + "("):
        return Docstring()
    return parse_docstring(doc)
