"""Tools from Python callables: function declarations, and running the model's calls.

Write an ordinary function (sync or async) with type annotations and a docstring, decorate it
with :func:`tool`, and the library derives the ``FunctionDeclaration`` the ``setup`` message
carries (PROTOCOL.md 3.1) and runs the function when the model calls it, answering with a
``FunctionResponse`` (PROTOCOL.md 3.4)::

    from typing import Literal
    from trio_gemini_live.tools import tool

    @tool
    async def get_weather(city: str, unit: Literal["C", "F"] = "C") -> dict[str, float]:
        \"\"\"Get the current weather in a city.

        Args:
            city: The city, e.g. "Paris".
            unit: The temperature unit.
        \"\"\"
        ...

The pieces:

* :func:`tool` / :class:`LiveTool`: one callable with its declaration and its execution
  options (``behavior``, ``scheduling``, ``timeout``, ``max_threads``). ``LiveTool.run(call)``
  runs one call and *always* returns a response for tool failures: every call must be
  answered, or the model stays silent forever (PROTOCOL.md 3.4).
* :class:`ToolRegistry`: a set of tools by name; ``declarations()`` for ``setup.tools`` and
  ``handle(call)`` which also answers calls to unknown functions.

The session (``open_live_session(..., tools=[...])``) builds the registry, runs each call as
a task of its own, sends the responses and cancels the calls named by
``toolCallCancellation`` (those are not answered).

Parameter schemas (``_wire.Schema``, an OpenAPI subset with upper-case types) follow these
rules; anything else raises :class:`TypeError` *when the tool is declared*, naming the
function and the parameter:

============================================  ================================================
annotation                                    schema
============================================  ================================================
``str`` / ``int`` / ``float`` / ``bool``      ``STRING`` / ``INTEGER`` / ``NUMBER`` / ``BOOLEAN``
``Literal["a", "b"]``, a ``str``-valued Enum  ``STRING`` with ``enum`` (strings only)
``list[T]``, ``Sequence[T]``                  ``ARRAY`` with ``items``
``T | None`` / ``Optional[T]``                the schema of ``T`` with ``nullable: true``
``TypedDict``, dataclass, msgspec ``Struct``  ``OBJECT`` with ``properties`` and ``required``
``Annotated[T, msgspec.Meta(...)]``           bounds (``ge``/``le``...), lengths, ``pattern``,
                                              ``description`` and ``title`` carried over
============================================  ================================================

Rejected: ``Any``, bare ``list``/``Sequence`` (no item type), unions of several non-None
types, ``dict[K, V]`` and other mappings, ``set``/``frozenset``, ``tuple``, ``bytes``,
non-string ``Literal``/Enum values, recursive types, array-like Structs, arbitrary classes,
``*args``, ``**kwargs``, positional-only parameters and parameters without an annotation.
``dict[str, X]`` is rejected on purpose: the Gemini API wants a non-empty ``properties`` for
every ``OBJECT`` schema, and the wire Schema has no ``additionalProperties``, so the model
could not be told what to put in it; use a TypedDict, a dataclass or a Struct instead.

A parameter is ``required`` when it has no default. Defaults are checked against the
annotation at declaration time but not sent (the model leaves an optional argument out and
Python fills in the default).

Annotations are resolved with ``typing.get_type_hints`` in the function's module, so with
``from __future__ import annotations`` the types they name must be importable from the
module's globals (not classes local to another function).

Descriptions come from the docstring: the text before the first section is the function's
description; parameters are described in a Google-style ``Args:`` section (``name: text``
or ``name (type): text``, continuation lines indented) or with reST fields
(``:param name: text``). Nested classes take their description from their own docstring and
their fields' from an ``Attributes:`` section (or ``:ivar name:``). For parameters and fields
alike, ``Annotated[..., msgspec.Meta(description=...)]`` wins over the docstring: it is the
more specific of the two, attached to the type itself.

Arguments bound with :func:`functools.partial` (positional or keyword) are not offered to
the model: they are left out of the schema, and a call that names one is refused as an
unknown argument (a bound ``db_password`` must not be something the model can override).

Arguments from the model are validated with ``msgspec.convert`` against the signature
before the function runs. Validation is *lax* (``strict=False``): proto3 ``Struct`` numbers
are doubles, so an integer can arrive as ``3.0``, and models sometimes quote numbers;
anything that cannot be converted exactly (``3.5`` for an ``int``, ``"abc"``) is an error.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
import math
import re
import typing
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final, Generic, Literal, ParamSpec, TypeVar, overload

import msgspec
import msgspec.inspect as mi
import trio

from . import _wire

__all__ = [
    "Docstring",
    "LiveTool",
    "ToolRegistry",
    "parse_docstring",
    "tool",
]

P = ParamSpec("P")
R = TypeVar("R")

_log: Final = logging.getLogger("trio_gemini_live.tools")

#: What the Gemini API accepts as a function name: starts with a letter or an underscore,
#: then letters, digits, underscores, dots, colons or dashes, 64 characters at most.
_NAME_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_.:\-]{0,63}")

_BEHAVIORS: Final = ("BLOCKING", "NON_BLOCKING")

#: Worker threads one sync tool may use at once (per ``trio.run``), unless ``max_threads=``.
DEFAULT_MAX_THREADS: Final = 4
_SCHEDULINGS: Final = ("SILENT", "WHEN_IDLE", "INTERRUPT")

BehaviorName = Literal["BLOCKING", "NON_BLOCKING"]
SchedulingName = Literal["SILENT", "WHEN_IDLE", "INTERRUPT"]


# --- docstrings ----------------------------------------------------------------------------


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


# --- schemas -------------------------------------------------------------------------------


def _class_doc(cls: type) -> Docstring:
    doc = cls.__doc__
    # dataclasses invent a docstring from the signature ("Point(x: int, y: int)"): not a
    # description anyone wrote.
    if dataclasses.is_dataclass(cls) and doc and doc.startswith(cls.__name__ + "("):
        return Docstring()
    return parse_docstring(doc)


class _SchemaBuilder:
    """Turns a msgspec type tree (``msgspec.inspect.type_info``) into a ``_wire.Schema``."""

    def __init__(self, where: str) -> None:
        # ``where`` names the function and parameter in every error message.
        self.where = where
        self.stack: list[type] = []

    def fail(self, what: str) -> TypeError:
        return TypeError(f"{self.where}: {what}")

    def build(self, node: mi.Type) -> _wire.Schema:
        if isinstance(node, mi.Metadata):
            schema = self.build(node.type)
            extra = node.extra_json_schema or {}
            description = extra.get("description")
            title = extra.get("title")
            changes: dict[str, Any] = {}
            if isinstance(description, str):
                changes["description"] = description
            if isinstance(title, str):
                changes["title"] = title
            return msgspec.structs.replace(schema, **changes) if changes else schema
        if isinstance(node, mi.BoolType):
            return _wire.Schema(type="BOOLEAN")
        if isinstance(node, mi.StrType):
            return _wire.Schema(
                type="STRING",
                min_length=node.min_length,
                max_length=node.max_length,
                pattern=node.pattern,
            )
        if isinstance(node, mi.IntType):
            # The schema's bounds are inclusive; an exclusive integer bound moves by one.
            low = node.ge
            if low is None and node.gt is not None:
                low = node.gt + 1
            high = node.le
            if high is None and node.lt is not None:
                high = node.lt - 1
            return _wire.Schema(
                type="INTEGER",
                minimum=None if low is None else float(low),
                maximum=None if high is None else float(high),
            )
        if isinstance(node, mi.FloatType):
            # Exclusive float bounds cannot be said in this schema; the inclusive bound is a
            # hint for the model, and msgspec still enforces the exact rule on the arguments.
            low_f = node.ge if node.ge is not None else node.gt
            high_f = node.le if node.le is not None else node.lt
            return _wire.Schema(
                type="NUMBER",
                minimum=None if low_f is None else float(low_f),
                maximum=None if high_f is None else float(high_f),
            )
        if isinstance(node, mi.LiteralType):
            return self._enum(list(node.values), "Literal")
        if isinstance(node, mi.EnumType):
            return self._enum([member.value for member in node.cls], f"Enum {node.cls.__name__}")
        if isinstance(node, mi.ListType):
            if isinstance(node.item_type, mi.AnyType):
                raise self.fail("a list needs an item type: write list[T], not list or list[Any]")
            return _wire.Schema(
                type="ARRAY",
                items=self.build(node.item_type),
                min_items=node.min_length,
                max_items=node.max_length,
            )
        if isinstance(node, mi.UnionType):
            others = [t for t in node.types if not isinstance(t, mi.NoneType)]
            if len(others) != 1:
                raise self.fail(
                    "unions of several types are not supported (only T | None is); "
                    f"got {len(others)} non-None members"
                )
            inner = self.build(others[0])
            if len(others) == len(node.types):  # pragma: no cover - msgspec never does this
                return inner
            return msgspec.structs.replace(inner, nullable=True)
        if isinstance(node, (mi.StructType, mi.DataclassType, mi.TypedDictType)):
            return self._object(node)
        raise self.fail(_unsupported(node))

    def _enum(self, values: list[Any], what: str) -> _wire.Schema:
        bad = [v for v in values if not isinstance(v, str)]
        if bad:
            raise self.fail(f"{what} values must all be strings (the schema's enum is "
                            f"string-only); got {bad!r}")
        return _wire.Schema(type="STRING", enum=list(values))

    def _object(self, node: mi.StructType | mi.DataclassType | mi.TypedDictType) -> _wire.Schema:
        cls = node.cls
        if cls in self.stack:
            raise self.fail(f"recursive type {cls.__qualname__} is not supported")
        if isinstance(node, mi.StructType) and node.array_like:
            raise self.fail(f"array_like Struct {cls.__qualname__} is not supported")
        if not node.fields:
            # The Gemini API rejects an OBJECT schema without properties.
            raise self.fail(f"{cls.__qualname__} has no fields")
        doc = _class_doc(cls)
        self.stack.append(cls)
        try:
            properties: dict[str, _wire.Schema] = {}
            for field in node.fields:
                schema = self.build(field.type)
                text = doc.params.get(field.name) or doc.params.get(field.encode_name)
                if text and schema.description is None:
                    schema = msgspec.structs.replace(schema, description=text)
                properties[field.encode_name] = schema
        finally:
            self.stack.pop()
        required = [f.encode_name for f in node.fields if f.required]
        return _wire.Schema(
            type="OBJECT",
            description=doc.summary,
            properties=properties,
            required=required or None,
        )


def _unsupported(node: mi.Type) -> str:
    if isinstance(node, mi.AnyType):
        return "Any is not supported: give a precise type"
    if isinstance(node, mi.DictType):
        return ("dict/mapping types are not supported (an OBJECT schema needs named "
                "properties): use a TypedDict, a dataclass or a msgspec Struct")
    if isinstance(node, (mi.SetType, mi.FrozenSetType)):
        return "sets are not supported: use list[T]"
    if isinstance(node, (mi.TupleType, mi.VarTupleType)):
        return "tuples are not supported: use list[T]"
    if isinstance(node, (mi.BytesType, mi.ByteArrayType, mi.MemoryViewType)):
        return "bytes are not supported: the model can only send JSON"
    if isinstance(node, mi.NoneType):
        return "None alone is not a parameter type"
    if isinstance(node, mi.CustomType):
        return f"{node.cls.__qualname__} is not supported (use a TypedDict, dataclass or Struct)"
    return f"{type(node).__name__} is not supported"


# --- LiveTool ------------------------------------------------------------------------------


def _error(
    call: _wire.FunctionCall,
    name: str | None,
    message: str,
    scheduling: SchedulingName | None = None,
) -> _wire.FunctionResponse:
    return _wire.FunctionResponse(
        id=call.id, name=call.name or name, response={"error": message}, scheduling=scheduling
    )


def _unwrap_partial(func: Callable[..., Any]) -> Callable[..., Any]:
    while isinstance(func, functools.partial):
        func = func.func
    return func


def _bound_keywords(func: Callable[..., Any]) -> frozenset[str]:
    """The names bound by keyword in ``func`` and every partial nested in it."""
    names: set[str] = set()
    while isinstance(func, functools.partial):
        names.update(func.keywords)
        func = func.func
    return frozenset(names)


def _resolve_target(func: Callable[..., Any]) -> Callable[..., Any]:
    # Callable objects carry their annotations and their async-ness on __call__.
    if (
        inspect.isfunction(func)
        or inspect.ismethod(func)
        or inspect.isbuiltin(func)
        or isinstance(func, (functools.partial, type))
    ):
        return func
    call = getattr(func, "__call__", None)  # noqa: B004 - we want the bound method
    return call if call is not None else func


def _is_async(func: Callable[..., Any]) -> bool:
    base = _unwrap_partial(func)
    return inspect.iscoroutinefunction(base) or inspect.iscoroutinefunction(
        _resolve_target(base)
    )


class LiveTool(Generic[P, R]):
    """A Python callable the model can call: its declaration and how to run it.

    Create one with :func:`tool` (a decorator) or ``LiveTool(func, ...)``. The wrapped
    function stays callable: ``get_weather("Paris")`` calls it directly.

    Attributes:
        func: The wrapped function.
        name: The function name the model sees.
        description: The function's description (from the docstring unless given).
        declaration: The ``_wire.FunctionDeclaration`` sent in ``setup.tools``.
        behavior: ``"BLOCKING"``, ``"NON_BLOCKING"`` or ``None`` (the server's default,
            blocking).
        scheduling: For NON_BLOCKING tools, how the model takes the result (``"SILENT"``,
            ``"WHEN_IDLE"`` (the default) or ``"INTERRUPT"``); ``None`` for blocking tools.
            Gemini-API-only: Vertex AI breaks on it (PROTOCOL.md 3.1).
        timeout: Seconds a call may run before it is answered with a timeout error, or
            ``None`` for no limit.
        max_threads: For sync tools, how many calls may run in worker threads at once;
            more calls wait for a thread (their ``timeout`` includes the wait). A call
            abandoned on timeout or cancellation keeps its thread until the function
            returns, so the limit is the tool's own (a ``trio.CapacityLimiter`` per tool
            and per ``trio.run``), not Trio's default limiter: hung tools can never starve
            other ``trio.to_thread`` users (Vertex AI's token refresh, for one).
        is_async: Whether the function is a coroutine function (run as a Trio task) or a
            plain function (run in a worker thread).

    Raises:
        TypeError: a parameter's annotation or kind is unsupported (see the module
            documentation), naming the function and the parameter.
        ValueError: an invalid name, behavior, scheduling, timeout or max_threads.
    """

    # Set by functools.update_wrapper, declared for the type checker.
    __name__: str
    __qualname__: str
    __wrapped__: Callable[P, R]

    def __init__(
        self,
        func: Callable[P, R],
        *,
        name: str | None = None,
        description: str | None = None,
        behavior: BehaviorName | None = None,
        scheduling: SchedulingName | None = None,
        timeout: float | None = None,
        max_threads: int = DEFAULT_MAX_THREADS,
    ) -> None:
        if not callable(func):
            raise TypeError(f"a tool must be callable, got {func!r}")
        # Name, docstring and module for introspection; updated=() because merging the
        # callable's __dict__ could overwrite this object's attributes.
        functools.update_wrapper(self, func, updated=())
        self.func: Callable[P, R] = func
        tool_name = name if name is not None else getattr(func, "__name__", None)
        if not isinstance(tool_name, str) or not _NAME_RE.fullmatch(tool_name):
            raise ValueError(
                f"invalid tool name {tool_name!r}: it must start with a letter or an underscore "
                "and contain only letters, digits, '_', '.', ':' or '-' (64 characters at "
                "most); pass name=... for lambdas and callable objects"
            )
        self.name: str = tool_name
        if behavior is not None and behavior not in _BEHAVIORS:
            raise ValueError(f"behavior must be one of {_BEHAVIORS}, got {behavior!r}")
        if scheduling is not None and scheduling not in _SCHEDULINGS:
            raise ValueError(f"scheduling must be one of {_SCHEDULINGS}, got {scheduling!r}")
        if scheduling is not None and behavior != "NON_BLOCKING":
            raise ValueError("scheduling applies only to behavior='NON_BLOCKING' tools")
        self.behavior: BehaviorName | None = behavior
        self.scheduling: SchedulingName | None = (
            (scheduling or "WHEN_IDLE") if behavior == "NON_BLOCKING" else None
        )
        if timeout is not None and (
            isinstance(timeout, bool)
            or not isinstance(timeout, (int, float))
            or not math.isfinite(timeout)
            or timeout <= 0
        ):
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.timeout: float | None = None if timeout is None else float(timeout)
        if isinstance(max_threads, bool) or not isinstance(max_threads, int) or max_threads < 1:
            raise ValueError(f"max_threads must be a positive integer, got {max_threads!r}")
        self.max_threads: int = max_threads
        # A RunVar: a CapacityLimiter belongs to one trio.run (a module-level tool may be
        # used by several runs, and a run that ended would never give back its tokens).
        self._limiter: trio.lowlevel.RunVar[trio.CapacityLimiter] = trio.lowlevel.RunVar(
            f"tool {tool_name} limiter"
        )
        self.is_async: bool = _is_async(func)

        # The signature is the callable's own (a partial hides the bound arguments); the
        # annotations and the docstring are those of the function underneath.
        base = _resolve_target(_unwrap_partial(func))
        # __doc__ rather than inspect.getdoc, which would inherit object.__call__'s text.
        doc_text = getattr(base, "__doc__", None)
        if doc_text is None and base is not _unwrap_partial(func):
            doc_text = type(_unwrap_partial(func)).__doc__  # a callable object's class doc
        doc = parse_docstring(doc_text)
        self.description: str | None = description if description is not None else doc.summary
        parameters, self._args_type = self._analyse(_resolve_target(func), base, doc)
        self.declaration: _wire.FunctionDeclaration = _wire.FunctionDeclaration(
            name=self.name,
            description=self.description,
            parameters=parameters,
            behavior=behavior,
        )

    def _analyse(
        self, target: Callable[..., Any], base: Callable[..., Any], doc: Docstring
    ) -> tuple[_wire.Schema | None, type[msgspec.Struct]]:
        where = f"tool {self.name!r}"
        try:
            signature = inspect.signature(target)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{where}: cannot read the signature: {exc}") from None
        try:
            hints = typing.get_type_hints(base, include_extras=True)
        except Exception as exc:  # NameError for unresolvable forward references, and more
            raise TypeError(f"{where}: cannot resolve the annotations: {exc}") from None
        properties: dict[str, _wire.Schema] = {}
        required: list[str] = []
        fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
        # inspect.signature keeps keyword-bound arguments of a partial as optional
        # parameters; the caller fixed them, so the model neither sees nor overrides them.
        bound = _bound_keywords(self.func)
        for param in signature.parameters.values():
            if param.name in bound:
                continue
            here = f"{where}, parameter {param.name!r}"
            if param.kind is inspect.Parameter.VAR_POSITIONAL:
                raise TypeError(f"{here}: *args is not supported (the model passes named "
                                "arguments)")
            if param.kind is inspect.Parameter.VAR_KEYWORD:
                raise TypeError(f"{here}: **kwargs is not supported (declare each argument)")
            if param.kind is inspect.Parameter.POSITIONAL_ONLY:
                raise TypeError(f"{here}: positional-only parameters are not supported (the "
                                "model passes arguments by name)")
            if param.name not in hints:
                raise TypeError(f"{here}: the parameter needs a type annotation")
            hint = hints[param.name]
            try:
                node = mi.type_info(hint)
            except Exception as exc:
                raise TypeError(f"{here}: unsupported annotation {hint!r}: {exc}") from None
            schema = _SchemaBuilder(here).build(node)
            text = doc.params.get(param.name)
            # Meta(description=...) wins, as it does for nested fields (_SchemaBuilder._object).
            if text and schema.description is None:
                schema = msgspec.structs.replace(schema, description=text)
            properties[param.name] = schema
            if param.default is inspect.Parameter.empty:
                required.append(param.name)
                fields.append((param.name, hint))
            else:
                _check_default(here, param.default, hint)
                # typing.Union rather than "|": not every annotation object supports "|".
                optional = typing.Union[hint, msgspec.UnsetType]  # type: ignore[valid-type]  # noqa: UP007
                fields.append((param.name, optional, msgspec.UNSET))
        # Unknown arguments are errors (forbid_unknown_fields): a misspelt argument would
        # otherwise be dropped silently and the default used instead.
        args_type = msgspec.defstruct(
            f"{self.name}_arguments", fields, kw_only=True, forbid_unknown_fields=True
        )
        if not properties:
            return None, args_type
        parameters = _wire.Schema(
            type="OBJECT", properties=properties, required=required or None
        )
        return parameters, args_type

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Call the wrapped function directly."""
        return self.func(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<LiveTool {self.name!r} {'async' if self.is_async else 'sync'}>"

    def parse_arguments(self, args: dict[str, Any] | None) -> dict[str, Any]:
        """Validate the model's arguments against the signature.

        Args:
            args: The call's ``args`` (``None`` means no arguments).

        Returns:
            The keyword arguments to call the function with (converted: nested TypedDicts
            as dicts, dataclasses and Structs as instances). Arguments the model left out
            are absent, so Python's defaults apply.

        Raises:
            ValueError: a missing, unknown or ill-typed argument (the message says which).
        """
        try:
            parsed = msgspec.convert(args or {}, self._args_type, strict=False)
        except msgspec.ValidationError as exc:
            raise ValueError(str(exc)) from None
        return {
            name: value
            for name in self._args_type.__struct_fields__
            if (value := getattr(parsed, name)) is not msgspec.UNSET
        }

    def _error(self, call: _wire.FunctionCall, message: str) -> _wire.FunctionResponse:
        return _error(call, self.name, message, self.scheduling)

    async def _invoke(self, kwargs: dict[str, Any]) -> Any:
        func: Callable[..., Any] = self.func
        call = functools.partial(func, **kwargs)
        if self.is_async:
            return await call()
        # abandon_on_cancel: a timeout or a toolCallCancellation must not wait for a thread
        # that cannot be interrupted; the thread finishes on its own and its result is dropped.
        # It holds its limiter token until then: the tool's own limiter, not Trio's default.
        return await trio.to_thread.run_sync(
            call, abandon_on_cancel=True, limiter=self.thread_limiter()
        )

    def thread_limiter(self) -> trio.CapacityLimiter:
        """This tool's worker-thread limiter in the current ``trio.run`` (``max_threads``)."""
        try:
            return self._limiter.get()
        except LookupError:
            limiter = trio.CapacityLimiter(self.max_threads)
            self._limiter.set(limiter)
            return limiter

    async def run(self, call: _wire.FunctionCall) -> _wire.FunctionResponse:
        """Run one call and build its response.

        Tool failures never raise; each becomes an ``{"error": ...}`` response, because every
        call must be answered (PROTOCOL.md 3.4):

        * success: ``{"output": result}`` (the result converted with
          ``msgspec.to_builtins``; a result that cannot be converted to JSON is an error);
        * an exception: ``{"error": "ExcType: message"}``;
        * the timeout: ``{"error": "timed out after Ns"}``;
        * invalid arguments: ``{"error": "invalid arguments for NAME: ..."}``.

        NON_BLOCKING tools' responses carry :attr:`scheduling`. The response's ``id`` and
        ``name`` are the call's.

        Async tools run in this task; sync tools in a worker thread.

        Cancellation: ``trio.Cancelled`` propagates (an async tool sees it at its next
        checkpoint; a sync tool's thread is abandoned), and nothing is returned: a cancelled
        call (``toolCallCancellation``) must not be answered.
        """
        await trio.lowlevel.checkpoint()
        try:
            kwargs = self.parse_arguments(call.args)
        except ValueError as exc:
            return self._error(call, f"invalid arguments for {self.name}: {exc}")
        try:
            if self.timeout is None:
                result = await self._invoke(kwargs)
            else:
                with trio.move_on_after(self.timeout) as scope:
                    result = await self._invoke(kwargs)
                if scope.cancelled_caught:
                    return self._error(call, f"timed out after {self.timeout:g}s")
        except Exception as exc:
            _log.warning("tool %s raised %s", self.name, type(exc).__name__, exc_info=True)
            text = str(exc)
            return self._error(call, f"{type(exc).__name__}: {text}" if text
                               else type(exc).__name__)
        try:
            output = msgspec.to_builtins(result, str_keys=True)
        except (TypeError, ValueError) as exc:
            return self._error(call, f"the result of {self.name} is not JSON: {exc}")
        return _wire.FunctionResponse(
            id=call.id,
            name=call.name or self.name,
            response={"output": output},
            scheduling=self.scheduling,
        )


def _check_default(where: str, default: Any, hint: Any) -> None:
    try:
        msgspec.convert(msgspec.to_builtins(default), hint, strict=False)
    except (msgspec.ValidationError, TypeError, ValueError) as exc:
        raise TypeError(f"{where}: the default {default!r} does not match the annotation: "
                        f"{exc}") from None


@overload
def tool(func: Callable[P, R], /) -> LiveTool[P, R]: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    behavior: BehaviorName | None = None,
    scheduling: SchedulingName | None = None,
    timeout: float | None = None,
    max_threads: int = DEFAULT_MAX_THREADS,
) -> Callable[[Callable[P, R]], LiveTool[P, R]]: ...


