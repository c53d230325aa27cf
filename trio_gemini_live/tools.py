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

import functools
import logging
import math
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final, Generic, Literal, ParamSpec, TypeVar, overload

import msgspec
import trio

from . import _wire
from ._tool_docstrings import Docstring as Docstring
from ._tool_docstrings import parse_docstring as parse_docstring
from ._tool_schema import function_schema, is_async, resolve_target, unwrap_partial

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
        self.is_async: bool = is_async(func)

        # The signature is the callable's own (a partial hides the bound arguments); the
        # annotations and the docstring are those of the function underneath.
        base = resolve_target(unwrap_partial(func))
        # __doc__ rather than inspect.getdoc, which would inherit object.__call__'s text.
        doc_text = getattr(base, "__doc__", None)
        if doc_text is None and base is not unwrap_partial(func):
            doc_text = type(unwrap_partial(func)).__doc__  # a callable object's class doc
        doc = parse_docstring(doc_text)
        self.description: str | None = description if description is not None else doc.summary
        parameters, self._args_type = function_schema(
            self.name, func, resolve_target(func), base, doc
        )
        self.declaration: _wire.FunctionDeclaration = _wire.FunctionDeclaration(
            name=self.name,
            description=self.description,
            parameters=parameters,
            behavior=behavior,
        )

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

