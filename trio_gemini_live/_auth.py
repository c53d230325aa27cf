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

``google.auth`` is imported lazily, only when Vertex AI credentials are actually needed, so that
``import trio_gemini_live`` stays cheap for API-key users.

HTTP transport for refreshing Vertex tokens: google-auth needs one, and does not depend on any
itself. We use ``google.auth.transport.requests`` when ``requests`` is installed (the transport
Google documents, and what the official SDK uses), else ``google.auth.transport.urllib3`` when
``urllib3`` is installed, else we raise :class:`AuthError` asking for ``google-auth[requests]``.
This keeps ``requests`` out of our hard dependencies: API-key users never need it, and on Vertex
it is nearly always present already.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import urllib.parse
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple, Protocol, runtime_checkable

import trio

from ._errors import AuthError
from ._version import __version__

if TYPE_CHECKING:
    from google.auth.transport import Request as _GoogleRequest

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

#: What this library calls itself in the ``user-agent`` and ``x-goog-api-client`` headers
#: (PROTOCOL.md 1: the official SDK identifies itself in both).
USER_AGENT = f"trio-gemini-live/{__version__}"

_NO_PROJECT = (
    "could not determine the Google Cloud project: pass VertexAI(project=...) or set "
    "GOOGLE_CLOUD_PROJECT"
)
_GEMINI_HOST = "generativelanguage.googleapis.com"
_CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
_EPHEMERAL_PREFIX = "auth_tokens/"
# Ephemeral tokens exist only in v1alpha (PROTOCOL.md 1).
_EPHEMERAL_API_VERSION = "v1alpha"
# Vertex AI multi-region locations have their own host form (PROTOCOL.md 1).
_VERTEX_MULTI_REGIONS = frozenset({"us", "eu"})
# What the official SDK (google-genai 3.6.x, _api_client.py) uses when no location is given.
_VERTEX_DEFAULT_LOCATION = "global"

# Header names are lowercase: HTTP header names are case-insensitive and h11/wsproto send
# lowercase anyway, so one spelling keeps lookups (and redaction) simple.
_SECRET_HEADERS = frozenset({"x-goog-api-key", "authorization"})

# A Gemini API version as it appears in the URL path: v1, v1beta, v1alpha, v1beta2, ...
_GEMINI_API_VERSION = re.compile(r"v[0-9]+(?:(?:alpha|beta)[0-9]*)?")
# The session's api_version (named after the Gemini API) mapped to Vertex AI's path versions.
_VERTEX_API_VERSIONS = {"v1beta": "v1beta1", "v1beta1": "v1beta1", "v1": "v1"}
# Google Cloud location ids ("us-central1", "europe-west4", "global", "us", "eu") go into the
# host name, so only this alphabet is accepted.
_LOCATION = re.compile(r"[a-z][a-z0-9-]*[a-z0-9]|[a-z]")
# Google Cloud project ids (and the legacy "domain.com:project" form) go into setup.model.
_PROJECT = re.compile(r"[A-Za-z0-9][A-Za-z0-9.:_-]*")
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


def _vertex_model_path(model: str) -> str:
    """A Vertex model name as a full ``projects/...`` name or a ``publishers/...`` path.

    The ``publishers/...`` path goes below ``projects/{p}/locations/{l}/``, which only the
    caller knows (the project may come with the credentials).

    Raises:
        ValueError: a malformed name.
    """
    segments = model.split("/")
    if not all(_MODEL_SEGMENT.fullmatch(s) for s in segments):
        raise ValueError(f"invalid model name {model!r}")
    if model.startswith(("projects/", "publishers/")):
        return model
    if model.startswith("models/"):
        # Gemini-API style names are a common slip when switching backends; Vertex's
        # publisher models live under publishers/google.
        return "publishers/google/" + model
    if len(segments) == 2:
        # "publisher/model", as the official SDK's t_model accepts.
        return f"publishers/{segments[0]}/models/{segments[1]}"
    if len(segments) == 1:
        return f"publishers/google/models/{model}"
    raise ValueError(
        f"invalid Vertex AI model name {model!r}; expected e.g. 'gemini-x', "
        "'publishers/google/models/gemini-x' or 'projects/.../models/gemini-x'"
    )


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
        """When the token stops working (``None``: unknown)."""
        return self._expire_time

    @property
    def new_session_expire_time(self) -> datetime | None:
        """When the token stops starting new sessions (``None``: unknown)."""
        return self._new_session_expire_time

    @property
    def uses(self) -> int | None:
        """How many new sessions the token may start, 0 meaning unlimited (``None``: unknown)."""
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


