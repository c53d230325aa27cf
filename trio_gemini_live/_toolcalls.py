"""Running tool calls: one task per call (or per batch for ``on_tool_call``), each answered once.

PROTOCOL.md 3.4: every function call must be answered, even when the tool fails, or the
model stays silent on a healthy socket. So a call to a registered tool (``tools=``) runs
that tool; a call nobody declared or handles is answered with an error; the rest go to the
``on_tool_call`` handler, whose return value is sent as the answer (``None``: it answers by
itself with ``send_tool_response``). A ``toolCallCancellation`` cancels the task once all of
its calls are cancelled, and a cancelled call is never answered. Tools and handlers are
bounded by ``tool_timeout``; a timeout or an exception becomes an ``{"error": ...}`` answer.
"""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

import msgspec
import trio

from . import _inputs
from . import _wire as w
from . import events as ev
from ._handlers import Handler, HandlerDispatcher

if TYPE_CHECKING:
    from .tools import ToolRegistry

__all__ = ["ToolCallRunner"]

log: Final = logging.getLogger("trio_gemini_live")


class _CallTask:
    """The task answering some tool calls: cancelled once all of them are cancelled."""

    __slots__ = ("ids", "scope")

    def __init__(self, ids: Iterable[str]) -> None:
        self.ids = set(ids)
        self.scope = trio.CancelScope()


