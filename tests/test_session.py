"""The session against the emulator: every ``LiveSession`` method, state and transport.

Every frame the session sends is checked by the official SDK's strict schema (``referee``).
"""

from __future__ import annotations

import base64
from contextlib import AbstractAsyncContextManager
from typing import Any

import msgspec
import pytest
import trio
import trustme

from trio_gemini_live import (
    ApiKey,
    Blob,
    Content,
    EphemeralToken,
    FunctionResponse,
    LiveConfig,
    LiveError,
    LiveSession,
    Part,
    SessionClosedError,
    Status,
    VertexAI,
    open_live_session,
)
from trio_gemini_live import events as ev
from trio_gemini_live.testing import LiveEmulator, speech_like_pcm

from .conftest import API_KEY, MODEL, Referee, until

pytestmark = pytest.mark.usefixtures("referee")

TEXT = LiveConfig(response_modalities=["TEXT"])
WEATHER = {
    "function_declarations": [
        {
            "name": "get_weather",
            "description": "The weather in a city.",
            "parameters": {
                "type": "OBJECT",
                "properties": {"city": {"type": "STRING"}},
                "required": ["city"],
            },
        }
    ]
}


def live(
    nursery: trio.Nursery, emu: LiveEmulator, **kwargs: Any
) -> AbstractAsyncContextManager[LiveSession]:
    kwargs.setdefault("config", TEXT)
    kwargs.setdefault("auth", ApiKey(API_KEY))
    return open_live_session(
        nursery, model=MODEL, connect=emu.connect_in_memory(), **kwargs
    )


def text_of(events: list[ev.Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, ev.TextChunk))


def client_messages(emu: LiveEmulator, index: int = 0) -> list[dict[str, Any]]:
    """Every client message after ``setup`` on a connection."""
    return emu.connections[index].received[1:]


async def test_text_turn_round_trip_and_graceful_close(
    emu: LiveEmulator, referee: Referee
) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            async with live(nursery, emu) as session:
                assert session.status is Status.READY
                assert session.session_id is None  # the Gemini API sends none
                await session.send_client_content("Hello there")
                events = await until(session, ev.TurnComplete)
                assert session.usage.total_tokens > 0
                assert any(isinstance(e, ev.UsageUpdate) for e in events)
            assert session.status is Status.CLOSED  # type: ignore[comparison-overlap]
        # The nursery exited: no background task of the session is left.
    record = emu.connections[0]
    await record.closed.wait()
    assert record.close_code == 1000
    assert text_of(events) == 'I heard: "Hello there". This is turn 1 of our conversation.'
    assert record.setup is not None and record.setup["model"] == f"models/{MODEL}"
    assert record.setup["generationConfig"] == {"responseModalities": ["TEXT"]}
    assert client_messages(emu) == [
        {
            "clientContent": {
                "turns": [{"role": "user", "parts": [{"text": "Hello there"}]}],
                "turnComplete": True,
            }
        }
    ]
    assert len(referee.frames) == 2  # setup and clientContent, both accepted by the SDK


async def test_events_does_not_stop_at_a_turn_and_ends_at_close(emu: LiveEmulator) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery, live(nursery, emu) as session:
            await session.send_client_content("one")
            turns = 0
            seen: list[ev.Event] = []
            async for event in session.events():
                seen.append(event)
                if isinstance(event, ev.TurnComplete):
                    turns += 1
                    if turns == 1:
                        await session.send_client_content("two")
                    else:
                        await session.aclose()
            # The loop ended by itself, after SessionClosed.
            assert isinstance(seen[-1], ev.SessionClosed)
            assert seen[-1].code == 1000
            assert "turn 2 of our" in text_of(seen)
            assert session.status is Status.CLOSED
            # Iterating a closed session ends at once.
            assert [e async for e in session.events()] == []