def tool(
    func: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    behavior: BehaviorName | None = None,
    scheduling: SchedulingName | None = None,
    timeout: float | None = None,
    max_threads: int = DEFAULT_MAX_THREADS,
) -> LiveTool[P, R] | Callable[[Callable[P, R]], LiveTool[P, R]]:
    """Declare a function as a tool: ``@tool`` or ``@tool(behavior="NON_BLOCKING", ...)``.

    Args:
        func: The function (sync or async), when used as a bare decorator.
        name: The name the model sees (default: the function's ``__name__``).
        description: The description (default: the docstring's summary).
        behavior: ``"NON_BLOCKING"`` lets the model keep talking while the tool runs;
            ``"BLOCKING"`` (or ``None``, the server's default) pauses it.
        scheduling: For NON_BLOCKING tools: ``"SILENT"``, ``"WHEN_IDLE"`` (default) or
            ``"INTERRUPT"``.
        timeout: Seconds a call may run before it is answered with a timeout error.
        max_threads: For sync tools, the worker threads its calls may use at once (see
            :class:`LiveTool`).

    Returns:
        A :class:`LiveTool`, or a decorator making one.

    Raises:
        TypeError: an unsupported parameter (at declaration, never at call time).
        ValueError: an invalid option.
    """

    def wrap(f: Callable[P, R]) -> LiveTool[P, R]:
        return LiveTool(
            f,
            name=name,
            description=description,
            behavior=behavior,
            scheduling=scheduling,
            timeout=timeout,
            max_threads=max_threads,
        )

    if func is not None:
        return wrap(func)
    return wrap


