"""Tools from Python callables: schema rules, docstrings, execution, the registry and runner."""

from __future__ import annotations

import dataclasses
import enum
import functools
import threading
from collections.abc import Sequence
from typing import Annotated, Any, Literal, NotRequired, Optional, TypedDict

import msgspec
import pytest
import trio
import trio.testing
from google.genai import types as gtypes

from trio_gemini_live import _wire
from trio_gemini_live.tools import LiveTool, ToolRegistry, parse_docstring, tool

# --- helpers -------------------------------------------------------------------------------


def props(t: LiveTool[..., Any]) -> dict[str, _wire.Schema]:
    assert t.declaration.parameters is not None
    assert t.declaration.parameters.properties is not None
    return t.declaration.parameters.properties


def sdk_check(t: LiveTool[..., Any]) -> gtypes.FunctionDeclaration:
    """The official SDK's strict (extra='forbid') model accepts our declaration."""
    return gtypes.FunctionDeclaration.model_validate_json(_wire.encode(t.declaration))


def call(name: str, args: dict[str, Any] | None = None, id: str = "fc_1") -> _wire.FunctionCall:
    return _wire.FunctionCall(id=id, name=name, args=args)


# --- schema rules --------------------------------------------------------------------------


def test_primitives_and_required() -> None:
    @tool
    def f(s: str, i: int, x: float, b: bool, opt: int = 3) -> None:
        """Summary."""

    p = props(f)
    assert [p[k].type for k in ("s", "i", "x", "b", "opt")] == [
        "STRING", "INTEGER", "NUMBER", "BOOLEAN", "INTEGER"
    ]
    assert f.declaration.parameters is not None
    assert f.declaration.parameters.type == "OBJECT"
    assert f.declaration.parameters.required == ["s", "i", "x", "b"]
    # Defaults are checked but not sent.
    assert p["opt"].default is None
    assert f.declaration.name == "f"
    assert f.declaration.description == "Summary."
    sdk_check(f)


def test_no_parameters_omits_the_schema() -> None:
    @tool
    async def ping() -> str:
        return "pong"

    assert ping.declaration.parameters is None
    assert ping.declaration.description is None
    assert _wire.encode(ping.declaration) == b'{"name":"ping"}'
    sdk_check(ping)


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Opts(TypedDict, total=False):
    a: int
    b: str


def test_literal_enum_and_str_enum() -> None:
    @tool
    def f(unit: Literal["C", "F"], color: Color, maybe: Literal["a", "b"] | None = None) -> None:
        pass

    p = props(f)
    assert p["unit"] == _wire.Schema(type="STRING", enum=["C", "F"])
    assert p["color"] == _wire.Schema(type="STRING", enum=["red", "blue"])
    assert p["maybe"] == _wire.Schema(type="STRING", enum=["a", "b"], nullable=True)
    sdk_check(f)


def test_lists_and_sequences() -> None:
    @tool
    def f(a: list[int], b: Sequence[str], c: list[list[float]]) -> None:
        pass

    p = props(f)
    assert p["a"] == _wire.Schema(type="ARRAY", items=_wire.Schema(type="INTEGER"))
    assert p["b"] == _wire.Schema(type="ARRAY", items=_wire.Schema(type="STRING"))
    assert p["c"].items is not None and p["c"].items.items == _wire.Schema(type="NUMBER")
    sdk_check(f)


def test_optional_is_nullable() -> None:
    @tool
    def f(a: int | None, b: Optional[str] = None, c: list[int] | None = None) -> None:  # noqa: UP045
        pass

    p = props(f)
    assert p["a"] == _wire.Schema(type="INTEGER", nullable=True)
    assert p["b"] == _wire.Schema(type="STRING", nullable=True)
    assert p["c"].type == "ARRAY" and p["c"].nullable is True
    assert f.declaration.parameters is not None
    assert f.declaration.parameters.required == ["a"]
    sdk_check(f)


class Address(TypedDict):
    """A postal address.

    Attributes:
        street: Street and number.
        zip: The postal code.
    """

    street: str
    zip: NotRequired[int]


@dataclasses.dataclass
class Point:
    """A point.

    :ivar x: Abscissa.
    """

    x: float
    y: float = 0.0


@dataclasses.dataclass
class Undocumented:
    z: int


