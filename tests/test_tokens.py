"""Ephemeral tokens end to end: minting (PROTOCOL.md 1) against the emulator, sessions opened
with the token, and the emulator's refusals (expired, used up, too late for a new session, a
locked setup field changed).

Times are the emulator's wall clock, moved with ``emulator.tokens.advance``: deterministic,
and no Trio mock clock while the minting request runs in a worker thread.
"""

from __future__ import annotations

import functools
import http.client
import ssl
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
import trio
import trio_websocket

from trio_gemini_live import (
    ApiKey,
    AuthError,
    AuthRejectedError,
    EphemeralToken,
    InvalidArgumentError,
    LiveConfig,
    LiveError,
    LiveSession,
    NotFoundError,
    VertexAI,
    _tokens,
    create_ephemeral_token,
    open_live_session,
)
from trio_gemini_live import events as ev
from trio_gemini_live._tokens import (
    TokenAuthError,
    TokenRequestError,
    _error_message,
    build_request_body,
)
from trio_gemini_live.testing import DEFAULT_MODEL, ClientFrameError, LiveEmulator

from .conftest import opening_error, tls_contexts

KEY = "test-api-key"
TEXT = LiveConfig(response_modalities=["TEXT"])


@pytest.fixture
async def emulator(nursery: trio.Nursery) -> AsyncIterator[LiveEmulator]:
    emu = LiveEmulator(api_key=KEY)
    await nursery.start(emu.serve)
    yield emu


def session(emu: LiveEmulator, nursery: trio.Nursery, token: EphemeralToken,
            **kwargs: Any) -> AbstractAsyncContextManager[LiveSession]:
    kwargs.setdefault("config", TEXT)
    return open_live_session(nursery, model=DEFAULT_MODEL, auth=token, api_version="v1alpha",
                             endpoint=emu.url, reconnect=False, **kwargs)


async def turn_text(live: LiveSession, prompt: str) -> str:
    await live.send_client_content(prompt)
    out = []
    async for event in live.events():
        if isinstance(event, ev.TextChunk):
            out.append(event.text)
        if isinstance(event, ev.TurnComplete):
            return "".join(out)
    raise AssertionError("the session ended before the turn did")  # pragma: no cover


async def handle_after_turn(live: LiveSession) -> str:
    """Hold a turn, then wait for the resumption handle the emulator issues."""
    await turn_text(live, "hi")
    # The handle issued after the turn (PROTOCOL.md 4) resumes with the turn in the history.
    async for event in live.events():
        if isinstance(event, ev.SessionResumptionUpdate) and event.resumable and event.handle:
            return event.handle
    raise AssertionError("no handle after the turn")  # pragma: no cover


async def mint(emu: LiveEmulator, **kwargs: Any) -> EphemeralToken:
    return await create_ephemeral_token(auth=ApiKey(KEY), endpoint=emu.url, **kwargs)


# -- minting --------------------------------------------------------------------------------


async def test_mint_sends_the_sdk_body_and_the_token_opens_a_session(
        emulator: LiveEmulator, nursery: trio.Nursery) -> None:
    expire = datetime(2100, 1, 2, 3, 4, 5, tzinfo=UTC)
    with trio.fail_after(10):
        token = await mint(
            emulator, uses=2, expire_time=expire, new_session_expire_time=timedelta(minutes=5),
            model=DEFAULT_MODEL, config=LiveConfig(response_modalities=["TEXT"],
                                                   temperature=0.25),
            lock_fields=["temperature", "system_instruction"])
    (request,) = emulator.tokens.requests
    assert (request.method, request.path, request.query, request.status) == (
        "POST", "/v1alpha/auth_tokens", {}, 200)
    # The key goes in the header (PROTOCOL.md 1), never in the URL.
    assert request.headers["x-goog-api-key"] == KEY
    assert request.headers["user-agent"].startswith("trio-gemini-live/")
    body = request.body
    assert body["uses"] == 2
    assert body["expireTime"] == "2100-01-02T03:04:05Z"
    assert body["newSessionExpireTime"].endswith("Z")
    assert body["bidiGenerateContentSetup"] == {
        "model": f"models/{DEFAULT_MODEL}",
        "generationConfig": {"temperature": 0.25, "responseModalities": ["TEXT"]},
    }
    # The SDK's mask: the setup's own fields, then the extras (generation settings prefixed).
    assert body["fieldMask"] == (
        "model,generationConfig.temperature,generationConfig.responseModalities,"
        "systemInstruction")
    minted = emulator.tokens.tokens[token._token]
    assert (minted.uses, minted.used, minted.expire_time) == (2, 0, expire)
    assert (token.uses, token.expire_time) == (2, expire)
    assert token.new_session_expire_time == minted.new_session_expire_time
    assert token._token not in repr(token) and token._token not in str(token)

    with trio.fail_after(10):
        async with session(emulator, nursery, token) as live:
            assert "turn 1 of" in await turn_text(live, "Hello")
    record = emulator.connections[0]
    assert record.method == "BidiGenerateContentConstrained"
    assert record.api_version == "v1alpha"
    assert record.headers["authorization"] == f"Token {token._token}"
    assert minted.used == 1


