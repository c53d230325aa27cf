"""Parameter schemas for tools: Python annotations to ``_wire.Schema`` (PROTOCOL.md 3.1).

Also how a callable is looked into: through ``functools.partial`` (bound arguments are
hidden from the model) and callable objects (their ``__call__``).

The rules (which annotation becomes which schema, what is refused and why) are written in
:mod:`trio_gemini_live.tools`' documentation; this module applies them. Every refusal is a
``TypeError`` raised when the tool is declared, naming the function and the parameter.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any

import msgspec
import msgspec.inspect as mi

from . import _wire
from ._tool_docstrings import Docstring, class_doc

__all__ = [
    "bound_keywords",
    "function_schema",
    "is_async",
    "resolve_target",
    "unwrap_partial",
]


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
        doc = class_doc(cls)
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


def _check_default(where: str, default: Any, hint: Any) -> None:
    try:
        msgspec.convert(msgspec.to_builtins(default), hint, strict=False)
    except (msgspec.ValidationError, TypeError, ValueError) as exc:
        raise TypeError(f"{where}: the default {default!r} does not match the annotation: "
                        f"{exc}") from None


def unwrap_partial(func: Callable[..., Any]) -> Callable[..., Any]:
    while isinstance(func, functools.partial):
        func = func.func
    return func


def bound_keywords(func: Callable[..., Any]) -> frozenset[str]:
    """The names bound by keyword in ``func`` and every partial nested in it."""
    names: set[str] = set()
    while isinstance(func, functools.partial):
        names.update(func.keywords)
        func = func.func
    return frozenset(names)


def resolve_target(func: Callable[..., Any]) -> Callable[..., Any]:
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


def is_async(func: Callable[..., Any]) -> bool:
    base = unwrap_partial(func)
    return inspect.iscoroutinefunction(base) or inspect.iscoroutinefunction(
        resolve_target(base)
    )


def function_schema(
    name: str, func: Callable[..., Any], target: Callable[..., Any], base: Callable[..., Any],
    doc: Docstring,
) -> tuple[_wire.Schema | None, type[msgspec.Struct]]:
    """The ``parameters`` schema of a tool and the Struct its arguments are validated with.

    Args:
        name: The tool's name (error messages and the Struct's name).
        func: The callable as given (a partial's keyword-bound arguments are left out).
        target: Where the signature is read (a callable object's ``__call__``).
        base: Where the annotations are resolved (the function under any partial).
        doc: The parsed docstring, for the parameters' descriptions.

    Returns:
        The schema (``None`` for a function without parameters) and the arguments Struct.

    Raises:
        TypeError: an unsupported parameter, naming the function and the parameter.
    """
    where = f"tool {name!r}"
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
    bound = bound_keywords(func)
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
        f"{name}_arguments", fields, kw_only=True, forbid_unknown_fields=True
    )
    if not properties:
        return None, args_type
    parameters = _wire.Schema(
        type="OBJECT", properties=properties, required=required or None
    )
    return parameters, args_type