async def test_client_content_forms(emu: LiveEmulator) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery, live(nursery, emu) as session:
            await session.send_client_content(
                Content(role="user", parts=[Part(text="a struct")]), turn_complete=False
            )
            await session.send_client_content(
                [
                    {"role": "model", "parts": [{"text": "earlier answer"}]},
                    {"role": "user", "parts": [{"text": "and a dict"}]},
                ]
            )
            await session.send_client_content({"role": "user", "parts": [{"text": "x"}]})
            await until(session, ev.TurnComplete)
    sent = client_messages(emu)
    assert sent[0] == {
        "clientContent": {
            "turns": [{"role": "user", "parts": [{"text": "a struct"}]}],
            "turnComplete": False,
        }
    }
    assert sent[1]["clientContent"]["turns"][0]["role"] == "model"
    assert len(sent) == 3


async def test_realtime_input_each_field(emu: LiveEmulator) -> None:
    pcm = b"\x01\x00" * 160
    jpeg = b"\xff\xd8\xff\xe0fakejpeg"
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery, live(
            nursery, emu, input_sample_rate=24000
        ) as session:
            await session.send_realtime_input(audio=pcm)
            await session.send_realtime_input(audio=bytearray(pcm))
            await session.send_realtime_input(
                audio=Blob(mime_type="audio/pcm;rate=8000", data=pcm)
            )
            await session.send_realtime_input(video=jpeg)
            await session.send_realtime_input(video=Blob(mime_type="image/png", data=b"png"))
            await session.send_realtime_input(audio_stream_end=True)
            await session.send_realtime_input(text="typed")
            await until(session, ev.TurnComplete)
    sent = [m["realtimeInput"] for m in client_messages(emu)]
    b64 = base64.b64encode(pcm).decode()
    assert sent[0] == {"audio": {"mimeType": "audio/pcm;rate=24000", "data": b64}}
    assert sent[1] == sent[0]
    assert sent[2] == {"audio": {"mimeType": "audio/pcm;rate=8000", "data": b64}}
    assert sent[3] == {
        "video": {"mimeType": "image/jpeg", "data": base64.b64encode(jpeg).decode()}
    }
    assert sent[4]["video"]["mimeType"] == "image/png"
    assert sent[5] == {"audioStreamEnd": True}
    assert sent[6] == {"text": "typed"}


async def test_manual_activity_signals(emu: LiveEmulator) -> None:
    config = LiveConfig(
        response_modalities=["TEXT"],
        realtime_input_config={"automatic_activity_detection": {"disabled": True}},
    )
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery, live(nursery, emu, config=config) as session:
            await session.send_realtime_input(activity_start=True)
            await session.send_realtime_input(audio=speech_like_pcm(0.3))
            await session.send_realtime_input(activity_end=True)
            events = await until(session, ev.TurnComplete)
    assert "[audio 0.3s]" in text_of(events)
    kinds = [next(iter(m["realtimeInput"])) for m in client_messages(emu)]
    assert kinds == ["activityStart", "audio", "activityEnd"]
    assert emu.connections[0].setup is not None
    assert emu.connections[0].setup["realtimeInputConfig"] == {
        "automaticActivityDetection": {"disabled": True}
    }


async def test_manual_tool_response_through_events(emu: LiveEmulator) -> None:
    config = LiveConfig(response_modalities=["TEXT"], tools=[WEATHER])
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery, live(nursery, emu, config=config) as session:
            await session.send_client_content("What is get_weather in Paris?")
            call_event = (await until(session, ev.ToolCall))[-1]
            assert isinstance(call_event, ev.ToolCall)
            (call,) = call_event.calls
            assert call.name == "get_weather"
            assert session.active_tool_calls == {call.id: call}
            await session.send_tool_response(
                [{"id": call.id, "name": call.name, "response": {"output": "sunny"}}]
            )
            events = await until(session, ev.TurnComplete)
            assert session.active_tool_calls == {}
    assert 'The result of get_weather is {"output": "sunny"}.' in text_of(events)
    assert client_messages(emu)[-1] == {
        "toolResponse": {
            "functionResponses": [
                {"id": call.id, "name": "get_weather", "response": {"output": "sunny"}}
            ]
        }
    }