# --- the registry -----------------------------------------------------------


class ToolRegistry:
    """Tools by name: what ``setup`` declares and what answers the model's calls.

    Args:
        tools: :class:`LiveTool` objects, or plain callables (wrapped with default options).

    Raises:
        ValueError: two tools share a name.
        TypeError: a callable cannot be declared (see :class:`LiveTool`).
    """

    def __init__(self, tools: Iterable[LiveTool[..., Any] | Callable[..., Any]] = ()) -> None:
        self._tools: dict[str, LiveTool[..., Any]] = {}
        for item in tools:
            self.add(item)

    def add(self, item: LiveTool[..., Any] | Callable[..., Any]) -> LiveTool[..., Any]:
        """Add a tool (a plain callable is wrapped with :func:`tool`) and return it.

        Raises:
            ValueError: a tool with this name is already registered.
        """
        live = item if isinstance(item, LiveTool) else LiveTool(item)
        if live.name in self._tools:
            raise ValueError(f"duplicate tool name {live.name!r}")
        self._tools[live.name] = live
        return live

    def get(self, name: str) -> LiveTool[..., Any] | None:
        """The tool called ``name``, or ``None``."""
        return self._tools.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[LiveTool[..., Any]]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def __repr__(self) -> str:
        return f"<ToolRegistry {sorted(self._tools)}>"

    def declarations(self) -> list[_wire.Tool]:
        """The ``setup.tools`` entries: one ``Tool`` with every declaration (``[]`` if none)."""
        if not self._tools:
            return []
        return [_wire.Tool(function_declarations=[t.declaration for t in self._tools.values()])]

    async def handle(self, call: _wire.FunctionCall) -> _wire.FunctionResponse:
        """Run a call with the tool it names (see :meth:`LiveTool.run`).

        A call to an unknown function is answered with an error response naming it, so
        that the model is never left waiting (PROTOCOL.md 3.4). Cancellation propagates.
        """
        live = self._tools.get(call.name or "")
        if live is None:
            await trio.lowlevel.checkpoint()
            known = ", ".join(sorted(self._tools)) or "none"
            return _error(call, None, f"unknown function {call.name!r} (known: {known})")
        return await live.run(call)