class Route(msgspec.Struct, rename="camel"):
    """A route through points."""

    way_points: list[Point]
    address: Address | None = None


def test_nested_objects() -> None:
    @tool
    def f(address: Address, point: Point, route: Route, u: Undocumented) -> None:
        pass

    p = props(f)
    assert p["address"] == _wire.Schema(
        type="OBJECT",
        description="A postal address.",
        properties={
            "street": _wire.Schema(type="STRING", description="Street and number."),
            "zip": _wire.Schema(type="INTEGER", description="The postal code."),
        },
        required=["street"],  # totality: NotRequired keys are optional
    )
    assert p["point"].properties is not None
    assert p["point"].properties["x"].description == "Abscissa."
    assert p["point"].required == ["x"]
    # msgspec's rename: the schema uses the names on the wire.
    assert p["route"].properties is not None
    assert list(p["route"].properties) == ["wayPoints", "address"]
    assert p["route"].required == ["wayPoints"]
    assert p["route"].properties["address"].nullable is True
    # The docstring dataclasses invent ("Undocumented(z: int)") is not a description.
    assert p["u"].description is None
    sdk_check(f)


def test_total_false_typeddict() -> None:
    @tool
    def f(o: Opts) -> None:
        pass

    assert props(f)["o"].required is None


class MetaInner(msgspec.Struct):
    """Inner.

    Attributes:
        n: From the docstring.
        m: Docstring only.
    """

    n: Annotated[int, msgspec.Meta(description="From Meta.")]
    m: int


def test_meta_description_wins_over_the_docstring_everywhere() -> None:
    @tool
    def f(n: Annotated[int, msgspec.Meta(description="From Meta.")], inner: MetaInner,
          m: int) -> int:
        """Sum.

        Args:
            n: From the docstring.
            inner: The inner one.
            m: Docstring only.
        """
        return n

    p = props(f)
    assert p["n"].description == "From Meta."
    assert p["m"].description == "Docstring only."
    assert p["inner"].properties is not None
    assert p["inner"].properties["n"].description == "From Meta."
    assert p["inner"].properties["m"].description == "Docstring only."


def test_annotated_meta_constraints_and_description() -> None:
    @tool
    def f(
        n: Annotated[int, msgspec.Meta(ge=1, lt=10, description="How many.")],
        x: Annotated[float, msgspec.Meta(gt=0.0, le=1.0)],
        s: Annotated[str, msgspec.Meta(min_length=2, max_length=5, pattern="^[a-z]+$")],
        items: Annotated[list[int], msgspec.Meta(max_length=3)],
    ) -> None:
        pass

    p = props(f)
    assert p["n"] == _wire.Schema(type="INTEGER", minimum=1, maximum=9, description="How many.")
    assert p["x"] == _wire.Schema(type="NUMBER", minimum=0.0, maximum=1.0)
    assert p["s"] == _wire.Schema(type="STRING", min_length=2, max_length=5, pattern="^[a-z]+$")
    assert p["items"].max_items == 3
    sdk_check(f)


def test_options_behavior_scheduling_name_description() -> None:
    @tool(behavior="NON_BLOCKING", name="lookup", description="Look it up.", timeout=2)
    async def f(q: str) -> str:
        """Ignored summary."""
        return q

    assert f.name == "lookup"
    assert f.declaration.name == "lookup"
    assert f.declaration.description == "Look it up."
    assert f.declaration.behavior == "NON_BLOCKING"
    assert f.scheduling == "WHEN_IDLE"
    assert f.timeout == 2.0
    assert f.is_async
    sdk_check(f)

    @tool
    def plain(q: str) -> str:
        return q

    assert plain.scheduling is None and plain.behavior is None and plain.timeout is None
    assert plain.declaration.behavior is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scheduling": "SILENT"}, "only to behavior='NON_BLOCKING'"),
        ({"behavior": "SOMETIMES"}, "behavior must be"),
        ({"behavior": "NON_BLOCKING", "scheduling": "LATER"}, "scheduling must be"),
        ({"timeout": 0}, "timeout must be"),
        ({"timeout": float("inf")}, "timeout must be"),
        ({"name": "has space"}, "invalid tool name"),
        ({"name": "9lives"}, "invalid tool name"),
        ({"name": "x" * 65}, "invalid tool name"),
    ],
)
def test_invalid_options(kwargs: dict[str, Any], message: str) -> None:
    def f(a: int) -> None:
        pass

    with pytest.raises(ValueError, match=message):
        tool(**kwargs)(f)