async def test_tool_response_accepts_a_struct(emu: LiveEmulator) -> None:
    config = LiveConfig(response_modalities=["TEXT"], tools=[WEATHER])
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery, live(nursery, emu, config=config) as session:
            await session.send_client_content("get_weather please")
            call = (await until(session, ev.ToolCall))[-1]
            assert isinstance(call, ev.ToolCall)
            fc = call.calls[0]
            await session.send_tool_response(
                FunctionResponse(id=fc.id, name=fc.name, response={"output": 21})
            )
            events = await until(session, ev.TurnComplete)
    assert '{"output": 21}' in text_of(events)


async def test_session_handle_and_wait_status(emu: LiveEmulator) -> None:
    config = LiveConfig(response_modalities=["TEXT"], session_resumption={})
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery, live(nursery, emu, config=config) as session:
            await session.wait_status(Status.READY)  # already there: returns
            first = await until(session, ev.SessionResumptionUpdate)
            update = first[-1]
            assert isinstance(update, ev.SessionResumptionUpdate)
            assert update.resumable and update.handle is not None
            assert session.session_handle == update.handle

            async def closer() -> None:
                await trio.testing.wait_all_tasks_blocked()
                await session.aclose()

            nursery.start_soon(closer)
            await session.wait_status(Status.CLOSED)
            assert session.status is Status.CLOSED
            with pytest.raises(LiveError):
                await session.wait_status(Status.READY)
            await session.aclose()  # idempotent
            await session.close()


async def test_send_after_close_raises_and_sends_nothing(emu: LiveEmulator) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery, live(nursery, emu) as session:
            await session.aclose()
            with pytest.raises(LiveError, match="closed"):
                await session.send_client_content("late")
            with pytest.raises(LiveError):
                await session.send_realtime_input(text="late")
            with pytest.raises(LiveError):
                await session.send_realtime_input(audio=b"\0\0")
            with pytest.raises(LiveError):
                await session.send_tool_response({"id": "a", "name": "b", "response": {}})
    assert client_messages(emu) == []


BAD_INPUT: list[tuple[str, dict[str, Any], type[Exception], str]] = [
    ("realtime", {"audio": b"\0\0", "text": "x"}, TypeError, "exactly one"),
    ("realtime", {}, TypeError, "exactly one"),
    ("realtime", {"audio": b"\0\0\0"}, ValueError, "even number"),
    ("realtime", {"audio": "pcm as text"}, TypeError, "not str"),
    ("realtime", {"video": "jpeg as text"}, TypeError, "not str"),
    ("realtime", {"audio": 42}, TypeError, "Blob"),
    ("realtime", {"audio": Blob(mime_type="audio/wav", data=b"\0\0")}, ValueError, "MIME"),
    ("realtime", {"audio": Blob(mime_type="audio/pcm;rate=x", data=b"\0\0")}, ValueError, "rate"),
    ("realtime", {"video": Blob(mime_type="audio/pcm", data=b"\0\0")}, ValueError, "image/"),
    ("realtime", {"text": b"bytes"}, TypeError, "str"),
    ("realtime", {"activity_start": "yes"}, TypeError, "activity_start"),
    ("content", {"content": 42}, TypeError, "content"),
    ("content", {"content": {"role": "user", "bogus": 1}}, TypeError, "unknown field"),
    (
        "content",
        {"content": {"role": "user", "parts": [{"function_call": {"name": "f"}}]}},
        ValueError,
        "send_tool_response",
    ),
    ("content", {"content": "x", "turn_complete": "yes"}, TypeError, "bool"),
    ("tool", {"responses": {"name": "f", "response": {}}}, ValueError, "no id"),
    ("tool", {"responses": {"id": "1", "response": {}}}, ValueError, "no name"),
    ("tool", {"responses": []}, ValueError, "at least one"),
    ("tool", {"responses": "nope"}, TypeError, "list"),
    ("tool", {"responses": {"id": "1", "name": "f", "response": "str"}}, ValueError, "response"),
]


