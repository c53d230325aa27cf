"""What a connection must pass before the emulator serves it (PROTOCOL.md 1, 3.1 and 9).

In the order a connection meets them:

* :func:`route`: the request path names the Gemini API or Vertex AI, an API version and a
  method (a WebSocket upgrade to any other path gets a 404);
* :func:`check_auth`: the credentials (an API key, an ephemeral token, a bearer token), else
  Google's close code and reason, sent after the client's first message;
* :func:`admit_token`: the limits and the locked setup of a token minted on the emulator's
  own ``POST /v1alpha/auth_tokens`` (``_rest.TokenStore``);
* :func:`check_setup`: the setup's semantic checks: the other backend's fields, a model the
  emulator serves, and what that model refuses (its profile, the data the session reads).

Then ``_sessions.SessionStore.open`` resolves the resumption handle against the sessions
the emulator keeps. The functions read the emulator's settings (``api_key``, ``tokens``,
``models``, ``rules_for``...) and change nothing. Split out of ``_emulator.py`` (issue 11:
modules of at most about 700 lines).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final, Literal

import msgspec

from .. import _wire as w
from .._config import backend_only_fields
from ._link import ConnectionRecord
from ._strict import (
    BAD_KEY,
    INVALID_ARGUMENT,
    NO_CREDENTIALS,
    ClientFrameError,
    parse_client_frame,
)

if TYPE_CHECKING:
    from ._emulator import LiveEmulator

__all__ = ["admit_token", "check_auth", "check_setup", "ephemeral_token", "route"]

_GEMINI_PATH: Final = re.compile(
    r"^/ws/google\.ai\.generativelanguage\.(v1beta|v1alpha|v1)\.GenerativeService\."
    r"(BidiGenerateContent|BidiGenerateContentConstrained)$"
)
_VERTEX_PATH: Final = re.compile(
    r"^/ws/google\.cloud\.aiplatform\.(v1beta1|v1)\.LlmBidiService/BidiGenerateContent$"
)
_VERTEX_MODEL: Final = re.compile(
    r"^projects/[^/]+/locations/[^/]+/publishers/google/models/([^/]+)$"
)
# Google's own reason text (PROTOCOL.md 7; more in ``_strict``).
_UNAUTHENTICATED: Final = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, "
    "login cookie or other valid authentication credential."
)


def route(path: str) -> tuple[Literal["gemini", "vertex"], str, str] | None:
    """``(backend, API version, method)`` of a request path; ``None``: not a Live API path
    (PROTOCOL.md 1)."""
    match = _GEMINI_PATH.match(path)
    if match:
        return "gemini", match.group(1), match.group(2)
    match = _VERTEX_PATH.match(path)
    if match:
        return "vertex", match.group(1), "BidiGenerateContent"
    return None


def ephemeral_token(record: ConnectionRecord, query: dict[str, str]) -> str:
    """The ephemeral token of a connection: ``Authorization: Token ...``, else the
    ``access_token`` query parameter (browsers cannot set headers, PROTOCOL.md 1); or ``""``.
    """
    scheme, _, token = record.headers.get("authorization", "").partition(" ")
    return token if scheme.lower() == "token" else query.get("access_token", "")


def check_auth(emulator: LiveEmulator, record: ConnectionRecord,
               query: dict[str, str]) -> tuple[int, str] | None:
    """``(code, reason)`` if Google would refuse these credentials (PROTOCOL.md 1)."""
    if emulator.api_key is None:
        return None
    authorization = record.headers.get("authorization", "")
    if record.backend == "vertex":
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return 1008, _UNAUTHENTICATED
        if emulator.vertex_tokens and token not in emulator.vertex_tokens:
            return 1008, _UNAUTHENTICATED
        return None
    key = record.headers.get("x-goog-api-key") or query.get("key")
    token = ephemeral_token(record, query)
    if record.method == "BidiGenerateContentConstrained" and token:
        if token in emulator.tokens.tokens:
            return emulator.tokens.check_connection(token)
        ok = (token in emulator.ephemeral_tokens if emulator.ephemeral_tokens
              else token.startswith("auth_tokens/"))
        return None if ok else (1008, _UNAUTHENTICATED)
    if not key:
        return 1008, NO_CREDENTIALS
    if key != emulator.api_key:
        return 1007, BAD_KEY
    return None


def admit_token(emulator: LiveEmulator, record: ConnectionRecord, query: dict[str, str],
                setup: w.Setup, raw: dict[str, Any],
                ) -> tuple[w.Setup, dict[str, Any], str | None]:
    """The setup to run with under a minted token's limits and locks (PROTOCOL.md 1).

    The third item is the minted token to charge a use to once the session is accepted
    (``None`` for a resumption, or without a minted token).

    Raises:
        ClientFrameError: the token refuses this session (see ``_rest.TokenStore.admit``).
    """
    token = ephemeral_token(record, query)
    if (emulator.api_key is None or record.method != "BidiGenerateContentConstrained"
            or token not in emulator.tokens.tokens):
        return setup, raw, None
    # A resumption does not count as a use (PROTOCOL.md 1).
    resuming = bool(setup.session_resumption and setup.session_resumption.handle)
    merged = emulator.tokens.admit(token, raw, resuming=resuming)
    _, message = parse_client_frame(msgspec.json.encode({"setup": merged}),
                                    accept=emulator.accept_fields)
    assert message.setup is not None
    return message.setup, merged, (None if resuming else token)


def check_setup(emulator: LiveEmulator, record: ConnectionRecord, setup: w.Setup,
                raw: dict[str, Any]) -> None:
    """Google's semantic checks of ``setup`` (PROTOCOL.md 3.1 and 9), all but those of its
    resumption handle, which need the sessions the emulator keeps (``SessionStore.open``).

    Raises:
        ClientFrameError: what Google closes the connection with.
    """
    # The fields of the other backend do not exist in this one's proto (PROTOCOL.md 3.1;
    # the table is shared with LiveConfig.to_setup).
    wrong = backend_only_fields(raw, vertex=record.backend == "vertex")
    if wrong:
        field, _, parent = wrong[0]
        raise ClientFrameError(
            f'Invalid JSON payload received. Unknown name "{field}" at '
            f"'{parent}': Cannot find field.")
    if record.backend == "gemini":
        name = setup.model.removeprefix("models/")
        if not setup.model.startswith("models/") or name not in emulator.models:
            raise ClientFrameError(
                f"models/{name} is not found for API version {record.api_version}, "
                "or is not supported for bidiGenerateContent", code=1008)
    else:
        match = _VERTEX_MODEL.match(setup.model)
        if match is None or match.group(1) not in emulator.models:
            raise ClientFrameError(
                f"Publisher Model `{setup.model}` not found.", code=1008)
    profile = emulator.rules_for(setup.model)
    resumption = raw.get("sessionResumption")
    if isinstance(resumption, dict) and "handle" in resumption and (
            resumption["handle"] is None) and not profile.null_resumption_handle:
        # PROTOCOL.md 3.1 and 9: ``"handle": null`` is refused by 3.x models.
        raise ClientFrameError(INVALID_ARGUMENT)
    # PROTOCOL.md 9: what the model refuses (the same data as ModelProfile.check_setup).
    violations = profile._violations(setup, api_version=record.api_version,
                                     vertex=record.backend == "vertex")
    if violations:
        unknown = violations[0].unknown_field
        if unknown is not None:
            # The API version lacks the field: Google's parser says so.
            raise ClientFrameError(
                f'Invalid JSON payload received. Unknown name "{unknown[0]}" at '
                f"'{unknown[1]}': Cannot find field.")
        raise ClientFrameError(INVALID_ARGUMENT)
