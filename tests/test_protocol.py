"""The sans-IO protocol: status table, bookkeeping invariants, fuzzing, and no trio import."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import trio_gemini_live
from trio_gemini_live import _wire as w
from trio_gemini_live import events as ev
from trio_gemini_live._errors import ProtocolError
from trio_gemini_live._protocol import (
    CLOSED,
    TRANSITIONS,
    ConnectionEnd,
    IllegalTransition,
    LiveProtocol,
    Status,
)

from .core import receive_frame
from .strategies import int64s, plausible_server_frames, structs

SETUP = w.Setup(model="models/gemini-test", session_resumption=w.SessionResumptionConfig())
DROP = ConnectionEnd(CLOSED, 1006)


def ready_protocol(setup: w.Setup = SETUP, **kwargs: Any) -> LiveProtocol:
    """A protocol that went through connect, setup and setupComplete."""
    proto = LiveProtocol(setup, **kwargs)
    proto.transition(Status.CONNECTING)
    proto.setup_frame()
    receive_frame(proto, b'{"setupComplete": {"sessionId": "s-1"}}')
    assert proto.status is Status.READY
    assert proto.after_setup(0.0) == []  # the first connection: nothing to resend
    return proto


def status(proto: LiveProtocol) -> Status:
    """The status, read through a call so that mypy does not narrow it between steps."""
    return proto.status


def frame(obj: Any) -> bytes:
    return json.dumps(obj).encode()


# --- importable without trio (DESIGN.md: _protocol is sans-IO) -----------------------------


def test_foundation_imports_without_trio() -> None:
    pkg_dir = Path(trio_gemini_live.__file__).parent
    code = textwrap.dedent(
        f"""
        import sys, types

        class BlockTrio:
            def find_spec(self, name, path=None, target=None):
                top = name.partition(".")[0]
                if top in ("trio", "trio_websocket"):
                    raise ImportError("blocked by the test: " + name)
                return None

        sys.meta_path.insert(0, BlockTrio())
        sys.modules["trio"] = None  # belt and braces
        try:
            import trio
        except ImportError:
            pass
        else:
            raise SystemExit("the blocker does not work")

        # A bare parent package: the real __init__ may import the session (and trio).
        pkg = types.ModuleType("trio_gemini_live")
        pkg.__path__ = [{str(pkg_dir)!r}]
        sys.modules["trio_gemini_live"] = pkg

        import trio_gemini_live._errors
        import trio_gemini_live._wire
        import trio_gemini_live.events
        import trio_gemini_live._protocol

        loaded = [m for m in sys.modules if m.partition(".")[0] in ("trio", "trio_websocket")]
        assert sys.modules["trio"] is None and loaded == ["trio"], loaded
        proto = trio_gemini_live._protocol.LiveProtocol(trio_gemini_live._wire.Setup(model="m"))
        print(proto.status.name)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "DISCONNECTED"


# --- the status table ----------------------------------------------------------------------


def test_transition_table_is_complete_and_closed_is_terminal() -> None:
    assert set(TRANSITIONS) == set(Status)
    for targets in TRANSITIONS.values():
        assert targets <= set(Status)
    assert TRANSITIONS[Status.CLOSED] == frozenset()
    # Every state can reach CLOSED (nothing gets stuck).
    for start in Status:
        seen, todo = {start}, [start]
        while todo:
            for nxt in TRANSITIONS[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        assert Status.CLOSED in seen


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(list(Status)), max_size=20))
def test_random_transitions_follow_the_table(targets: list[Status]) -> None:
    proto = LiveProtocol(SETUP)
    for target in targets:
        before = proto.status
        if target in TRANSITIONS[before]:
            proto.transition(target)
            assert proto.status is target
        else:
            with pytest.raises(IllegalTransition):
                proto.transition(target)
            assert proto.status is before


def test_server_messages_are_refused_outside_a_connection() -> None:
    proto = LiveProtocol(SETUP)
    with pytest.raises(ProtocolError):
        receive_frame(proto, b'{"setupComplete": {}}')
    proto.transition(Status.CONNECTING)
    with pytest.raises(ProtocolError):
        receive_frame(proto, b'{"setupComplete": {}}')
    assert proto.status is Status.CONNECTING