def test_lambda_needs_a_name() -> None:
    with pytest.raises(ValueError, match="pass name="):
        tool(lambda: None)
    assert tool(name="noop")(lambda: None).name == "noop"


# Every rejected annotation: TypeError at declaration, naming the parameter.

def _any(a: Any) -> None: ...
def _bare_list(a: list) -> None: ...  # type: ignore[type-arg]
def _list_any(a: list[Any]) -> None: ...
def _union(a: int | str) -> None: ...
def _union_none(a: int | str | None) -> None: ...
def _dict(a: dict[str, int]) -> None: ...
def _set(a: set[int]) -> None: ...
def _frozenset(a: frozenset[str]) -> None: ...
def _tuple(a: tuple[int, int]) -> None: ...
def _bytes(a: bytes) -> None: ...
def _int_literal(a: Literal[1, 2]) -> None: ...
def _mixed_literal(a: Literal["x", 2]) -> None: ...
def _args(*a: int) -> None: ...
def _kwargs(**a: int) -> None: ...
def _posonly(a: int, /) -> None: ...
def _missing(a) -> None: ...  # type: ignore[no-untyped-def]
def _class(a: threading.Lock) -> None: ...


class _IntEnum(enum.Enum):
    ONE = 1


def _int_enum(a: _IntEnum) -> None: ...


@dataclasses.dataclass
class _Node:
    value: int
    child: _Node | None = None


def _recursive(a: _Node) -> None: ...


class _ArrayLike(msgspec.Struct, array_like=True):
    a: int


def _array_like(a: _ArrayLike) -> None: ...


@dataclasses.dataclass
class _Empty:
    pass


def _empty(a: _Empty) -> None: ...
def _bad_default(a: int = "x") -> None: ...  # type: ignore[assignment]
def _unresolvable(a: DoesNotExist) -> None: ...  # type: ignore[name-defined]  # noqa: F821


@pytest.mark.parametrize(
    ("func", "message"),
    [
        (_any, "Any is not supported"),
        (_bare_list, "needs an item type"),
        (_list_any, "needs an item type"),
        (_union, "unions of several types"),
        (_union_none, "unions of several types"),
        (_dict, "dict/mapping types are not supported"),
        (_set, "sets are not supported"),
        (_frozenset, "sets are not supported"),
        (_tuple, "tuples are not supported"),
        (_bytes, "bytes are not supported"),
        (_int_literal, "Literal values must all be strings"),
        (_mixed_literal, "Literal values must all be strings"),
        (_int_enum, "Enum _IntEnum values must all be strings"),
        (_args, r"\*args is not supported"),
        (_kwargs, r"\*\*kwargs is not supported"),
        (_posonly, "positional-only"),
        (_missing, "needs a type annotation"),
        (_class, "not supported"),
        (_recursive, "recursive type"),
        (_array_like, "array_like"),
        (_empty, "has no fields"),
        (_bad_default, "does not match the annotation"),
        (_unresolvable, "cannot resolve the annotations"),
    ],
)
def test_rejected_annotations(func: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message) as info:
        tool(func)
    assert f"tool {func.__name__!r}" in str(info.value)
    if func is not _unresolvable:
        assert "parameter 'a'" in str(info.value)


def test_callable_object_and_method() -> None:
    class Counter:
        """Count things."""

        def __init__(self) -> None:
            self.n = 0

        async def __call__(self, by: int = 1) -> int:
            self.n += by
            return self.n

        def add(self, amount: int) -> int:
            """Add an amount.

            Args:
                amount: How much.
            """
            self.n += amount
            return self.n

    c = Counter()
    as_tool = LiveTool(c, name="count")
    assert as_tool.is_async
    assert as_tool.description == "Count things."
    assert props(as_tool)["by"].type == "INTEGER"
    method = tool(c.add)
    assert method.name == "add" and not method.is_async
    assert props(method)["amount"].description == "How much."
    assert method.declaration.parameters is not None
    assert method.declaration.parameters.required == ["amount"]  # no "self"


