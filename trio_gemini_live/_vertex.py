"""Vertex AI authentication: Google credentials, refreshed in a worker thread (PROTOCOL.md 1).

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

import os
import re
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

import trio

from ._errors import AuthError
from ._target import _MODEL_SEGMENT, ConnectTarget, _base_url, _check_model, _common_headers

if TYPE_CHECKING:
    from google.auth.transport import Request as _GoogleRequest

__all__ = ["VertexAI"]

_NO_PROJECT = (
    "could not determine the Google Cloud project: pass VertexAI(project=...) or set "
    "GOOGLE_CLOUD_PROJECT"
)
_CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
# Vertex AI multi-region locations have their own host form (PROTOCOL.md 1).
_VERTEX_MULTI_REGIONS = frozenset({"us", "eu"})
# What the official SDK (google-genai 3.6.x, _api_client.py) uses when no location is given.
_VERTEX_DEFAULT_LOCATION = "global"
# The session's api_version (named after the Gemini API) mapped to Vertex AI's path versions.
_VERTEX_API_VERSIONS = {"v1beta": "v1beta1", "v1beta1": "v1beta1", "v1": "v1"}
# Google Cloud location ids ("us-central1", "europe-west4", "global", "us", "eu") go into the
# host name, so only this alphabet is accepted.
_LOCATION = re.compile(r"[a-z][a-z0-9-]*[a-z0-9]|[a-z]")
# Google Cloud project ids (and the legacy "domain.com:project" form) go into setup.model.
_PROJECT = re.compile(r"[A-Za-z0-9][A-Za-z0-9.:_-]*")


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