def test_setup_complete_must_come_first_and_once() -> None:
    proto = LiveProtocol(SETUP)
    proto.transition(Status.CONNECTING)
    proto.setup_frame()
    with pytest.raises(ProtocolError, match="before setupComplete"):
        receive_frame(proto, b'{"serverContent": {"turnComplete": true}}')
    assert proto.status is Status.SETUP_PENDING
    events = receive_frame(proto, b'{"setupComplete": {"sessionId": "abc"}}')
    assert events == [
        ev.SetupComplete(session_id="abc")
    ]
    assert status(proto) is Status.READY and proto.session_id == "abc"
    with pytest.raises(ProtocolError, match="second setupComplete"):
        receive_frame(proto, b'{"setupComplete": {}}')
    assert status(proto) is Status.READY


def test_closing_still_receives_and_closed_refuses() -> None:
    proto = ready_protocol()
    proto.transition(Status.CLOSING)
    assert receive_frame(proto, b'{"serverContent": {"turnComplete": true}}') == [ev.TurnComplete()]
    proto.transition(Status.CLOSED)
    with pytest.raises(ProtocolError):
        receive_frame(proto, b'{"serverContent": {"turnComplete": true}}')


# --- the client side -----------------------------------------------------------------------


def test_setup_frame_never_sends_a_null_handle() -> None:
    proto = LiveProtocol(SETUP)
    proto.transition(Status.CONNECTING)
    sent = json.loads(proto.setup_frame())
    assert sent == {"setup": {"model": "models/gemini-test", "sessionResumption": {}}}
    assert proto.connections == 1


def test_setup_frame_resumes_the_latest_resumable_handle() -> None:
    proto = ready_protocol()
    receive_frame(proto, frame({"sessionResumptionUpdate": {"newHandle": "h1", "resumable": True}}))
    receive_frame(proto, frame({"sessionResumptionUpdate": {"resumable": False}}))
    receive_frame(
        proto, frame({"sessionResumptionUpdate": {"newHandle": "h2", "resumable": False}})
    )
    assert proto.handle == "h1"
    proto.connection_ended(DROP, 1.0)
    assert proto.status is Status.DISCONNECTED
    proto.transition(Status.CONNECTING)
    sent = json.loads(proto.setup_frame())
    assert sent["setup"]["sessionResumption"] == {"handle": "h1"}
    assert proto.connections == 2
    # The configured setup is not changed by the per-connection handle.
    assert proto.setup == SETUP


def test_resume_handle_without_a_resumption_config() -> None:
    proto = LiveProtocol(w.Setup(model="m"), resume_handle="given")
    proto.transition(Status.CONNECTING)
    assert json.loads(proto.setup_frame()) == {
        "setup": {"model": "m", "sessionResumption": {"handle": "given"}}
    }


def test_prepare_refuses_setup_and_written_counts_the_connection_s_indexes() -> None:
    proto = ready_protocol()
    with pytest.raises(ValueError):
        proto.prepare(w.ClientMessage(setup=SETUP), "other")
    text = w.ClientMessage(realtime_input=w.RealtimeInput(text="hi"))
    item = proto.prepare(text, "text")
    assert item.frame == '{"realtimeInput":{"text":"hi"}}' and item.kind == "text"
    assert proto.sent_index == 0  # preparing (or queueing) is not writing
    assert [proto.written(item), proto.written(item)] == [1, 2]  # setup is index 0
    proto.connection_ended(DROP, 1.0)
    proto.transition(Status.CONNECTING)
    proto.setup_frame()
    assert proto.sent_index == 0


def test_tool_calls_are_tracked_until_answered_or_cancelled() -> None:
    proto = ready_protocol()
    events = receive_frame(proto, frame({"toolCall": {"functionCalls": [
        {"id": "a", "name": "f", "args": {"x": 1}}, {"id": "b", "name": "g"},
        {"id": "c", "name": "h"}]}}))
    assert [c.id for c in events[0].calls] == ["a", "b", "c"]  # type: ignore[union-attr]
    assert set(proto.active_tool_calls) == {"a", "b", "c"}
    assert proto.active_tool_calls["a"].args == {"x": 1}
    receive_frame(proto, frame({"toolCallCancellation": {"ids": ["b", "unknown"]}}))
    assert set(proto.active_tool_calls) == {"a", "c"}
    answer = w.ClientMessage(tool_response=w.ToolResponse(function_responses=[
        w.FunctionResponse(id="a", name="f", response={"output": 1})]))
    item = proto.prepare(answer, "tool_response")
    assert item.frame.encode() == w.encode(answer) and item.call_ids == ("a",)
    assert set(proto.active_tool_calls) == {"a", "c"}  # answered once committed
    proto.queued(item)
    assert set(proto.active_tool_calls) == {"c"}