class _Credentials(Protocol):
    """The part of ``google.auth.credentials.Credentials`` that we use."""

    @property
    def valid(self) -> bool: ...

    @property
    def token(self) -> str | None: ...

    def refresh(self, request: _GoogleRequest) -> None: ...


class VertexAI:
    """Authenticate to Vertex AI with Google credentials (PROTOCOL.md 1).

    Without ``credentials``, application-default credentials are loaded on the first
    connection (``google.auth.default`` with the ``cloud-platform`` scope, in a worker thread
    since it may do blocking I/O). Before every connection the access token is refreshed, in a
    worker thread, when it is missing or expired. The token travels as
    ``Authorization: Bearer ...``, plus ``x-goog-user-project`` when the credentials carry a
    quota project.

    Args:
        project: the Google Cloud project; default ``GOOGLE_CLOUD_PROJECT``, then the project
            of the application-default credentials.
        location: ``"us-central1"``-style region, ``"global"``, or the multi-regions ``"us"`` /
            ``"eu"``; default ``GOOGLE_CLOUD_LOCATION``, then ``"global"`` (the official SDK's
            default).
        credentials: a ``google.auth.credentials.Credentials`` to use instead of the
            application-default ones.
        environ: where to read the ``GOOGLE_CLOUD_*`` variables; defaults to ``os.environ``.

    Raises:
        ValueError: ``project`` or ``location`` is malformed.
    """

    def __init__(
        self,
        project: str | None = None,
        location: str | None = None,
        credentials: _Credentials | None = None,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        project = project or env.get("GOOGLE_CLOUD_PROJECT") or None
        location = location or env.get("GOOGLE_CLOUD_LOCATION") or _VERTEX_DEFAULT_LOCATION
        if project is not None and not _PROJECT.fullmatch(project):
            raise ValueError(f"invalid Google Cloud project id {project!r}")
        if not _LOCATION.fullmatch(location):
            raise ValueError(
                f"invalid Vertex AI location {location!r}; expected e.g. 'us-central1', "
                "'global', 'us' or 'eu'"
            )
        self._project = project
        self._location = location
        self._credentials = credentials
        # Guards loading and refreshing the credentials. A threading lock (not a trio one)
        # because the work runs in worker threads that may outlive a cancelled caller: a
        # refresh abandoned by one target() call must finish before another one starts, since
        # google-auth credentials are not safe to refresh concurrently.
        self._lock = threading.Lock()
        self._request: _GoogleRequest | None = None

    @property
    def project(self) -> str | None:
        """The project, or ``None`` until it is read from the application-default credentials."""
        return self._project

    @property
    def location(self) -> str:
        """The location (region, ``"global"``, ``"us"`` or ``"eu"``)."""
        return self._location

    def host(self) -> str:
        """Google's WebSocket host for this location (PROTOCOL.md 1)."""
        if self._location == "global":
            return "aiplatform.googleapis.com"
        if self._location in _VERTEX_MULTI_REGIONS:
            return f"aiplatform.{self._location}.rep.googleapis.com"
        return f"{self._location}-aiplatform.googleapis.com"

    async def target(self, *, model: str, api_version: str, endpoint: str | None) -> ConnectTarget:
        """The Vertex AI URL, with a fresh ``Authorization: Bearer`` token.

        See :meth:`Auth.target`. ``api_version`` ``"v1beta"`` / ``"v1beta1"`` selects Vertex's
        ``v1beta1``, ``"v1"`` selects ``v1``.

        Cancellation: the caller returns at once; a credential load or refresh already running
        in its worker thread finishes in the background (google-auth bounds it with its own
        timeout) and its result is kept for the next call.

        Raises:
            ValueError: bad model, API version or endpoint.
            AuthError: credentials could not be loaded or refreshed, or the project is unknown.
        """
        # Validate everything that needs no credentials first, so mistakes fail fast and
        # without network I/O.
        version = _VERTEX_API_VERSIONS.get(api_version) if isinstance(api_version, str) else None
        if version is None:
            raise ValueError(
                f"api_version {api_version!r} is not available on Vertex AI; use 'v1beta' "
                "(Vertex v1beta1) or 'v1'"
            )
        _check_model(model)
        # The model's shape needs no project: check it before any token refresh.
        model_path = _vertex_model_path(model)
        base = _base_url(endpoint, self.host())
        if self._project is None and self._credentials is not None:
            # Only application-default credentials come with a project to fall back on.
            raise AuthError(_NO_PROJECT)

        token, quota_project = await self._fresh_token()
        project = self._project
        if project is None:
            raise AuthError(_NO_PROJECT)
        url = f"{base}/ws/google.cloud.aiplatform.{version}.LlmBidiService/BidiGenerateContent"
        headers = [("authorization", f"Bearer {token}"), *_common_headers()]
        if quota_project:
            headers.append(("x-goog-user-project", quota_project))
        # ``projects/{p}/locations/{l}/publishers/google/models/{name}`` (PROTOCOL.md 1).
        full_model = (
            model_path if model_path.startswith("projects/")
            else f"projects/{project}/locations/{self._location}/{model_path}"
        )
        return ConnectTarget(url=url, headers=headers, model=full_model, vertex=True)

    async def _fresh_token(self) -> tuple[str, str | None]:
        # Fast path: a valid token needs no thread. The lock is only tried, never waited for,
        # so the event loop never blocks; if a refresh holds it, take the slow path and wait
        # in a thread.
        if self._credentials is not None and self._lock.acquire(blocking=False):
            try:
                snapshot = _valid_snapshot(self._credentials)
            finally:
                self._lock.release()
            if snapshot is not None:
                await trio.lowlevel.checkpoint()
                return snapshot
        # google.auth.default() and refresh() do blocking network I/O (PROTOCOL.md 1).
        return await trio.to_thread.run_sync(
            self._load_and_refresh_blocking, abandon_on_cancel=True
        )

    def _load_and_refresh_blocking(self) -> tuple[str, str | None]:
        with self._lock:
            credentials = self._credentials
            if credentials is None:
                credentials = self._load_default_blocking()
            snapshot = _valid_snapshot(credentials)
            if snapshot is not None:
                return snapshot
            request = self._transport_blocking()
            try:
                credentials.refresh(request)
            except _auth_failures() as exc:
                # The original stays reachable as __cause__; its text is not copied because
                # google-auth errors can quote server responses.
                raise AuthError(
                    f"could not refresh the Google Cloud access token ({type(exc).__name__}); "
                    "check the credentials (e.g. `gcloud auth application-default login`)"
                ) from exc
            token = credentials.token
            if not token:
                raise AuthError("refreshing the Google Cloud credentials gave no access token")
            return token, _quota_project(credentials)

    def _load_default_blocking(self) -> _Credentials:
        import google.auth  # lazily: only Vertex users pay for importing google-auth

        try:
            credentials, adc_project = google.auth.default(scopes=[_CLOUD_PLATFORM_SCOPE])
        except _auth_failures() as exc:
            raise AuthError(
                "could not load Google application-default credentials "
                f"({type(exc).__name__}); run `gcloud auth application-default login` or set "
                "GOOGLE_APPLICATION_CREDENTIALS, or pass VertexAI(credentials=...)"
            ) from exc
        if self._project is None and adc_project:
            self._project = adc_project
        self._credentials = credentials
        return credentials

    def _transport_blocking(self) -> _GoogleRequest:
        if self._request is None:
            self._request = _make_transport()
        return self._request

    def __repr__(self) -> str:
        return f"VertexAI(project={self._project!r}, location={self._location!r})"

    __str__ = __repr__


def _valid_snapshot(credentials: _Credentials) -> tuple[str, str | None] | None:
    token = credentials.token
    if credentials.valid and token:
        return token, _quota_project(credentials)
    return None


def _quota_project(credentials: object) -> str | None:
    value = getattr(credentials, "quota_project_id", None)
    return value if isinstance(value, str) and value else None


def _auth_failures() -> tuple[type[BaseException], ...]:
    import google.auth.exceptions

    # GoogleAuthError covers DefaultCredentialsError, RefreshError and TransportError;
    # OSError covers a credentials file that cannot be read and raw network failures.
    return (google.auth.exceptions.GoogleAuthError, OSError)


def _make_transport() -> _GoogleRequest:
    """An HTTP transport for google-auth; see the module docstring for the choice."""
    try:
        import google.auth.transport.requests as requests_transport
    except ImportError:
        pass
    else:
        return requests_transport.Request()
    try:
        import google.auth.transport.urllib3 as urllib3_transport
        import urllib3
    except ImportError:
        pass
    else:
        return urllib3_transport.Request(urllib3.PoolManager())  # type: ignore[no-untyped-call]
    raise AuthError(
        "refreshing Vertex AI credentials needs an HTTP transport for google-auth: "
        "pip install 'google-auth[requests]'"
    )


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