class ToolCallRunner:
    """Starts, cancels and answers the session's tool calls.

    Args:
        registry: the Python tools given as ``open_live_session(tools=...)``, or ``None``.
        handlers: the session's handlers (``on_tool_call``; errors go to ``on_error``).
        declared_by_config: functions declared in ``LiveConfig(tools=...)``: their calls
            are the user's to answer (not answered with an error when no handler is set).
        tool_timeout: seconds a tool or ``on_tool_call`` may take (``None``: no limit).
        answer: sends answers (``send_tool_response`` without the checks).
        vertex: the backend is Vertex AI (Gemini-only answer fields are removed).
    """

    def __init__(
        self,
        *,
        registry: ToolRegistry | None,
        handlers: HandlerDispatcher,
        declared_by_config: frozenset[str],
        tool_timeout: float | None,
        answer: Callable[[list[w.FunctionResponse]], Awaitable[None]],
        vertex: bool,
    ) -> None:
        self.registry = registry
        self._handlers = handlers
        self.declared_by_config = declared_by_config
        self._timeout = tool_timeout if tool_timeout is not None else math.inf
        self._timeout_text = f"the tool call timed out after {tool_timeout:g} s"
        self._answer = answer
        self.vertex = vertex
        self._tasks: dict[str, _CallTask] = {}
        self.nursery: trio.Nursery | None = None

    def call(self, event: ev.ToolCall) -> None:
        """The server asked for ``event``'s calls: start the tasks that answer them."""
        nursery = self.nursery
        if nursery is None:
            return
        registry = self.registry
        handler = self._handlers.get("on_tool_call")
        manual: list[w.FunctionCall] = []
        for call in event.calls:
            if call.will_continue:
                # Arguments still streaming (Vertex partialArgs): the call runs once its
                # last part (without willContinue) arrives.
                continue
            if registry is not None and (
                registry.get(call.name or "") is not None
                or (handler is None and call.name not in self.declared_by_config)
            ):
                # A registered tool, or a function nobody declared or handles: the registry
                # answers it with an error, since every call must be answered.
                nursery.start_soon(self._run_registered, call, self._track([call]))
            else:
                manual.append(call)
        if manual and handler is not None:
            batch = ev.ToolCall(calls=tuple(manual))
            nursery.start_soon(self._run_handler, handler, batch, self._track(manual))

    def _track(self, calls: Iterable[w.FunctionCall]) -> _CallTask:
        """Register the task that will answer ``calls`` now, before it starts: a cancellation
        in the same message (or the next) must find it."""
        task = _CallTask(call.id for call in calls if call.id is not None)
        for call_id in task.ids:
            self._tasks[call_id] = task
        return task

    def cancel(self, ids: Iterable[str]) -> None:
        """These calls were cancelled: a task goes once all of its calls are cancelled."""
        for call_id in ids:
            task = self._tasks.pop(call_id, None)
            if task is not None:
                task.ids.discard(call_id)
                if not task.ids:
                    task.scope.cancel()

    def cancel_all(self) -> None:
        """The session ended: every task goes."""
        for task in self._tasks.values():
            task.scope.cancel()

    def _still_active(self, ids: Iterable[str]) -> list[str]:
        """Of ``ids``, those not cancelled; they stop being tracked (they are being answered)."""
        return [call_id for call_id in ids if self._tasks.pop(call_id, None) is not None]

    async def _run_registered(self, call: w.FunctionCall, task: _CallTask) -> None:
        """Run a call with its registered tool; answer it exactly once unless cancelled."""
        assert call.id is not None and self.registry is not None
        if task.scope.cancel_called:
            return  # cancelled before it started (a bundled toolCallCancellation)
        response: w.FunctionResponse | None = None
        with task.scope:
            # The tool's own timeout answers first; the session's bounds tools without one.
            with trio.move_on_after(self._timeout) as timeout:
                response = await self.registry.handle(call)
            if timeout.cancelled_caught:
                response = w.FunctionResponse(
                    id=call.id, name=call.name, response={"error": self._timeout_text}
                )
        if not self._still_active([call.id]) or response is None:
            return  # cancelled by toolCallCancellation: a cancelled call is not answered
        await self._answer([_inputs.tool_response(response, 0, vertex=self.vertex, strict=False)])

    async def _run_handler(self, handler: Handler, event: ev.ToolCall, task: _CallTask) -> None:
        ids = [call.id for call in event.calls if call.id is not None]
        if task.scope.cancel_called:
            return  # every call was cancelled before the handler started
        result: Any = None
        failure: str | None = None
        with task.scope:
            try:
                with trio.fail_after(self._timeout):
                    result = handler(event)
                    if inspect.isawaitable(result):
                        result = await result
            except trio.TooSlowError:
                failure = self._timeout_text
            except Exception as exc:
                self._handlers.errors += 1
                log.exception("on_tool_call raised")
                self._handlers.report(exc)
                failure = f"{type(exc).__name__}: {exc}"
        live_ids = self._still_active(ids)
        if not live_ids:
            return  # every call was cancelled by toolCallCancellation (or the session ended)
        if failure is None and result is None:
            return  # the handler answers by itself (send_tool_response)
        by_id: dict[str, w.FunctionResponse] = {}
        if failure is None:
            try:
                for i, item in enumerate(_as_list(result)):
                    resp = _inputs.tool_response(
                        _fill(item, event), i, vertex=self.vertex, strict=False
                    )
                    by_id[resp.id or ""] = resp
            except (TypeError, ValueError) as exc:
                failure = f"on_tool_call returned an invalid response: {exc}"
                self._handlers.report(exc)
                by_id = {}
        names = {call.id: call.name for call in event.calls}
        answers = [
            by_id.get(call_id)
            or w.FunctionResponse(
                id=call_id,
                name=names.get(call_id),
                response={"error": failure or "the handler gave no response for this call"},
            )
            for call_id in live_ids
        ]
        await self._answer(answers)


def _as_list(result: Any) -> list[Any]:
    if isinstance(result, (w.FunctionResponse, Mapping)):
        return [result]
    return list(result)


def _fill(item: Any, event: ev.ToolCall) -> Any:
    """A handler answering a single call may leave out its id and name."""
    if len(event.calls) != 1:
        return item
    call = event.calls[0]
    if isinstance(item, w.FunctionResponse):
        return msgspec.structs.replace(item, id=item.id or call.id, name=item.name or call.name)
    if isinstance(item, Mapping):
        return {"id": call.id, "name": call.name, **item}
    return item