def test_vertex_calls_without_ids_get_ids_the_server_never_sees() -> None:
    # PROTOCOL.md 3.4: Vertex may send calls without ids.
    proto = ready_protocol()
    (event,) = receive_frame(proto, frame({"toolCall": {"functionCalls": [
        {"name": "f"}, {"name": "g", "id": ""}, {"name": "h", "id": "server-id"}]}}))
    assert isinstance(event, ev.ToolCall)
    ids = [call.id for call in event.calls]
    assert ids[2] == "server-id"
    assert ids[0] and ids[1] and len(set(ids)) == 3
    assert set(proto.active_tool_calls) == set(ids)
    answer = w.ClientMessage(tool_response=w.ToolResponse(function_responses=[
        w.FunctionResponse(id=ids[0], name="f", response={}),
        w.FunctionResponse(id="server-id", name="h", response={})]))
    item = proto.prepare(answer, "tool_response")
    proto.queued(item)
    sent = json.loads(item.frame)
    assert sent == {"toolResponse": {"functionResponses": [
        {"name": "f", "response": {}}, {"id": "server-id", "name": "h", "response": {}}]}}
    assert set(proto.active_tool_calls) == {ids[1]}


@pytest.mark.parametrize("calls", [[{"id": "a"}], [{"id": "a", "name": ""}], [{}],
                                   [{"name": "f"}, {"id": "b"}]])
def test_tool_calls_without_a_name_are_protocol_errors(calls: list[dict[str, str]]) -> None:
    proto = ready_protocol()
    with pytest.raises(ProtocolError):
        receive_frame(proto, frame({"toolCall": {"functionCalls": calls}}))
    assert proto.active_tool_calls == {}


# --- server-side bookkeeping ---------------------------------------------------------------


def test_go_away_sets_a_deadline_that_a_new_connection_clears() -> None:
    proto = ready_protocol()
    assert receive_frame(proto, frame({"goAway": {"timeLeft": "50s"}}), now=100.0) == [
        ev.GoAway(time_left=50.0)
    ]
    assert proto.go_away_deadline == 150.0
    receive_frame(proto, frame({"goAway": {"timeLeft": -3}}), now=200.0)
    assert proto.go_away_deadline == 200.0  # a negative Duration is clamped to "now"
    proto.connection_ended(DROP, 201.0)
    assert proto.go_away_deadline is None


def test_a_bad_field_leaves_the_state_unchanged() -> None:
    proto = ready_protocol()
    before = snapshot(proto)
    with pytest.raises(ProtocolError):
        receive_frame(proto, frame({
            "usageMetadata": {"totalTokenCount": 5},
            "sessionResumptionUpdate": {"newHandle": "h", "resumable": True},
            "toolCall": {"functionCalls": [{"id": "x", "name": "f"}]},
            "goAway": {"timeLeft": "soon"},
        }))
    assert snapshot(proto) == before


def test_unknown_message_carries_the_raw_frame() -> None:
    proto = ready_protocol()
    raw = b'{"somethingNew": {"a": 1}}'
    assert receive_frame(proto, raw) == [ev.UnknownMessage(raw=raw)]
    assert receive_frame(proto, bytearray(raw)) == [ev.UnknownMessage(raw=raw)]
    assert receive_frame(proto, memoryview(raw)) == [ev.UnknownMessage(raw=raw)]
    assert receive_frame(proto, raw.decode()) == [ev.UnknownMessage(raw=raw)]
    # A known key with nothing to report is not unknown.
    assert receive_frame(proto, b'{"serverContent": {}}') == []


def test_in_turn_follows_output_and_turn_complete() -> None:
    proto = ready_protocol()
    assert not proto.in_turn
    receive_frame(proto, frame({"serverContent": {"outputTranscription": {"text": "Hi"}}}))
    assert proto.in_turn
    receive_frame(proto, frame({"serverContent": {"modelTurn": {"parts": [{"text": "x"}]},
                                           "turnComplete": True}}))
    assert not proto.in_turn