def test_partial_hides_bound_arguments() -> None:
    async def greet(greeting: str, name: str) -> str:
        """Greet someone."""
        return f"{greeting}, {name}"

    t = LiveTool(functools.partial(greet, "Hello"), name="greet")
    assert t.is_async
    assert list(props(t)) == ["name"]
    assert t.description == "Greet someone."


async def test_partial_keyword_arguments_are_neither_declared_nor_overridable() -> None:
    def query(db_password: str, sql: str, limit: int = 10) -> str:
        """Run SQL."""
        return f"{sql} as {db_password} limit {limit}"

    # Keywords bound at two levels of nesting, one of them with a default of its own.
    inner = functools.partial(query, db_password="s3cret")
    t = LiveTool(functools.partial(inner, limit=5), name="query")
    assert t.declaration.parameters is not None
    assert list(props(t)) == ["sql"]
    assert t.declaration.parameters.required == ["sql"]
    sdk_check(t)
    with trio.fail_after(5):
        ok = await t.run(call("query", {"sql": "select 1"}))
        refused = await t.run(call("query", {"sql": "x", "db_password": "other"}))
    assert ok.response == {"output": "select 1 as s3cret limit 5"}
    assert refused.response is not None
    assert "unknown field `db_password`" in refused.response["error"]


def test_decorated_function_stays_callable() -> None:
    @tool
    def add(a: int, b: int) -> int:
        """Add."""
        return a + b

    assert add(2, 3) == 5
    assert add.__name__ == "add"
    assert add.__doc__ == "Add."
    assert repr(add) == "<LiveTool 'add' sync>"


# --- docstrings ----------------------------------------------------------------------------


def test_google_docstring() -> None:
    doc = parse_docstring(
        """Get the weather.

        Longer explanation
        over two lines.

        Args:
            city (str): The city,
                for example Paris.
            unit: The unit.
            *rest: Ignored extras.

        Returns:
            A dict.
            x: not a parameter.

        Raises:
            ValueError: never a parameter.
        """
    )
    assert doc.summary == "Get the weather.\n\nLonger explanation\nover two lines."
    assert doc.params == {
        "city": "The city, for example Paris.",
        "unit": "The unit.",
        "rest": "Ignored extras.",
    }


def test_rest_docstring() -> None:
    doc = parse_docstring(
        """Convert money.

        :param amount: The amount,
            in cents.
        :param str currency: ISO code.
        :type currency: str
        :returns: the converted amount.
        :raises ValueError: bad currency.
        """
    )
    assert doc.summary == "Convert money."
    assert doc.params == {"amount": "The amount, in cents.", "currency": "ISO code."}


def test_google_entry_types_with_nested_parentheses() -> None:
    doc = parse_docstring(
        """Do.

        Args:
            x (dict(str, int)): The mapping.
            y (dict(str, list(int))): Deeper.
            z: Plain.
        """
    )
    assert doc.params == {"x": "The mapping.", "y": "Deeper.", "z": "Plain."}


def test_empty_docstrings() -> None:
    assert parse_docstring(None).summary is None
    assert parse_docstring("   ").params == {}
    only_args = parse_docstring("\n    Args:\n        a: A.\n    ")
    assert only_args.summary is None and only_args.params == {"a": "A."}


def test_docstring_descriptions_reach_the_schema() -> None:
    @tool
    def convert(amount: int, currency: str = "EUR") -> int:
        """Convert money.

        :param amount: The amount in cents.
        :param currency: ISO code.
        """
        return amount

    p = props(convert)
    assert p["amount"].description == "The amount in cents."
    assert p["currency"].description == "ISO code."
    sdk = sdk_check(convert)
    assert sdk.parameters is not None and sdk.parameters.properties is not None
    assert sdk.parameters.properties["amount"].description == "The amount in cents."


# --- execution -----------------------------------------------------------------------------


async def test_async_tool_output_and_defaults() -> None:
    @tool
    async def weather(
        city: str, unit: Literal["C", "F"] = "C", route: Route | None = None
    ) -> dict[str, Any]:
        await trio.lowlevel.checkpoint()
        assert route is not None
        point = route.way_points[0]
        return {"city": city, "unit": unit, "point": [point.x, point.y]}

    with trio.fail_after(5):
        resp = await weather.run(
            call("weather", {"city": "Paris", "route": {"wayPoints": [{"x": 3}]}})
        )
    assert resp.id == "fc_1" and resp.name == "weather"
    assert resp.scheduling is None
    assert resp.response == {
        # Converted arguments: "x" an int made float, "y" its dataclass default.
        "output": {"city": "Paris", "unit": "C", "point": [3.0, 0.0]}
    }
    # The whole response is a valid toolResponse for the official SDK.
    msg = _wire.ClientMessage(tool_response=_wire.ToolResponse(function_responses=[resp]))
    gtypes.LiveClientMessage.model_validate_json(_wire.encode(msg))