@pytest.mark.parametrize(("method", "kwargs", "error", "match"), BAD_INPUT)
async def test_bad_input_raises_before_anything_is_sent(
    emu: LiveEmulator, method: str, kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery, live(nursery, emu) as session:
            send: Any = {
                "realtime": session.send_realtime_input,
                "content": session.send_client_content,
                "tool": session.send_tool_response,
            }[method]
            with pytest.raises(error, match=match):
                await send(**kwargs)
            assert session.status is Status.READY  # the session is unharmed
            assert session.statistics().queued_outbound == 0
    assert client_messages(emu) == []


async def test_text_frames_from_the_server_are_accepted_too(emu: LiveEmulator) -> None:
    text_frame = '{"serverContent": {"modelTurn": {"parts": [{"text": "as text"}]}}}'
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery, live(nursery, emu) as session:
            await emu.send_raw(text_frame)
            await emu.send_raw(b'{"serverContent": {"turnComplete": true}}')
            events = await until(session, ev.TurnComplete)
    assert text_of(events) == "as text"


async def test_statistics_snapshot(emu: LiveEmulator) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery, live(nursery, emu) as session:
            stats = session.statistics()
            assert stats.status is Status.READY
            assert stats.connections == 1
            assert stats.reconnects == 0
            assert "LiveSession" in repr(session) and "READY" in repr(session)


def test_repr_of_a_session_still_being_built() -> None:
    # The garbage collector's callbacks (and debuggers) can see an instance mid-__init__.
    from trio_gemini_live._session import LiveSession

    bare = LiveSession.__new__(LiveSession)
    assert repr(bare) == "<LiveSession model=None status=None session_id=None>"


# --- real sockets: the default transport --------------------------------------------------


async def test_tcp_endpoint_headers_and_large_messages(nursery: trio.Nursery) -> None:
    emu = LiveEmulator(api_key=API_KEY)
    await nursery.start(emu.serve)
    big = "x" * (3 * 1024 * 1024)  # > trio-websocket's 1 MiB default (PROTOCOL.md 2)
    with trio.fail_after(10):
        async with trio.open_nursery() as inner, open_live_session(
            inner, model=MODEL, auth=ApiKey(API_KEY), endpoint=emu.url, config=TEXT
        ) as session:
            frame = msgspec.json.encode(
                {"serverContent": {"modelTurn": {"parts": [{"text": big}]}}}
            )
            await emu.send_raw(frame)
            await emu.send_raw(b'{"serverContent": {"turnComplete": true}}')
            events = await until(session, ev.TurnComplete)
            assert len(text_of(events)) == len(big)
    record = emu.connections[0]
    assert record.headers["x-goog-api-key"] == API_KEY
    assert API_KEY not in record.path and "key" not in record.query
    assert record.headers["user-agent"].startswith("trio-gemini-live/")
    assert "trio-gemini-live/" in record.headers["x-goog-api-client"]
    assert record.api_version == "v1beta"


async def test_api_version_selects_the_path(emu: LiveEmulator) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery, live(nursery, emu, api_version="v1alpha"):
            pass
    assert emu.connections[0].api_version == "v1alpha"


@pytest.fixture
def tls() -> tuple[trustme.CA, Any]:
    ca = trustme.CA()
    return ca, ca.issue_cert("127.0.0.1")


async def _tls_emulator(nursery: trio.Nursery, tls: tuple[trustme.CA, Any]) -> LiveEmulator:
    import ssl

    _, cert = tls
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    emu = LiveEmulator(api_key=API_KEY, ssl_context=server_ctx)
    await nursery.start(emu.serve)
    assert emu.url.startswith("wss://")
    return emu


async def test_tls_is_verified_by_default(
    nursery: trio.Nursery, tls: tuple[trustme.CA, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    emu = await _tls_emulator(nursery, tls)
    with trio.fail_after(2):
        async with trio.open_nursery() as inner:
            # Reported at once and never retried: the session does the TLS handshake
            # itself (trio-websocket 0.12 would wait for its connect timeout instead).
            with pytest.raises(SessionClosedError, match="TLS certificate verification") as info:
                async with open_live_session(
                    inner, model=MODEL, auth=ApiKey(API_KEY), endpoint=emu.url, config=TEXT
                ):
                    raise AssertionError("an unknown CA was trusted")
    assert "CERTIFICATE_VERIFY_FAILED" in str(info.value)
    assert info.value.code == 1015 and not info.value.retryable
    assert API_KEY not in str(info.value)


async def test_tls_honours_ssl_cert_file(
    nursery: trio.Nursery,
    tls: tuple[trustme.CA, Any],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    ca, _ = tls
    pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    monkeypatch.setenv("SSL_CERT_FILE", str(pem))
    emu = await _tls_emulator(nursery, tls)
    with trio.fail_after(10):
        async with trio.open_nursery() as inner, open_live_session(
            inner, model=MODEL, auth=ApiKey(API_KEY), endpoint=emu.url, config=TEXT
        ) as session:
            await session.send_client_content("over TLS")
            events = await until(session, ev.TurnComplete)
    assert "over TLS" in text_of(events)


async def test_explicit_ssl_context(
    nursery: trio.Nursery, tls: tuple[trustme.CA, Any]
) -> None:
    import ssl

    ca, _ = tls
    emu = await _tls_emulator(nursery, tls)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    with trio.fail_after(10):
        async with trio.open_nursery() as inner, open_live_session(
            inner, model=MODEL, auth=ApiKey(API_KEY), endpoint=emu.url, config=TEXT,
            ssl_context=client_ctx,
        ) as session:
            assert session.status is Status.READY


# --- other auths ------------------------------------------------------------------------------


async def test_ephemeral_token_header_and_path(nursery: trio.Nursery) -> None:
    token = "auth_tokens/ephemeral-secret-123"
    emu = LiveEmulator(api_key=API_KEY, ephemeral_tokens=[token])
    await nursery.start(emu.serve_in_memory)
    with trio.fail_after(10):
        async with trio.open_nursery() as inner, live(
            inner, emu, auth=EphemeralToken(token)
        ) as session:
            assert session.status is Status.READY
    record = emu.connections[0]
    assert record.method == "BidiGenerateContentConstrained"
    assert record.api_version == "v1alpha"
    assert record.headers["authorization"] == f"Token {token}"
    assert "x-goog-api-key" not in record.headers
    assert token not in record.path and "access_token" not in record.query


class _Creds:
    """Credentials of google-auth's shape, with a fixed token (no I/O)."""

    def __init__(self) -> None:
        self.token: str | None = None
        self.quota_project_id = "billing-project"
        self.expired = False

    @property
    def valid(self) -> bool:
        return self.token is not None

    def refresh(self, request: object) -> None:
        self.token = "ya29.vertex-secret"


async def test_vertex_bearer_token_path_and_session_id(nursery: trio.Nursery) -> None:
    emu = LiveEmulator(api_key=API_KEY, vertex_tokens=["ya29.vertex-secret"])
    await nursery.start(emu.serve_in_memory)
    auth = VertexAI(project="my-project", location="us-central1", credentials=_Creds())
    with trio.fail_after(10):
        async with trio.open_nursery() as inner, live(
            inner, emu, auth=auth, api_version="v1beta", config=TEXT
        ) as session:
            assert session.session_id == "emu-session-0"
            await session.send_client_content("hi vertex")
            await until(session, ev.TurnComplete)
    record = emu.connections[0]
    assert record.backend == "vertex"
    assert record.headers["authorization"] == "Bearer ya29.vertex-secret"
    assert record.headers["x-goog-user-project"] == "billing-project"
    assert record.setup is not None
    assert record.setup["model"] == (
        f"projects/my-project/locations/us-central1/publishers/google/models/{MODEL}"
    )