def test_last_consumed_index_is_kept() -> None:
    proto = ready_protocol()
    receive_frame(
        proto, frame({"sessionResumptionUpdate": {"lastConsumedClientMessageIndex": "42"}})
    )
    assert proto.last_consumed_index == 42
    receive_frame(proto, frame({"sessionResumptionUpdate": {"resumable": False}}))
    assert proto.last_consumed_index == 42


# --- fuzzing: only ProtocolError, and the state survives -------------------------------------


@dataclass
class Snapshot:
    status: Status
    handle: str | None
    usage: ev.Usage
    active: dict[str, w.FunctionCall]
    session_id: str | None
    in_turn: bool
    deadline: float | None
    last_consumed: int | None = None


def snapshot(proto: LiveProtocol) -> Snapshot:
    return Snapshot(
        status=proto.status,
        handle=proto.handle,
        usage=proto.usage,
        active=dict(proto.active_tool_calls),
        session_id=proto.session_id,
        in_turn=proto.in_turn,
        deadline=proto.go_away_deadline,
        last_consumed=proto.last_consumed_index,
    )


_EVENT_TYPES = tuple(
    obj for obj in vars(ev).values() if isinstance(obj, type) and issubclass(obj, msgspec.Struct)
)
_FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FUZZ
@given(st.lists(st.binary(max_size=120) | plausible_server_frames, max_size=8))
def test_fuzz_receive_raises_only_protocol_error(frames: list[bytes]) -> None:
    proto = ready_protocol()
    for data in frames:
        before = snapshot(proto)
        try:
            events = receive_frame(proto, data, now=1.0)
        except ProtocolError:
            assert snapshot(proto) == before
            continue
        assert all(isinstance(e, _EVENT_TYPES) for e in events)
        assert proto.status in TRANSITIONS


# --- a model of the bookkeeping, driven by random conversations ------------------------------

_IDS = st.sampled_from(["a", "b", "c", ""]) | st.none()
_function_calls = st.builds(
    w.FunctionCall,
    id=_IDS,
    name=st.sampled_from(["f", "g"]) | st.sampled_from(["", None]),
    args=st.none() | st.just({"x": 1}),
)
_server_messages = st.builds(
    w.ServerMessage,
    setup_complete=st.none() | st.none() | st.none() | st.builds(
        w.SetupComplete, session_id=st.sampled_from([None, "", "s2"])),
    server_content=st.none() | structs(w.ServerContent),
    tool_call=st.none() | st.builds(
        w.ToolCall, function_calls=st.none() | st.lists(_function_calls, max_size=3)),
    tool_call_cancellation=st.none() | st.builds(
        w.ToolCallCancellation, ids=st.none() | st.lists(st.sampled_from(["a", "b", "c", "z"]))),
    usage_metadata=st.none() | structs(w.UsageMetadata),
    go_away=st.none() | st.builds(
        w.GoAway, time_left=st.sampled_from([None, "50s", "1.5s", 3.0, -1.0, "bad", "infs"])),
    session_resumption_update=st.none() | st.builds(
        w.SessionResumptionUpdate,
        new_handle=st.sampled_from([None, "", "h1", "h2", "h3"]),
        resumable=st.sampled_from([None, True, False]),
        last_consumed_client_message_index=st.none() | int64s,
    ),
    voice_activity=st.none() | structs(w.VoiceActivity),
)
_ops = st.one_of(
    st.tuples(st.just("server"), _server_messages),
    st.tuples(st.just("server"), _server_messages),
    st.tuples(st.just("server"), _server_messages),
    st.tuples(st.just("raw"), plausible_server_frames),
    st.tuples(st.just("answer"), st.lists(st.sampled_from(["a", "b", "c", "z"]), max_size=3)),
    st.tuples(st.just("answer_generated"), st.integers(min_value=0, max_value=3)),
    st.tuples(st.just("drop"), st.none()),
    st.tuples(st.just("close"), st.none()),
)


@dataclass
class Model:
    """What the bookkeeping must be, computed from the accepted messages alone."""

    handle: str | None
    usage: ev.Usage = field(default_factory=ev.Usage)
    active: set[str] = field(default_factory=set)
    deadline: float | None = None
    session_id: str | None = "s-1"
    resumable_handles: set[str] = field(default_factory=set)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_ops, max_size=25), st.sampled_from([None, "initial"]))