async def test_sync_tool_runs_in_a_worker_thread() -> None:
    seen: list[int] = []

    @tool
    def where(n: int) -> int:
        seen.append(threading.get_ident())
        return n * 2

    with trio.fail_after(5):
        resp = await where.run(call("where", {"n": 21}))
    assert resp.response == {"output": 42}
    assert seen and seen[0] != threading.get_ident()


async def test_lax_numbers() -> None:
    @tool
    def f(n: int, x: float) -> float:
        return n + x

    with trio.fail_after(5):
        # proto Struct numbers are doubles: 3.0 for an int is accepted, so is 2 for a float.
        assert (await f.run(call("f", {"n": 3.0, "x": 2}))).response == {"output": 5.0}


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ({}, "missing required field `city`"),
        ({"city": "X", "cty": "Y"}, "unknown field `cty`"),
        ({"city": 5}, "Expected `str`, got `int` - at `$.city`"),
        ({"city": "X", "days": 3.5}, "Expected `int`, got `float`"),
        ({"city": "X", "days": 0}, ">= 1"),
        ({"city": "X", "unit": "K"}, "Invalid enum value 'K'"),
        (None, "missing required field `city`"),
    ],
)
async def test_bad_arguments_become_error_responses(
    args: dict[str, Any] | None, fragment: str
) -> None:
    ran = False

    @tool
    async def forecast(
        city: str, unit: Literal["C", "F"] = "C", days: Annotated[int, msgspec.Meta(ge=1)] = 1
    ) -> str:
        nonlocal ran
        ran = True
        return "sunny"

    with trio.fail_after(5):
        resp = await forecast.run(call("forecast", args))
    assert resp.response is not None
    assert resp.response["error"].startswith("invalid arguments for forecast: ")
    assert fragment in resp.response["error"]
    assert not ran


async def test_exception_becomes_error_response() -> None:
    @tool
    async def boom(x: int) -> None:
        raise ValueError(f"bad x {x}")

    @tool
    def silent() -> None:
        raise KeyError

    with trio.fail_after(5):
        assert (await boom.run(call("boom", {"x": 1}))).response == {"error": "ValueError: bad x 1"}
        assert (await silent.run(call("silent"))).response == {"error": "KeyError"}


async def test_non_json_result_is_an_error() -> None:
    @tool
    def odd() -> object:
        return object()

    with trio.fail_after(5):
        resp = await odd.run(call("odd"))
    assert resp.response is not None
    assert "the result of odd is not JSON" in resp.response["error"]


async def test_timeout_async(autojump_clock: trio.testing.MockClock) -> None:
    cancelled = False

    @tool(timeout=5)
    async def slow() -> str:
        nonlocal cancelled
        try:
            await trio.sleep(60)
        except trio.Cancelled:
            cancelled = True
            raise
        return "never"

    with trio.fail_after(30):
        resp = await slow.run(call("slow"))
    assert resp.response == {"error": "timed out after 5s"}
    assert cancelled


async def test_timeout_sync_abandons_the_thread(autojump_clock: trio.testing.MockClock) -> None:
    release = threading.Event()

    @tool(timeout=1.5)
    def stuck() -> str:
        release.wait(10)
        return "late"

    try:
        with trio.fail_after(30):
            resp = await stuck.run(call("stuck"))
        assert resp.response == {"error": "timed out after 1.5s"}
    finally:
        release.set()