async def test_defaults_are_the_servers(emulator: LiveEmulator) -> None:
    with trio.fail_after(10):
        token = await mint(emulator)
    assert emulator.tokens.requests[0].body == {"uses": 1}
    minted = emulator.tokens.tokens[token._token]
    now = emulator.tokens.now()
    # PROTOCOL.md 1: 30 minutes to expire, 60 seconds to start a session, one use.
    assert timedelta(minutes=29) < minted.expire_time - now <= timedelta(minutes=30)
    assert timedelta(seconds=50) < minted.new_session_expire_time - now <= timedelta(
        seconds=60)
    assert (minted.uses, minted.setup, minted.field_mask) == (1, None, None)


async def test_locked_setup_fills_in_what_the_client_leaves_out(
        emulator: LiveEmulator, nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        token = await mint(emulator, model=DEFAULT_MODEL, config=TEXT)
        assert "fieldMask" not in emulator.tokens.requests[0].body
        # The client sends no generationConfig: the token's TEXT modality applies.
        async with session(emulator, nursery, token, config=None) as live:
            assert "turn 1 of" in await turn_text(live, "Hello")
    assert "generationConfig" not in (emulator.connections[0].setup or {})


def test_token_defaults_outside_the_mask_merge_at_any_depth() -> None:
    from trio_gemini_live.testing._rest import TokenStore

    store = TokenStore()
    token = store.mint({
        "bidiGenerateContentSetup": {"model": f"models/{DEFAULT_MODEL}", "generationConfig": {
            "temperature": 0.2, "responseModalities": ["TEXT"]}},
        "fieldMask": "model,generationConfig.temperature",
    })
    model = f"models/{DEFAULT_MODEL}"
    # The client sets another generation setting: the token's unlocked ones stay defaults.
    merged = store.admit(token.name, {"model": model, "generationConfig": {
        "maxOutputTokens": 5}}, resuming=False)
    assert merged["generationConfig"] == {
        "maxOutputTokens": 5, "temperature": 0.2, "responseModalities": ["TEXT"]}
    # ... which the client may override (a list is replaced, not merged).
    merged = store.admit(token.name, {"model": model, "generationConfig": {
        "responseModalities": ["AUDIO"]}}, resuming=False)
    assert merged["generationConfig"] == {"responseModalities": ["AUDIO"], "temperature": 0.2}
    # The locked one may not change.
    with pytest.raises(ClientFrameError, match=r"generationConfig\.temperature"):
        store.admit(token.name, {"model": model, "generationConfig": {"temperature": 1.0}},
                    resuming=False)


def test_repeated_lock_fields_are_sent_once() -> None:
    body = build_request_body(model=DEFAULT_MODEL, config=LiveConfig(temperature=0.5),
                              lock_fields=["temperature", "top_k", "topK", "top_k"])
    assert body["fieldMask"].split(",") == [
        "model", "generationConfig.temperature", "generationConfig.topK"]


async def test_a_changed_locked_field_is_invalid_argument(
        emulator: LiveEmulator, nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        token = await mint(emulator, uses=0, model=DEFAULT_MODEL,
                           config=LiveConfig(response_modalities=["TEXT"], temperature=0.5),
                           lock_fields=["top_k"])
        error = await opening_error(session(emulator, nursery, token, config=LiveConfig(
            response_modalities=["TEXT"], temperature=0.9)))
        assert isinstance(error, InvalidArgumentError)
        assert not isinstance(error, AuthRejectedError)
        assert error.code == 1007 and "generationConfig.temperature" in error.reason
        # A locked field the token leaves unset must stay unset.
        error = await opening_error(session(emulator, nursery, token, config=LiveConfig(
            response_modalities=["TEXT"], temperature=0.5, top_k=3)))
        assert isinstance(error, InvalidArgumentError) and "generationConfig.topK" in str(error)
        # Repeating the locked values is fine, and an unlocked field may be set.
        async with session(emulator, nursery, token, config=LiveConfig(
                response_modalities=["TEXT"], temperature=0.5, top_p=0.9)) as live:
            assert "turn 1 of" in await turn_text(live, "Hello")


# -- refusals -------------------------------------------------------------------------------


async def test_an_expired_token_is_refused(emulator: LiveEmulator,
                                           nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        token = await mint(emulator, uses=0, expire_time=timedelta(minutes=5),
                           new_session_expire_time=timedelta(minutes=5))
        emulator.tokens.advance(timedelta(minutes=5, seconds=1))
        error = await opening_error(session(emulator, nursery, token))
    assert isinstance(error, AuthRejectedError)
    assert (error.code, error.reason) == (1008, "The auth token has expired.")


async def test_a_used_up_token_refuses_new_sessions_but_resumes(
        emulator: LiveEmulator, nursery: trio.Nursery) -> None:
    resumable = LiveConfig(response_modalities=["TEXT"], session_resumption={})
    with trio.fail_after(10):
        token = await mint(emulator, uses=1, new_session_expire_time=timedelta(minutes=5))
        async with session(emulator, nursery, token, config=resumable) as live:
            handle = await handle_after_turn(live)
        error = await opening_error(session(emulator, nursery, token, config=resumable))
        assert isinstance(error, AuthRejectedError)
        assert error.reason == "The auth token has no uses left for new sessions."
        # PROTOCOL.md 1: resuming does not count as a use.
        async with session(emulator, nursery, token, config=resumable,
                           resume_handle=handle) as live:
            assert "turn 2 of" in await turn_text(live, "again")
    assert emulator.tokens.tokens[token._token].used == 1


async def test_a_refused_session_does_not_use_up_the_token(
        emulator: LiveEmulator, nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        token = await mint(emulator, uses=1, new_session_expire_time=timedelta(minutes=5))
        error = await opening_error(open_live_session(
            nursery, model="gemini-no-such-model", auth=token, api_version="v1alpha",
            endpoint=emulator.url, reconnect=False, config=TEXT))
        assert isinstance(error, NotFoundError)
        assert emulator.tokens.tokens[token._token].used == 0
        async with session(emulator, nursery, token) as live:
            assert "turn 1 of" in await turn_text(live, "hello")
    assert emulator.tokens.tokens[token._token].used == 1


async def test_new_sessions_stop_at_new_session_expire_time(
        emulator: LiveEmulator, nursery: trio.Nursery) -> None:
    resumable = LiveConfig(response_modalities=["TEXT"], session_resumption={})
    with trio.fail_after(10):
        token = await mint(emulator, uses=0, expire_time=timedelta(minutes=30),
                           new_session_expire_time=timedelta(minutes=1))
        async with session(emulator, nursery, token, config=resumable) as live:
            handle = await handle_after_turn(live)
        emulator.tokens.advance(timedelta(minutes=2))
        error = await opening_error(session(emulator, nursery, token, config=resumable))
        assert isinstance(error, AuthRejectedError) and "newSessionExpireTime" in error.reason
        async with session(emulator, nursery, token, config=resumable,
                           resume_handle=handle) as live:
            assert "turn 2 of" in await turn_text(live, "still here")


async def test_static_tokens_still_work(nursery: trio.Nursery) -> None:
    emu = LiveEmulator(api_key=KEY, ephemeral_tokens=["auth_tokens/static"])
    await nursery.start(emu.serve)
    with trio.fail_after(10):
        async with session(emu, nursery, EphemeralToken("auth_tokens/static")) as live:
            assert "turn 1 of" in await turn_text(live, "Hello")
        error = await opening_error(session(emu, nursery, EphemeralToken("auth_tokens/other")))
    assert isinstance(error, AuthRejectedError) and error.code == 1008


async def test_a_bad_key_at_minting_is_an_auth_error_with_status(
        emulator: LiveEmulator) -> None:
    secret = "AIza-wrong-secret-key"
    with trio.fail_after(10), pytest.raises(TokenAuthError) as info:
        await create_ephemeral_token(auth=ApiKey(secret), endpoint=emulator.url)
    error = info.value
    assert isinstance(error, AuthError) and error.status == 400
    assert "API key not valid" in str(error) and "HTTP 400" in str(error)
    assert secret not in str(error) and secret not in repr(error)
    assert emulator.tokens.requests[0].status == 400 and not emulator.tokens.tokens


async def test_a_refused_body_is_a_request_error_with_status(emulator: LiveEmulator) -> None:
    # The emulator's clock runs ahead of ours: the requested time is already past there.
    emulator.tokens.advance(timedelta(hours=2))
    with trio.fail_after(10), pytest.raises(TokenRequestError) as info:
        await mint(emulator, expire_time=timedelta(hours=1))
    assert not isinstance(info.value, AuthError)
    assert info.value.status == 400 and "expire_time must be in the future" in str(info.value)


async def test_an_unreachable_server_is_a_live_error(emulator: LiveEmulator) -> None:
    with trio.socket.socket() as sock:
        await sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: the connection is refused
        with trio.fail_after(10), pytest.raises(TokenRequestError) as info:
            await create_ephemeral_token(auth=ApiKey(KEY), endpoint=f"http://127.0.0.1:{port}")
    assert isinstance(info.value, LiveError) and info.value.status is None


@pytest.mark.parametrize("answer", [
    # The head never ends.
    b"HTTP/1.1 200 OK\r\nx-drip: " + b"a" * 10_000,
    # The head is whole; the body comes byte by byte.
    b"HTTP/1.1 200 OK\r\ncontent-length: 10000\r\n\r\n" + b" " * 10_000,
], ids=["head", "body"])
async def test_a_dripping_server_is_cut_off_at_the_overall_deadline(
        answer: bytes, nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch) -> None:
    # Each byte arrives well within the (shortened) timeout: only a deadline for the whole
    # request ends it, not a timeout per socket operation.
    monkeypatch.setattr(_tokens, "_TIMEOUT", 0.2)

    async def drip(stream: trio.SocketStream) -> None:
        await stream.receive_some(65536)
        for byte in answer:
            await stream.send_all(bytes([byte]))
            await trio.sleep(0.01)  # the server's behaviour under test, not synchronisation

    listeners = await nursery.start(functools.partial(trio.serve_tcp, drip, 0,
                                                      host="127.0.0.1"))
    port = listeners[0].socket.getsockname()[1]
    with trio.fail_after(10), pytest.raises(TokenRequestError) as info:
        await create_ephemeral_token(auth=ApiKey(KEY), endpoint=f"http://127.0.0.1:{port}")
    assert info.value.status is None and "TimeoutError" in str(info.value)


def _raw_request(port: int, method: str, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, headers={"x-goog-api-key": KEY})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


async def test_other_http_requests_are_refused(emulator: LiveEmulator) -> None:
    with trio.fail_after(10):
        status, body = await trio.to_thread.run_sync(
            _raw_request, emulator.port, "GET", "/v1beta/models")
        assert status == 404 and b"NOT_FOUND" in body
        status, _ = await trio.to_thread.run_sync(
            _raw_request, emulator.port, "GET", "/v1alpha/auth_tokens")
        assert status == 405
    assert not emulator.tokens.tokens


async def test_minting_over_verified_tls(nursery: trio.Nursery) -> None:
    server, client = tls_contexts()
    emu = LiveEmulator(api_key=KEY, ssl_context=server)
    await nursery.start(emu.serve)
    assert emu.url.startswith("wss://")
    with trio.fail_after(10):
        token = await create_ephemeral_token(auth=ApiKey(KEY), endpoint=emu.url,
                                             ssl_context=client)
        assert token._token in emu.tokens.tokens
        # Without the test CA the certificate is not trusted: verification is on.
        with pytest.raises(TokenRequestError) as info:
            await create_ephemeral_token(auth=ApiKey(KEY), endpoint=emu.url)
    assert info.value.status is None and "SSL" in str(info.value)


# -- arguments ------------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "error", "text"), [
    ({"uses": -1}, ValueError, "uses must be >= 0"),
    ({"uses": True}, TypeError, "uses must be an int"),
    ({"uses": 1.5}, TypeError, "uses must be an int"),
    ({"expire_time": datetime(2000, 1, 1, tzinfo=UTC)}, ValueError, "in the future"),
    ({"expire_time": datetime(2100, 1, 1)}, ValueError, "timezone-aware"),
    ({"expire_time": timedelta(0)}, ValueError, "positive timedelta"),
    ({"new_session_expire_time": 60}, TypeError, "datetime, a timedelta or None"),
    ({"expire_time": timedelta(minutes=1), "new_session_expire_time": timedelta(minutes=2)},
     ValueError, "must not be after expire_time"),
    ({"lock_fields": "temperature"}, TypeError, "sequence of field names"),
    ({"lock_fields": ["warp_speed"]}, ValueError, "unknown field 'warp_speed'"),
    ({"lock_fields": [3]}, TypeError, "must be strings"),
    ({"model": "bad model"}, ValueError, "invalid model name"),
    ({"config": {"temperature": 1}}, TypeError, "config must be a LiveConfig"),
])
def test_bad_arguments_are_refused_before_sending(kwargs: dict[str, Any],
                                                  error: type[Exception], text: str) -> None:
    with pytest.raises(error, match=text):
        build_request_body(**kwargs)


async def test_bad_auth_and_endpoint_are_refused_before_sending(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(TypeError, match="auth must be an ApiKey"):
        await create_ephemeral_token(
            auth=VertexAI(project="p", location="us-central1"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cannot mint"):
        await create_ephemeral_token(auth=ApiKey("auth_tokens/abc"), endpoint="http://x:1")
    with pytest.raises(ValueError, match="ssl_context"):
        await create_ephemeral_token(auth=ApiKey(KEY), endpoint="http://127.0.0.1:1",
                                     ssl_context=ssl.create_default_context())
    with pytest.raises(ValueError, match="path"):
        await create_ephemeral_token(auth=ApiKey(KEY), endpoint="http://127.0.0.1:1/v1alpha")
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    with pytest.raises(AuthError, match="no API key"):
        await create_ephemeral_token(endpoint="http://127.0.0.1:1")


def test_body_matches_the_sdks() -> None:
    """Our body equals what google-genai 3.6.x builds for the same token (its whole pipeline:
    ``_CreateAuthTokenParameters_to_mldev`` then ``_convert_bidi_setup_to_token_setup``).

    Field masks are compared as sets of paths: order does not matter in a FieldMask, and the
    SDK repeats a path that is both in the setup and in ``lock_additional_fields`` (we send it
    once) and keeps extra names as given (``top_k``; we send the wire name ``topK``).
    """
    genai = pytest.importorskip("google.genai")
    from google.genai import _common, _tokens_converters, tokens, types

    client = genai.Client(api_key="unused", http_options={"api_version": "v1alpha"})
    for lock in (None, [], ["temperature", "top_k"]):
        ours = build_request_body(uses=3, model=DEFAULT_MODEL, config=LiveConfig(
            response_modalities=["TEXT"], temperature=0.25), lock_fields=lock)
        config = types.CreateAuthTokenConfig(
            uses=3, lock_additional_fields=lock,
            live_connect_constraints=types.LiveConnectConstraints(
                model=DEFAULT_MODEL, config=types.LiveConnectConfig(
                    response_modalities=[types.Modality.TEXT], temperature=0.25)))
        request = _tokens_converters._CreateAuthTokenParameters_to_mldev(
            client._api_client, types.CreateAuthTokenParameters(config=config))
        request.pop("config", None)
        request = tokens._convert_bidi_setup_to_token_setup(request, config)
        sdk = msgspec.json.decode(msgspec.json.encode(_common.convert_to_dict(request)))
        sdk_mask = sdk.pop("fieldMask", None)
        ours_mask = ours.pop("fieldMask", None)
        assert ours == sdk
        if lock is None:
            assert ours_mask is None and sdk_mask is None
        else:
            assert set(ours_mask.split(",")) == set(sdk_mask.replace("top_k", "topK").split(","))


def _post(port: int, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("POST", "/v1alpha/auth_tokens", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, msgspec.json.decode(response.read())
    finally:
        connection.close()


@pytest.mark.parametrize(("body", "headers", "status", "text"), [
    (b'{"uses": 1}', {}, 403, "unregistered callers"),
    (b"{not json", {"x-goog-api-key": KEY}, 400, "Invalid JSON payload"),
    (b'{"usez": 1}', {"x-goog-api-key": KEY}, 400, 'Unknown name "usez"'),
    (b'{"uses": -2}', {"x-goog-api-key": KEY}, 400, "non-negative"),
    (b'{"expireTime": "tomorrow"}', {"x-goog-api-key": KEY}, 400, "Invalid time format"),
    # Well-formed but impossible: Google's 400 too, not a crash of the emulator.
    (b'{"expireTime": "2999-13-01T00:00:00Z"}', {"x-goog-api-key": KEY}, 400,
     "Invalid time format"),
    (b'{"bidiGenerateContentSetup": {"warp": 1}}', {"x-goog-api-key": KEY}, 400,
     'Unknown name "warp"'),
    # Deeply nested JSON: msgspec's decoder, then the setup walk, hit RecursionError. Deeper
    # than the C recursion limit of every supported Python (msgspec gives up at about 1,000
    # levels on 3.11 and 3.12, 10,000 on 3.13; 3,000 decoded on 3.13: issue 16).
    (b'{"a": ' * 20000 + b"1" + b"}" * 20000, {"x-goog-api-key": KEY}, 400,
     "nested too deeply"),
    (b'{"bidiGenerateContentSetup": {"tools": [{"functionDeclarations": [{"name": "f", '
     b'"parameters": ' + b'{"properties": {"a": ' * 400 + b"{}" + b"}}" * 400 + b"}]}]}}",
     {"x-goog-api-key": KEY}, 400, "nested too deeply"),
])
async def test_the_emulator_refuses_bad_mint_requests_like_google(
        emulator: LiveEmulator, body: bytes, headers: dict[str, str], status: int,
        text: str) -> None:
    with trio.fail_after(10):
        got, answer = await trio.to_thread.run_sync(_post, emulator.port, body, headers)
    assert got == status and text in answer["error"]["message"]
    assert answer["error"]["code"] == status
    assert not emulator.tokens.tokens


async def test_a_browser_token_in_the_query_is_honoured(emulator: LiveEmulator) -> None:
    """Browsers cannot set headers: ``?access_token=`` (PROTOCOL.md 1) counts uses too."""
    setup = msgspec.json.encode({"setup": {"model": f"models/{DEFAULT_MODEL}"}}).decode()
    with trio.fail_after(10):
        token = await mint(emulator, uses=1)
        url = (f"{emulator.url}/ws/google.ai.generativelanguage.v1alpha.GenerativeService."
               f"BidiGenerateContentConstrained?access_token={token._token}")
        async with trio_websocket.open_websocket_url(url) as ws:
            await ws.send_message(setup)
            assert b"setupComplete" in await ws.get_message()
        async with trio_websocket.open_websocket_url(url) as ws:
            await ws.send_message(setup)
            with pytest.raises(trio_websocket.ConnectionClosed) as info:
                await ws.get_message()
    reason = info.value.reason
    assert reason is not None and reason.code == 1008 and reason.reason == (
        "The auth token has no uses left for new sessions.")
    assert emulator.connections[1].query["access_token"] == "<redacted>"


# -- error answers --------------------------------------------------------------------------


SECRET = "AIzaSECRET-0123456789abcdefghij"


@pytest.mark.parametrize("details", [5, "API_KEY_INVALID", {"reason": "x"}, None, [5, "x"]])
def test_malformed_error_details_are_ignored(details: Any) -> None:
    answer = msgspec.json.encode({"error": {"message": "Bad things.", "details": details}})
    message, about_key = _error_message(answer, SECRET)
    assert message == "Bad things." and about_key is False


@pytest.mark.parametrize("status", [None, "INVALID_ARGUMENT"])
@pytest.mark.parametrize("json_answer", [True, False])
def test_a_key_straddling_the_cut_is_redacted_whole(status: str | None,
                                                      json_answer: bool) -> None:
    prefix = len(f"{status}: ") if status else 0
    text = "x" * (495 - prefix) + SECRET + " and more"  # the cut (500) falls in the key
    error: dict[str, Any] = {"message": text}
    if status:
        error["status"] = status
    answer = msgspec.json.encode({"error": error}) if json_answer else text.encode()
    message, _ = _error_message(answer, SECRET)
    assert SECRET[:5] not in message and len(message) <= 500