def test_any_conversation_keeps_the_state_valid(
    ops: list[tuple[str, Any]], resume_handle: str | None
) -> None:
    proto = ready_protocol(resume_handle=resume_handle)
    model = Model(handle=resume_handle)
    if resume_handle:
        model.resumable_handles.add(resume_handle)
    now = 0.0
    for kind, arg in ops:
        now += 1.0
        before = snapshot(proto)
        if kind in ("server", "raw"):
            data = w.encode(arg) if kind == "server" else arg
            try:
                events = receive_frame(proto, data, now=now)
            except ProtocolError:
                assert snapshot(proto) == before
                continue
            message = w.decode_server_message(data)
            apply_to_model(model, message, events, now)
        elif kind == "answer" and proto.status is Status.READY:
            proto.queued(proto.prepare(_answer(arg), "tool_response"))
            model.active -= set(arg)
        elif kind == "answer_generated" and proto.status is Status.READY:
            generated = sorted(i for i in proto.active_tool_calls if i.startswith("trio-"))[:arg]
            item = proto.prepare(_answer(generated), "tool_response")
            proto.queued(item)
            for response in json.loads(item.frame)["toolResponse"]["functionResponses"]:
                assert "id" not in response  # made-up ids never reach the server
            model.active -= set(generated)
        elif kind == "drop":
            closing = proto.status is Status.CLOSING
            proto.connection_ended(DROP, now, closing=closing)
            model.deadline = None
            if proto.status is Status.DISCONNECTED:
                proto.connecting(now)
                sent = json.loads(proto.setup_frame())
                resumption = sent["setup"]["sessionResumption"]
                assert resumption == ({"handle": model.handle} if model.handle else {})
                receive_frame(proto, b'{"setupComplete": {}}')
                proto.after_setup(now)
                # Not a transparent resumption: the new server state issued no calls.
                model.active = set()
            elif proto.status is Status.CLOSING:
                proto.transition(Status.CLOSED)
        elif kind == "close" and proto.status in (Status.READY, Status.SETUP_PENDING):
            proto.transition(Status.CLOSING)
        check_invariants(proto, model)


def _answer(ids: list[str]) -> w.ClientMessage:
    return w.ClientMessage(tool_response=w.ToolResponse(function_responses=[
        w.FunctionResponse(id=i, name="f", response={"output": None}) for i in ids]))


def apply_to_model(
    model: Model, message: w.ServerMessage, events: list[ev.Event], now: float
) -> None:
    usage_events = [e for e in events if isinstance(e, ev.UsageUpdate)]
    assert len(usage_events) == (message.usage_metadata is not None)
    if usage_events:
        model.usage = usage_events[0].usage
    if message.setup_complete is not None and message.setup_complete.session_id:
        model.session_id = message.setup_complete.session_id
    if message.tool_call is not None:
        (call_event,) = (e for e in events if isinstance(e, ev.ToolCall))
        server_calls = message.tool_call.function_calls or []
        assert len(call_event.calls) == len(server_calls)
        for sent, got in zip(server_calls, call_event.calls, strict=True):
            assert got.name == sent.name and got.args == sent.args
            assert got.id == sent.id or (not sent.id and got.id)
            assert got.id is not None
            model.active.add(got.id)
    if message.tool_call_cancellation is not None:
        model.active -= set(message.tool_call_cancellation.ids or ())
    update = message.session_resumption_update
    if update is not None and update.resumable and update.new_handle:
        model.handle = update.new_handle
        model.resumable_handles.add(update.new_handle)
    if message.go_away is not None:
        left = w.parse_duration(message.go_away.time_left) or 0.0
        model.deadline = now + max(0.0, left)


def check_invariants(proto: LiveProtocol, model: Model) -> None:
    assert proto.status in TRANSITIONS
    assert proto.handle == model.handle
    assert proto.handle is None or proto.handle in model.resumable_handles
    assert set(proto.active_tool_calls) == model.active
    for call_id, call in proto.active_tool_calls.items():
        assert call.id == call_id and call.name
    assert proto.usage == model.usage
    assert proto.go_away_deadline == model.deadline
    assert proto.session_id == model.session_id


def test_usage_is_the_last_report_not_a_sum() -> None:
    proto = ready_protocol()
    receive_frame(proto, frame({"usageMetadata": {"totalTokenCount": 10}}))
    receive_frame(proto, frame({"usageMetadata": {"totalTokenCount": 4, "promptTokenCount": "3"}}))
    assert proto.usage == ev.Usage(total_tokens=4, prompt_tokens=3)
    assert msgspec.structs.asdict(proto.usage)["total_tokens"] == 4