async def test_sync_tools_use_their_own_thread_limiter(mock_clock: trio.testing.MockClock) -> None:
    """Hung, abandoned calls hold the tool's limiter, never Trio's default one."""
    release = threading.Event()
    threads: list[int] = []
    entered = 0
    both_entered = trio.Event()

    def note_entry() -> None:
        nonlocal entered
        entered += 1
        if entered == 2:
            both_entered.set()

    @tool(timeout=1.5, max_threads=2)
    def stuck() -> str:
        threads.append(threading.get_ident())
        trio.from_thread.run_sync(note_entry)
        release.wait(10)
        return "late"

    default = trio.to_thread.current_default_thread_limiter()
    responses: list[_wire.FunctionResponse] = []

    async def one() -> None:
        responses.append(await stuck.run(call("stuck")))

    try:
        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                for _ in range(3):
                    nursery.start_soon(one)
                await both_entered.wait()
                await trio.testing.wait_all_tasks_blocked()
                limiter = stuck.thread_limiter()
                # Two calls run in worker threads, the third waits for the tool's limiter.
                assert limiter.total_tokens == 2 and limiter.borrowed_tokens == 2
                assert limiter.statistics().tasks_waiting == 1
                assert default.borrowed_tokens == 0
                mock_clock.jump(2)
            assert [r.response for r in responses] == [{"error": "timed out after 1.5s"}] * 3
            assert len(threads) == 2 and threading.get_ident() not in threads
            # The abandoned threads still hold the tool's tokens; nobody else is affected.
            assert limiter.borrowed_tokens == 2 and default.borrowed_tokens == 0
            assert await trio.to_thread.run_sync(lambda: "unrelated") == "unrelated"
    finally:
        release.set()


def test_max_threads_is_checked() -> None:
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="max_threads must be a positive integer"):
            tool(name="f", max_threads=bad)(lambda: None)  # type: ignore[arg-type]


async def test_cancellation_propagates_and_returns_nothing() -> None:
    started = trio.Event()
    observed = trio.Event()
    result: list[_wire.FunctionResponse] = []

    @tool
    async def long() -> str:
        started.set()
        try:
            await trio.sleep_forever()
        except trio.Cancelled:
            observed.set()
            raise
        return "unreachable"  # pragma: no cover

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            scope = trio.CancelScope()

            async def runner() -> None:
                with scope:
                    result.append(await long.run(call("long")))

            nursery.start_soon(runner)
            await started.wait()
            scope.cancel()
    assert observed.is_set()
    assert result == []


async def test_non_blocking_scheduling_in_responses() -> None:
    @tool(behavior="NON_BLOCKING")
    async def idle() -> int:
        return 1

    @tool(behavior="NON_BLOCKING", scheduling="INTERRUPT")
    def urgent() -> int:
        raise RuntimeError("x")

    @tool(behavior="BLOCKING")
    def blocking() -> int:
        return 2

    with trio.fail_after(5):
        assert (await idle.run(call("idle"))).scheduling == "WHEN_IDLE"
        failed = await urgent.run(call("urgent"))
        assert failed.scheduling == "INTERRUPT" and failed.response == {"error": "RuntimeError: x"}
        assert (await blocking.run(call("blocking"))).scheduling is None
    assert blocking.declaration.behavior == "BLOCKING"


# --- registry ------------------------------------------------------------------------------


def test_registry_declarations_and_duplicates() -> None:
    def a(x: int) -> int:
        return x

    @tool(behavior="NON_BLOCKING")
    async def b() -> None:
        pass

    registry = ToolRegistry([a, b])
    assert len(registry) == 2 and "a" in registry and "zz" not in registry
    assert registry.get("b") is b
    assert registry.get("missing") is None
    decls = registry.declarations()
    assert len(decls) == 1
    assert [d.name for d in decls[0].function_declarations or []] == ["a", "b"]
    setup = _wire.ClientMessage(setup=_wire.Setup(model="models/m", tools=decls))
    gtypes.LiveClientMessage.model_validate_json(_wire.encode(setup))
    assert ToolRegistry().declarations() == []
    with pytest.raises(ValueError, match="duplicate tool name 'a'"):
        registry.add(tool(name="a")(lambda: None))
    with pytest.raises(ValueError, match="duplicate"):
        ToolRegistry([a, a])


async def test_registry_unknown_function() -> None:
    registry = ToolRegistry([tool(name="known")(lambda: 1)])
    with trio.fail_after(5):
        resp = await registry.handle(call("nope"))
        ok = await registry.handle(call("known"))
    assert resp.id == "fc_1" and resp.name == "nope"
    assert resp.response == {"error": "unknown function 'nope' (known: known)"}
    assert ok.response == {"output": 1}

