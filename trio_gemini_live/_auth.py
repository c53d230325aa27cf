"""Authentication and connection targets: which URL to open, with which headers (PROTOCOL.md 1).

An :class:`Auth` turns ``(model, api_version, endpoint)`` into a :class:`ConnectTarget`: the full
``ws(s)://`` URL, the extra handshake headers and the value for ``setup.model``. The session calls
:meth:`Auth.target` before every connection attempt (including reconnects), so credentials that
expire (Vertex AI access tokens) are refreshed there.

Three backends exist:

* :class:`ApiKey`: the Gemini API with a long-lived key, sent as the ``x-goog-api-key`` header.
* :class:`EphemeralToken`: the Gemini API with a short-lived ``auth_tokens/...`` token minted by
  a trusted server, sent as ``Authorization: Token ...`` to ``BidiGenerateContentConstrained``.
* :class:`VertexAI`: Vertex AI with Google application-default credentials, sent as
  ``Authorization: Bearer ...``.

Secrets never go into a URL (PROTOCOL.md 1: ``?key=`` ends up in proxy and server logs), a log
line, a ``repr``/``str`` or an exception message.

The shared pieces (:class:`Auth`, :class:`ConnectTarget`, URL and model checks) are in
``_target``; :class:`VertexAI` and its google-auth handling in ``_vertex``. Every name stays
importable from here.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from datetime import datetime

import trio

from ._errors import AuthError
from ._target import _GEMINI_HOST, _base_url, _common_headers, _gemini_model
from ._target import USER_AGENT as USER_AGENT
from ._target import Auth as Auth
from ._target import ConnectTarget as ConnectTarget
from ._vertex import VertexAI as VertexAI

__all__ = [
    "USER_AGENT",
    "ApiKey",
    "Auth",
    "ConnectTarget",
    "EphemeralToken",
    "VertexAI",
    "auth_from_env",
]

logger = logging.getLogger("trio_gemini_live")

_EPHEMERAL_PREFIX = "auth_tokens/"
# Ephemeral tokens exist only in v1alpha (PROTOCOL.md 1).
_EPHEMERAL_API_VERSION = "v1alpha"

# A Gemini API version as it appears in the URL path: v1, v1beta, v1alpha, v1beta2, ...
_GEMINI_API_VERSION = re.compile(r"v[0-9]+(?:(?:alpha|beta)[0-9]*)?")


def _check_key(kind: str, value: object) -> str:
    # Messages here never include the value: it is the secret.
    if not isinstance(value, str):
        raise TypeError(f"{kind} must be a string, not {type(value).__name__}")
    if not value:
        raise ValueError(f"{kind} must not be empty")
    # A header value must be visible ASCII; a trailing newline from a .env file is the usual
    # culprit, and h11 would refuse it later with a less helpful message.
    if any(not ("\x21" <= ch <= "\x7e") for ch in value):
        raise ValueError(
            f"{kind} contains whitespace, control or non-ASCII characters "
            "(a stray newline or space?)"
        )
    return value


class ApiKey:
    """Authenticate to the Gemini API with an API key (PROTOCOL.md 1).

    The key travels in the ``x-goog-api-key`` handshake header, never in the URL.
    ``repr()`` and ``str()`` never show it.

    For compatibility with the official SDK, a "key" that starts with ``auth_tokens/`` is an
    ephemeral token and is used exactly as :class:`EphemeralToken` would use it.

    Args:
        key: the API key.

    Raises:
        ValueError: the key is empty or contains whitespace/control characters.
    """

    __slots__ = ("_key", "_warned")

    def __init__(self, key: str) -> None:
        self._key = _check_key("API key", key)
        self._warned = False  # see _ephemeral_target

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ApiKey:
        """The key from ``GOOGLE_API_KEY`` or ``GEMINI_API_KEY``.

        The precedence is the official SDK's (google-genai 3.6.x, ``get_env_api_key``):
        ``GOOGLE_API_KEY`` wins when both are set (a warning is logged); empty values count
        as unset.

        Args:
            environ: where to look; defaults to ``os.environ``.

        Raises:
            AuthError: neither variable is set.
            ValueError: the value is malformed (e.g. contains a newline).
        """
        key = _env_api_key(os.environ if environ is None else environ)
        if key is None:
            raise AuthError(
                "no API key found: set the GEMINI_API_KEY (or GOOGLE_API_KEY) environment "
                "variable, or pass auth=ApiKey('...')"
            )
        return cls(key)

    async def target(self, *, model: str, api_version: str, endpoint: str | None) -> ConnectTarget:
        """The Gemini API URL for ``api_version``, with the key as ``x-goog-api-key``.

        See :meth:`Auth.target`. Does no I/O.

        Raises:
            ValueError: bad model, API version or endpoint.
        """
        await trio.lowlevel.checkpoint()
        if self._key.startswith(_EPHEMERAL_PREFIX):
            return _ephemeral_target(
                self._key, self, model=model, api_version=api_version, endpoint=endpoint
            )
        if not isinstance(api_version, str) or not _GEMINI_API_VERSION.fullmatch(api_version):
            raise ValueError(
                f"invalid api_version {api_version!r}; expected e.g. 'v1beta', 'v1alpha' or 'v1'"
            )
        base = _base_url(endpoint, _GEMINI_HOST)
        url = (
            f"{base}/ws/google.ai.generativelanguage.{api_version}"
            ".GenerativeService.BidiGenerateContent"
        )
        headers = [("x-goog-api-key", self._key), *_common_headers()]
        return ConnectTarget(url=url, headers=headers, model=_gemini_model(model), vertex=False)

    def __repr__(self) -> str:
        return "ApiKey(<redacted>)"

    __str__ = __repr__


class EphemeralToken:
    """Authenticate to the Gemini API with an ephemeral token (PROTOCOL.md 1).

    Ephemeral tokens (``auth_tokens/...``) are minted by your server and handed to a less
    trusted client. They only work with the ``BidiGenerateContentConstrained`` method of API
    version ``v1alpha``, which is therefore always used: another ``api_version`` is replaced by
    ``v1alpha`` with a warning (logged once per token object). The token travels as
    ``Authorization: Token auth_tokens/...``. ``repr()`` and ``str()`` never show it.

    Args:
        token: the token's name, ``auth_tokens/...``.
        expire_time: when the token stops working, if known (informational; set by
            :func:`~trio_gemini_live.create_ephemeral_token`).
        new_session_expire_time: when the token stops starting new sessions, if known.
        uses: how many sessions the token may start (0: unlimited), if known.

    Raises:
        ValueError: the token does not start with ``auth_tokens/`` or is malformed.
    """

    __slots__ = ("_expire_time", "_new_session_expire_time", "_token", "_uses", "_warned")

    def __init__(
        self,
        token: str,
        *,
        expire_time: datetime | None = None,
        new_session_expire_time: datetime | None = None,
        uses: int | None = None,
    ) -> None:
        _check_key("ephemeral token", token)
        if not token.startswith(_EPHEMERAL_PREFIX) or token == _EPHEMERAL_PREFIX:
            raise ValueError(
                "an ephemeral token must start with 'auth_tokens/' (the 'name' field of the "
                "token created by POST /v1alpha/auth_tokens); for an API key use ApiKey(...)"
            )
        self._token = token
        self._warned = False
        self._expire_time = expire_time
        self._new_session_expire_time = new_session_expire_time
        self._uses = uses

    @property
    def expire_time(self) -> datetime | None:
        """When the token stops working, or ``None`` if unknown."""
        return self._expire_time

    @property
    def new_session_expire_time(self) -> datetime | None:
        """When the token stops starting new sessions, or ``None`` if unknown."""
        return self._new_session_expire_time

    @property
    def uses(self) -> int | None:
        """How many new sessions the token may start (0: unlimited), or ``None`` if unknown."""
        return self._uses

    async def target(self, *, model: str, api_version: str, endpoint: str | None) -> ConnectTarget:
        """The ``v1alpha`` constrained URL, with ``Authorization: Token ...``.

        See :meth:`Auth.target`. Does no I/O.

        Raises:
            ValueError: bad model or endpoint.
        """
        await trio.lowlevel.checkpoint()
        return _ephemeral_target(
            self._token, self, model=model, api_version=api_version, endpoint=endpoint
        )

    def __repr__(self) -> str:
        return "EphemeralToken(<redacted>)"

    __str__ = __repr__


def _ephemeral_target(
    token: str,
    owner: ApiKey | EphemeralToken,
    *,
    model: str,
    api_version: str,
    endpoint: str | None,
) -> ConnectTarget:
    # Warn once per auth object: the session calls target() before every reconnect.
    if api_version != _EPHEMERAL_API_VERSION and not owner._warned:
        owner._warned = True
        logger.warning(
            "ephemeral tokens only work with API version v1alpha; using v1alpha instead of %r",
            api_version,
        )
    base = _base_url(endpoint, _GEMINI_HOST)
    url = (
        f"{base}/ws/google.ai.generativelanguage.{_EPHEMERAL_API_VERSION}"
        ".GenerativeService.BidiGenerateContentConstrained"
    )
    headers = [("authorization", f"Token {token}"), *_common_headers()]
    return ConnectTarget(url=url, headers=headers, model=_gemini_model(model), vertex=False)


def _truthy(value: str | None) -> bool | None:
    if value is None:
        return None
    return value.lower() in ("true", "1")


def _env_api_key(environ: Mapping[str, str]) -> str | None:
    google_key = environ.get("GOOGLE_API_KEY") or None
    gemini_key = environ.get("GEMINI_API_KEY") or None
    if google_key and gemini_key:
        # The official SDK logs the same warning (google-genai 3.6.x, get_env_api_key).
        logger.warning("Both GOOGLE_API_KEY and GEMINI_API_KEY are set. Using GOOGLE_API_KEY.")
    return google_key or gemini_key


def auth_from_env(environ: Mapping[str, str] | None = None) -> Auth:
    """The credentials ``auth=None`` means, read from the environment like the official SDK.

    * ``GOOGLE_GENAI_USE_VERTEXAI`` truthy (``"true"`` or ``"1"``, any case): a
      :class:`VertexAI` from ``GOOGLE_CLOUD_PROJECT`` / ``GOOGLE_CLOUD_LOCATION`` and
      application-default credentials. As in the SDK, ``GOOGLE_GENAI_USE_ENTERPRISE``, when
      set, takes precedence over ``GOOGLE_GENAI_USE_VERTEXAI``.
    * Otherwise an API key from ``GOOGLE_API_KEY`` or ``GEMINI_API_KEY`` (``GOOGLE_API_KEY``
      wins when both are set, as in the SDK); a value starting with ``auth_tokens/`` gives an
      :class:`EphemeralToken`.

    Vertex AI "express mode" (Vertex with an API key) is not supported.

    Args:
        environ: where to look; defaults to ``os.environ``.

    Raises:
        AuthError: no credentials are configured.
        ValueError: a variable holds a malformed value.
    """
    env = os.environ if environ is None else environ
    use_enterprise = _truthy(env.get("GOOGLE_GENAI_USE_ENTERPRISE"))
    use_vertex = (
        use_enterprise
        if use_enterprise is not None
        else _truthy(env.get("GOOGLE_GENAI_USE_VERTEXAI"))
    )
    if use_vertex:
        return VertexAI(environ=env)
    key = _env_api_key(env)
    if key is None:
        raise AuthError(
            "no credentials found: set GEMINI_API_KEY (or GOOGLE_API_KEY) to an API key, or "
            "set GOOGLE_GENAI_USE_VERTEXAI=true with GOOGLE_CLOUD_PROJECT and "
            "GOOGLE_CLOUD_LOCATION for Vertex AI, or pass auth=..."
        )
    if key.startswith(_EPHEMERAL_PREFIX):
        return EphemeralToken(key)
    return ApiKey(key)
