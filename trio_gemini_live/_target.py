"""Connection targets: the URL, the handshake headers and ``setup.model`` (PROTOCOL.md 1).

What every backend shares (:mod:`._auth` for API keys and ephemeral tokens,
:mod:`._vertex` for Vertex AI): the :class:`Auth` protocol the session calls before every
connection, the :class:`ConnectTarget` it returns (whose ``repr`` redacts secret headers),
the endpoint override and the model-name checks.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import NamedTuple, Protocol, runtime_checkable

from ._version import __version__

__all__ = ["USER_AGENT", "Auth", "ConnectTarget"]

#: What this library calls itself in the ``user-agent`` and ``x-goog-api-client`` headers
#: (PROTOCOL.md 1: the official SDK identifies itself in both).
USER_AGENT = f"trio-gemini-live/{__version__}"

_GEMINI_HOST = "generativelanguage.googleapis.com"
# Header names are lowercase: HTTP header names are case-insensitive and h11/wsproto send
# lowercase anyway, so one spelling keeps lookups (and redaction) simple.
_SECRET_HEADERS = frozenset({"x-goog-api-key", "authorization"})

# A model id segment: no path separators, no query characters, no whitespace.
_MODEL_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@:-]*")


class ConnectTarget(NamedTuple):
    """Everything the session needs to open one connection.

    Attributes:
        url: the full ``ws://`` or ``wss://`` URL. It never contains a secret.
        headers: extra handshake headers as ``(name, value)`` pairs with lowercase names
            (authentication, ``user-agent``, ``x-goog-api-client``, ...).
        model: the value for ``setup.model``.
        vertex: ``True`` on the Vertex AI backend (some setup fields differ, PROTOCOL.md 3.1).
    """

    url: str
    headers: list[tuple[str, str]]
    model: str
    vertex: bool

    def __repr__(self) -> str:
        """Show everything except secret header values."""
        shown = [(name, _redact_header(name, value)) for name, value in self.headers]
        return (
            f"ConnectTarget(url={self.url!r}, headers={shown!r}, model={self.model!r}, "
            f"vertex={self.vertex!r})"
        )

    # str() needs no override: tuple has no __str__, so object.__str__ calls our __repr__.


def _redact_header(name: str, value: str) -> str:
    if name.lower() not in _SECRET_HEADERS:
        return value
    # Keep the scheme word ("Bearer", "Token"): it tells which backend without revealing anything.
    scheme, sep, _ = value.partition(" ")
    if sep and name.lower() == "authorization":
        return f"{scheme} <redacted>"
    return "<redacted>"


@runtime_checkable
class Auth(Protocol):
    """Something that knows where and how to connect (an :class:`ApiKey`, a :class:`VertexAI`,
    an :class:`EphemeralToken`, or your own implementation).
    """

    async def target(self, *, model: str, api_version: str, endpoint: str | None) -> ConnectTarget:
        """The URL, headers and ``setup.model`` for the next connection.

        Called before every connection attempt, so implementations refresh expiring
        credentials here.

        Args:
            model: the model name as the user gave it (``"gemini-x"``, ``"models/gemini-x"``,
                or a Vertex resource name).
            api_version: the API version the user asked for (``"v1beta"``, ``"v1alpha"``, ...).
            endpoint: ``None`` for Google's host, or ``"ws(s)://host[:port]"`` (also
                ``http(s)://``) to connect elsewhere, e.g. a local emulator.

        Raises:
            ValueError: an argument is malformed.
            AuthError: credentials could not be obtained.
        """
        ...


def _common_headers() -> list[tuple[str, str]]:
    return [("user-agent", USER_AGENT), ("x-goog-api-client", USER_AGENT)]


def _base_url(endpoint: str | None, default_host: str) -> str:
    """``scheme://host[:port]`` for the connection: Google's host, or the endpoint override."""
    if endpoint is None:
        return f"wss://{default_host}"
    if not isinstance(endpoint, str) or not endpoint:
        raise ValueError("endpoint must be a non-empty string such as 'ws://127.0.0.1:8080'")
    try:
        parts = urllib.parse.urlsplit(endpoint)
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError:
        raise ValueError(
            "endpoint is not a valid URL; expected 'ws://host:port' or 'wss://host[:port]'"
        ) from None
    scheme = {"ws": "ws", "wss": "wss", "http": "ws", "https": "wss"}.get(parts.scheme.lower())
    if scheme is None:
        # Only the scheme is echoed: the rest could hold something the user did not mean to log.
        raise ValueError(
            f"endpoint scheme {parts.scheme!r} is not supported; use ws://, wss://, http:// "
            "or https://"
        )
    # The path is always ours to build (PROTOCOL.md 1), and credentials in a URL leak into logs.
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ValueError("endpoint must not contain credentials (user:password@)")
    if parts.path not in ("", "/"):
        # The path itself is not echoed either: it could hold a key pasted by mistake.
        raise ValueError(
            "endpoint must not contain a path; the path is built from the backend and API "
            "version"
        )
    if "?" in endpoint or "#" in endpoint:
        raise ValueError("endpoint must not contain a query string or fragment")
    if not parts.hostname:
        raise ValueError("endpoint has no host; expected 'ws://host:port'")
    return f"{scheme}://{parts.netloc}"


def _check_model(model: str) -> str:
    if not isinstance(model, str):
        raise TypeError(f"model must be a string, not {type(model).__name__}")
    if not model.strip():
        raise ValueError("model must not be empty (e.g. 'gemini-live-2.5-flash-preview')")
    # The official SDK rejects these too (_transformers.t_model): they would escape the name.
    if ".." in model or "?" in model or "&" in model or "#" in model:
        raise ValueError(f"invalid model name {model!r}")
    if any(ch.isspace() for ch in model) or model.startswith("/") or model.endswith("/"):
        raise ValueError(f"invalid model name {model!r}")
    return model


def _gemini_model(model: str) -> str:
    """``models/{name}`` for the Gemini API (PROTOCOL.md 1), as the SDK's ``t_model`` does."""
    _check_model(model)
    if model.startswith(("models/", "tunedModels/")):
        name = model.split("/", 1)[1]
        if not _MODEL_SEGMENT.fullmatch(name):
            raise ValueError(f"invalid model name {model!r}")
        return model
    if not _MODEL_SEGMENT.fullmatch(model):
        raise ValueError(
            f"invalid model name {model!r}; expected e.g. 'gemini-x' or 'models/gemini-x'"
        )
    return f"models/{model}"


