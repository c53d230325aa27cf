"""Secrets echoed by the server (issue 12, finding 5).

Debug endpoints and some proxies answer a refused upgrade with the request itself, headers
included; a close reason may quote a key too. Whatever the server sends, the secret the
session holds (API key, ephemeral token, Vertex bearer token) must not reach an exception,
a log record (DEBUG included), an event or the statistics.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
import trio

from trio_gemini_live import (
    ApiKey,
    AuthRejectedError,
    EphemeralToken,
    LiveConfig,
    LiveError,
    ReconnectPolicy,
    VertexAI,
)
from trio_gemini_live import events as ev

from ..conftest import ValidCredentials
from .conftest import API_KEY, Serve, open_session
from .server import Attack, Peer

TOKEN = "auth_tokens/hostile-ephemeral-secret-4242"
BEARER = "ya29.hostile-bearer-secret-4242"

AUTHS: dict[str, tuple[Any, str]] = {
    "api_key": (ApiKey(API_KEY), API_KEY),
    "ephemeral_token": (EphemeralToken(TOKEN), TOKEN),
    "vertex_bearer": (
        VertexAI(project="hostile", location="us-central1",
                 credentials=ValidCredentials(BEARER)),
        BEARER,
    ),
}


def echoing(secret: str) -> Attack:
    """Connection 1: ready, then closed with a reason quoting the secret (1011, retried).
    Connection 2: HTTP 503 whose body is the request (retried). Connection 3: HTTP 401
    whose body is the request (fatal)."""

    async def attack(peer: Peer) -> None:
        if peer.index == 0:
            await peer.setup()
            await peer.close(1011, b"Internal error for credential " + secret.encode())
            await peer.drain()
            return
        request = await peer.read_request()
        assert secret.encode() in request.raw  # the echo does carry it
        status = 503 if peer.index == 1 else 401
        await peer.refuse(status, b"You sent:\r\n" + request.raw, b"Echo")

    return attack


@pytest.mark.parametrize("kind", list(AUTHS))
async def test_echoed_secret_reaches_no_error_log_event_or_statistic(
    serve: Serve, nursery: trio.Nursery, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    """Finding 5: today the refusal body is copied unredacted into the error, the INFO
    reconnect log and ``Reconnecting.reason``."""
    auth, secret = AUTHS[kind]
    caplog.set_level(logging.DEBUG)
    server = await serve(echoing(secret))
    policy = ReconnectPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.05)
    config = LiveConfig(response_modalities=["TEXT"], session_resumption={})
    seen: list[ev.Event] = []
    texts: list[str] = []
    with trio.fail_after(10):
        with pytest.raises(LiveError) as raised:
            async with open_session(nursery, server, auth=auth, reconnect=policy,
                                    config=config) as session:
                async for event in session.events():
                    seen.append(event)
                    texts.append(repr(event))
        texts.append(repr(session.statistics()))
        texts.append(repr(session))
    error = raised.value
    assert type(error) is AuthRejectedError, repr(error)
    assert server.connections == 3
    texts += [str(error), repr(error), *map(str, error.args), getattr(error, "reason", "")]
    texts += [e.reason for e in seen if isinstance(e, ev.Reconnecting | ev.SessionClosed)]
    texts.append(caplog.text)
    for record in caplog.records:
        texts.append(record.getMessage())
        texts.append(repr(record.args))
    leaks = [text for text in texts if secret in text]
    assert not leaks, f"{len(leaks)} leaks, e.g. {leaks[0][:300]!r}"
    # Redacting must not blind the diagnosis: the status is still there.
    assert "401" in str(error)
    assert [e.attempt for e in seen if isinstance(e, ev.Reconnecting)] == [1, 2]


async def test_close_reason_quoting_the_key_is_redacted_in_the_fatal_error(
    serve: Serve, nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    """A fatal close (1008) whose reason quotes the key: error, event and log redacted."""

    async def attack(peer: Peer) -> None:
        await peer.setup()
        await peer.close(1008, b"API key not valid: " + API_KEY.encode())
        await peer.drain()

    caplog.set_level(logging.DEBUG)
    server = await serve(attack)
    seen: list[ev.Event] = []
    with trio.fail_after(10):
        with pytest.raises(AuthRejectedError) as raised:
            async with open_session(nursery, server) as session:
                async for event in session.events():
                    seen.append(event)
    texts = [str(raised.value), repr(raised.value), raised.value.reason, caplog.text]
    texts += [repr(e) for e in seen]
    leaks = [text for text in texts if API_KEY in text]
    assert not leaks, f"{len(leaks)} leaks, e.g. {leaks[0][:300]!r}"
    assert "API key not valid" in str(raised.value)
