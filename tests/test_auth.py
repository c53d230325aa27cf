"""Authentication and URL building (PROTOCOL.md 1): ApiKey, EphemeralToken, VertexAI, env lookup.

No test touches the network: Vertex credentials are fakes injected with ``credentials=`` or
through a monkeypatched ``google.auth.default``.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import google.auth
import google.auth.exceptions
import pytest
import trio

from trio_gemini_live import AuthError
from trio_gemini_live._auth import (
    USER_AGENT,
    ApiKey,
    Auth,
    ConnectTarget,
    EphemeralToken,
    VertexAI,
    auth_from_env,
)
from trio_gemini_live._version import __version__

KEY = "AIzaSyFAKE-secret-KEY-0123456789"
TOKEN = "auth_tokens/FAKE-secret-TOKEN-abcdef"
GEMINI_WS = "wss://generativelanguage.googleapis.com/ws/google.ai.generativelanguage"
VERTEX_PATH = "/ws/google.cloud.aiplatform.{v}.LlmBidiService/BidiGenerateContent"
ENV_NAMES = (
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GOOGLE_GENAI_USE_VERTEXAI",
    "GOOGLE_GENAI_USE_ENTERPRISE",
    "GOOGLE_CLOUD_PROJECT",
    "GOOGLE_CLOUD_LOCATION",
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # The developer's own credentials must not leak into (or change) any test.
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


class FakeCredentials:
    """Looks like google.auth.credentials.Credentials; counts refreshes and records threads."""

    def __init__(
        self,
        *,
        token: str | None = None,
        quota_project_id: str | None = None,
        fail: Exception | None = None,
    ) -> None:
        self.token = token
        self.expired = False
        self.quota_project_id = quota_project_id
        self.fail = fail
        self.refresh_calls = 0
        self.refresh_threads: list[int] = []
        self.requests: list[object] = []
        self.gate: threading.Event | None = None  # when set, refresh() waits for it
        self.entered: trio.Event | None = None  # set (from the worker thread) on entry

    @property
    def valid(self) -> bool:
        return self.token is not None and not self.expired

    def refresh(self, request: object) -> None:
        self.refresh_threads.append(threading.get_ident())
        self.requests.append(request)
        if self.entered is not None:
            trio.from_thread.run_sync(self.entered.set)
        if self.gate is not None:
            assert self.gate.wait(5)
        if self.fail is not None:
            raise self.fail
        self.refresh_calls += 1
        self.token = f"ya29.FAKE-secret-access-{self.refresh_calls}"
        self.expired = False


async def _target(
    auth: Auth, model: str = "gemini-x", api_version: str = "v1beta", endpoint: str | None = None
) -> ConnectTarget:
    with trio.fail_after(5):
        return await auth.target(model=model, api_version=api_version, endpoint=endpoint)


def _header(target: ConnectTarget, name: str) -> str | None:
    values = [v for n, v in target.headers if n == name]
    assert len(values) <= 1, f"{name} sent twice"
    return values[0] if values else None


# --- ConnectTarget and the common headers ---------------------------------------------------


def test_user_agent_names_the_library_and_version() -> None:
    assert USER_AGENT.split("/") == ["trio-gemini-live", __version__]


@pytest.mark.parametrize(
    "auth",
    [ApiKey(KEY), EphemeralToken(TOKEN), VertexAI(project="p", credentials=FakeCredentials())],
    ids=["api-key", "ephemeral", "vertex"],
)
async def test_every_target_identifies_the_library(auth: Auth) -> None:
    target = await _target(auth)
    assert _header(target, "user-agent") == USER_AGENT
    assert _header(target, "x-goog-api-client") == USER_AGENT
    # Lowercase names throughout (the session passes them through unchanged).
    assert all(name == name.lower() for name, _ in target.headers)


def test_builtin_auths_satisfy_the_protocol() -> None:
    for auth in (ApiKey(KEY), EphemeralToken(TOKEN), VertexAI(project="p")):
        assert isinstance(auth, Auth)


def test_connect_target_repr_redacts_secret_headers() -> None:
    target = ConnectTarget(
        url="wss://h/ws",
        headers=[
            ("x-goog-api-key", KEY),
            ("authorization", "Bearer ya29.FAKE-secret"),
            ("user-agent", USER_AGENT),
        ],
        model="models/m",
        vertex=False,
    )
    for text in (repr(target), str(target), f"{target}"):
        assert KEY not in text
        assert "ya29" not in text
        assert "Bearer <redacted>" in text
        assert USER_AGENT in text  # non-secret headers stay visible for debugging
        assert "wss://h/ws" in text


# --- ApiKey ------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v1beta", "v1alpha", "v1"])
async def test_api_key_url_per_version(version: str) -> None:
    target = await _target(ApiKey(KEY), api_version=version)
    assert target.url == f"{GEMINI_WS}.{version}.GenerativeService.BidiGenerateContent"
    assert _header(target, "x-goog-api-key") == KEY
    assert _header(target, "authorization") is None
    assert target.vertex is False


@pytest.mark.parametrize("version", ["", "v1beta/../x", "beta", "V1", "v1beta?key=x", None])
async def test_api_key_rejects_bad_api_version(version: Any) -> None:
    with pytest.raises(ValueError, match="api_version"):
        await _target(ApiKey(KEY), api_version=version)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gemini-x", "models/gemini-x"),
        ("models/gemini-x", "models/gemini-x"),
        ("gemini-2.5-flash-native-audio-12-2025", "models/gemini-2.5-flash-native-audio-12-2025"),
        ("tunedModels/my-model", "tunedModels/my-model"),
    ],
)
async def test_api_key_model_normalisation(model: str, expected: str) -> None:
    assert (await _target(ApiKey(KEY), model=model)).model == expected


@pytest.mark.parametrize(
    "model", ["", "   ", "models/", "a/b", "models/a/b", "../x", "x?y", "x&y", "gemini x", "/x"]
)
async def test_api_key_rejects_bad_model(model: str) -> None:
    with pytest.raises(ValueError, match="model"):
        await _target(ApiKey(KEY), model=model)


@pytest.mark.parametrize("key", ["", f"{KEY}\n", f" {KEY}", "AIza\x00x", "AIzaé"])
def test_api_key_rejects_malformed_keys_without_echoing_them(key: str) -> None:
    with pytest.raises(ValueError, match="API key") as info:
        ApiKey(key)
    if key.strip():
        assert key.strip() not in str(info.value)


def test_api_key_rejects_non_string() -> None:
    with pytest.raises(TypeError, match="API key"):
        ApiKey(b"bytes-key")  # type: ignore[arg-type]


async def test_api_key_holding_an_ephemeral_token_acts_like_one() -> None:
    # The official SDK treats an api_key starting with auth_tokens/ as an ephemeral token.
    target = await _target(ApiKey(TOKEN), api_version="v1alpha")
    assert target.url.endswith(".v1alpha.GenerativeService.BidiGenerateContentConstrained")
    assert _header(target, "authorization") == f"Token {TOKEN}"
    assert _header(target, "x-goog-api-key") is None


# --- EphemeralToken ----------------------------------------------------------------------------


async def test_ephemeral_token_url_and_header(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="trio_gemini_live"):
        target = await _target(EphemeralToken(TOKEN), api_version="v1alpha")
    assert target.url == f"{GEMINI_WS}.v1alpha.GenerativeService.BidiGenerateContentConstrained"
    assert _header(target, "authorization") == f"Token {TOKEN}"
    assert _header(target, "x-goog-api-key") is None
    assert target.model == "models/gemini-x"
    assert not caplog.records


async def test_ephemeral_token_forces_v1alpha_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    auth = EphemeralToken(TOKEN)
    with caplog.at_level(logging.WARNING, logger="trio_gemini_live"):
        first = await _target(auth, api_version="v1beta")
        second = await _target(auth, api_version="v1")
    assert ".v1alpha." in first.url
    assert ".v1alpha." in second.url
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].name == "trio_gemini_live"
    assert "v1alpha" in warnings[0].getMessage()
    assert "FAKE-secret" not in caplog.text


@pytest.mark.parametrize("token", ["AIzaFAKE-secret", "auth_tokens/", "auth_tokens", "tokens/x"])
def test_ephemeral_token_must_start_with_auth_tokens(token: str) -> None:
    with pytest.raises(ValueError, match="auth_tokens/") as info:
        EphemeralToken(token)
    assert "FAKE-secret" not in str(info.value)


# --- endpoint overrides ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "base"),
    [
        ("ws://127.0.0.1:8080", "ws://127.0.0.1:8080"),
        ("ws://127.0.0.1:8080/", "ws://127.0.0.1:8080"),
        ("wss://example.test:8443", "wss://example.test:8443"),
        ("wss://example.test", "wss://example.test"),
        ("http://127.0.0.1:9000", "ws://127.0.0.1:9000"),
        ("https://example.test", "wss://example.test"),
        ("WS://localhost:1", "ws://localhost:1"),
        ("ws://[::1]:8080", "ws://[::1]:8080"),
    ],
)
async def test_endpoint_override(endpoint: str, base: str) -> None:
    api = await _target(ApiKey(KEY), endpoint=endpoint)
    assert api.url == (
        f"{base}/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
    )
    eph = await _target(EphemeralToken(TOKEN), api_version="v1alpha", endpoint=endpoint)
    assert eph.url == (
        f"{base}/ws/google.ai.generativelanguage.v1alpha"
        ".GenerativeService.BidiGenerateContentConstrained"
    )
    vertex = VertexAI(project="p", location="us-central1", credentials=FakeCredentials())
    vtarget = await _target(vertex, endpoint=endpoint)
    assert vtarget.url == base + VERTEX_PATH.format(v="v1beta1")
    # The model name still names the configured project and location.
    assert vtarget.model.startswith("projects/p/locations/us-central1/")


@pytest.mark.parametrize(
    ("endpoint", "match"),
    [
        ("ftp://127.0.0.1:21", "scheme"),
        ("127.0.0.1:8080", "scheme"),
        ("localhost:8080", "scheme"),
        ("ws://127.0.0.1:8080/ws/custom", "path"),
        ("wss://proxy.example/FAKE-secret-in-the-path", "path"),
        ("ws://127.0.0.1:8080?key=FAKE-secret", "query"),
        ("ws://127.0.0.1:8080/?key=FAKE-secret", "query"),
        ("ws://127.0.0.1:8080#frag", "query"),
        ("ws://user:FAKE-secret@127.0.0.1:8080", "credentials"),
        ("ws://FAKE-secret@127.0.0.1:8080", "credentials"),
        ("ws://", "host"),
        ("ws://:8080", "host"),
        ("ws://127.0.0.1:notaport", "valid URL"),
        ("ws://127.0.0.1:99999", "valid URL"),
        ("", "non-empty"),
    ],
)
async def test_bad_endpoints_are_rejected(endpoint: str, match: str) -> None:
    for auth in (ApiKey(KEY), EphemeralToken(TOKEN), VertexAI(project="p")):
        with pytest.raises(ValueError, match=match) as info:
            await _target(auth, endpoint=endpoint)
        assert "FAKE-secret" not in str(info.value)


# --- VertexAI ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("location", "host"),
    [
        ("us-central1", "us-central1-aiplatform.googleapis.com"),
        ("europe-west4", "europe-west4-aiplatform.googleapis.com"),
        ("global", "aiplatform.googleapis.com"),
        ("us", "aiplatform.us.rep.googleapis.com"),
        ("eu", "aiplatform.eu.rep.googleapis.com"),
    ],
)
async def test_vertex_url_per_location(location: str, host: str) -> None:
    creds = FakeCredentials(token="ya29.FAKE-valid")
    target = await _target(VertexAI(project="proj", location=location, credentials=creds))
    assert target.url == f"wss://{host}" + VERTEX_PATH.format(v="v1beta1")
    assert target.vertex is True
    assert target.model == f"projects/proj/locations/{location}/publishers/google/models/gemini-x"


@pytest.mark.parametrize("location", ["us-central1", "global", "us", "eu"])
def test_vertex_host_matches_the_official_sdk(location: str) -> None:
    from google.genai import _api_client

    sdk = _api_client.BaseApiClient(vertexai=True, project="proj", location=location)
    ours = VertexAI(project="proj", location=location).host()
    assert sdk._http_options.base_url == f"https://{ours}/"


@pytest.mark.parametrize(
    ("api_version", "path_version"), [("v1beta", "v1beta1"), ("v1beta1", "v1beta1"), ("v1", "v1")]
)
async def test_vertex_api_version_mapping(api_version: str, path_version: str) -> None:
    auth = VertexAI(project="p", location="us-central1", credentials=FakeCredentials())
    target = await _target(auth, api_version=api_version)
    assert target.url.endswith(VERTEX_PATH.format(v=path_version))


@pytest.mark.parametrize("api_version", ["v1alpha", "v2", "", "v1beta2"])
async def test_vertex_rejects_other_api_versions(api_version: str) -> None:
    creds = FakeCredentials()
    with pytest.raises(ValueError, match="api_version"):
        await _target(VertexAI(project="p", credentials=creds), api_version=api_version)
    assert creds.refresh_calls == 0  # validation happens before any credential work


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gemini-x", "projects/p/locations/l1/publishers/google/models/gemini-x"),
        (
            "publishers/google/models/gemini-x",
            "projects/p/locations/l1/publishers/google/models/gemini-x",
        ),
        (
            "projects/other/locations/us/publishers/google/models/gemini-x",
            "projects/other/locations/us/publishers/google/models/gemini-x",
        ),
        ("models/gemini-x", "projects/p/locations/l1/publishers/google/models/gemini-x"),
        ("google/gemini-x", "projects/p/locations/l1/publishers/google/models/gemini-x"),
    ],
)
async def test_vertex_model_normalisation(model: str, expected: str) -> None:
    auth = VertexAI(project="p", location="l1", credentials=FakeCredentials())
    assert (await _target(auth, model=model)).model == expected


@pytest.mark.parametrize("model", ["", "a/b/c", "gemini x", "../x", "x?y", "/x", "x/"])
async def test_vertex_rejects_bad_model(model: str) -> None:
    creds = FakeCredentials()
    auth = VertexAI(project="p", location="l1", credentials=creds)
    with pytest.raises(ValueError, match="model"):
        await _target(auth, model=model)
    assert creds.refresh_calls == 0  # refused before any token refresh (no network I/O)


@pytest.mark.parametrize("location", ["us central1", "evil.example/", "US-CENTRAL1", "-x", "a-"])
def test_vertex_rejects_bad_location(location: str) -> None:
    with pytest.raises(ValueError, match="location"):
        VertexAI(project="p", location=location)


@pytest.mark.parametrize("project", ["my proj", "p/q", "-p"])
def test_vertex_rejects_bad_project(project: str) -> None:
    with pytest.raises(ValueError, match="project"):
        VertexAI(project=project)


def test_vertex_reads_project_and_location_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "env-proj")
    monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", "europe-west4")
    auth = VertexAI()
    assert (auth.project, auth.location) == ("env-proj", "europe-west4")
    explicit = VertexAI(project="arg-proj", location="us")
    assert (explicit.project, explicit.location) == ("arg-proj", "us")
    mapped = VertexAI(environ={"GOOGLE_CLOUD_PROJECT": "m", "GOOGLE_CLOUD_LOCATION": "eu"})
    assert (mapped.project, mapped.location) == ("m", "eu")


def test_vertex_default_location_is_the_sdks() -> None:
    from google.genai import _api_client

    sdk = _api_client.BaseApiClient(vertexai=True, project="proj")
    assert VertexAI(project="proj").location == sdk.location == "global"


async def test_vertex_refreshes_in_a_worker_thread_and_reuses_a_valid_token() -> None:
    creds = FakeCredentials()  # no token yet: invalid
    auth = VertexAI(project="p", location="us-central1", credentials=creds)
    target = await _target(auth)
    assert creds.refresh_calls == 1
    assert creds.refresh_threads[0] != threading.get_ident()
    assert _header(target, "authorization") == "Bearer ya29.FAKE-secret-access-1"
    assert _header(target, "x-goog-user-project") is None
    # The transport handed to google-auth is a real one (requests is installed here).
    import google.auth.transport.requests

    assert isinstance(creds.requests[0], google.auth.transport.requests.Request)

    again = await _target(auth)
    assert creds.refresh_calls == 1  # still valid: no refresh
    assert _header(again, "authorization") == "Bearer ya29.FAKE-secret-access-1"


async def test_vertex_refreshes_again_when_expired() -> None:
    creds = FakeCredentials(token="ya29.FAKE-old")
    auth = VertexAI(project="p", credentials=creds)
    assert _header(await _target(auth), "authorization") == "Bearer ya29.FAKE-old"
    assert creds.refresh_calls == 0
    creds.expired = True
    target = await _target(auth)
    assert creds.refresh_calls == 1
    assert _header(target, "authorization") == "Bearer ya29.FAKE-secret-access-1"


async def test_vertex_quota_project_header() -> None:
    creds = FakeCredentials(token="ya29.FAKE", quota_project_id="billing-proj")
    target = await _target(VertexAI(project="p", credentials=creds))
    assert _header(target, "x-goog-user-project") == "billing-proj"


async def test_vertex_failed_refresh_raises_auth_error_with_cause() -> None:
    original = google.auth.exceptions.RefreshError(  # type: ignore[no-untyped-call]
        "invalid_grant FAKE-secret-refresh-token"
    )
    creds = FakeCredentials(fail=original)
    with pytest.raises(AuthError) as info:
        await _target(VertexAI(project="p", credentials=creds))
    assert info.value.__cause__ is original
    assert "RefreshError" in str(info.value)
    assert "FAKE-secret" not in str(info.value)


async def test_vertex_refresh_without_token_raises_auth_error() -> None:
    class NoToken(FakeCredentials):
        def refresh(self, request: object) -> None:
            self.refresh_calls += 1

    with pytest.raises(AuthError, match="no access token"):
        await _target(VertexAI(project="p", credentials=NoToken()))


async def test_vertex_injected_credentials_need_a_project() -> None:
    creds = FakeCredentials()
    with pytest.raises(AuthError, match="GOOGLE_CLOUD_PROJECT"):
        await _target(VertexAI(credentials=creds))
    assert creds.refresh_calls == 0


class FakeADC:
    """Stands in for ``google.auth.default``: records its calls, returns or raises ``result``."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.result: tuple[FakeCredentials, str | None] | Exception = (
            FakeCredentials(),
            "adc-proj",
        )

    def __call__(self, **kwargs: Any) -> tuple[FakeCredentials, str | None]:
        self.calls.append(kwargs)
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


@pytest.fixture
def adc(monkeypatch: pytest.MonkeyPatch) -> FakeADC:
    fake = FakeADC()
    monkeypatch.setattr(google.auth, "default", fake)
    return fake


async def test_vertex_loads_application_default_credentials_lazily(adc: FakeADC) -> None:
    auth = VertexAI(location="us-central1")
    assert adc.calls == []  # nothing loaded at construction
    target = await _target(auth)
    assert adc.calls == [{"scopes": ["https://www.googleapis.com/auth/cloud-platform"]}]
    assert auth.project == "adc-proj"
    assert target.model == (
        "projects/adc-proj/locations/us-central1/publishers/google/models/gemini-x"
    )
    assert _header(target, "authorization") == "Bearer ya29.FAKE-secret-access-1"
    await _target(auth)
    assert len(adc.calls) == 1  # loaded once, then reused


async def test_vertex_explicit_project_beats_the_adc_project(adc: FakeADC) -> None:
    target = await _target(VertexAI(project="mine"))
    assert target.model.startswith("projects/mine/")
    assert len(adc.calls) == 1


async def test_vertex_adc_without_project_raises_auth_error(adc: FakeADC) -> None:
    adc.result = (FakeCredentials(), None)
    with pytest.raises(AuthError, match="GOOGLE_CLOUD_PROJECT"):
        await _target(VertexAI())


async def test_vertex_adc_failure_raises_auth_error(adc: FakeADC) -> None:
    original = google.auth.exceptions.DefaultCredentialsError("no ADC")  # type: ignore[no-untyped-call]
    adc.result = original
    with pytest.raises(AuthError, match="application-default") as info:
        await _target(VertexAI(project="p"))
    assert info.value.__cause__ is original


async def test_vertex_falls_back_to_the_urllib3_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    import google.auth.transport.urllib3

    monkeypatch.setitem(sys.modules, "google.auth.transport.requests", None)
    creds = FakeCredentials()
    await _target(VertexAI(project="p", credentials=creds))
    assert isinstance(creds.requests[0], google.auth.transport.urllib3.Request)


async def test_vertex_without_any_transport_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "google.auth.transport.requests", None)
    monkeypatch.setitem(sys.modules, "google.auth.transport.urllib3", None)
    with pytest.raises(AuthError, match=r"google-auth\[requests\]"):
        await _target(VertexAI(project="p", credentials=FakeCredentials()))


async def test_vertex_cancelled_refresh_is_kept_for_the_next_call() -> None:
    creds = FakeCredentials()
    creds.gate = threading.Event()
    creds.entered = trio.Event()
    auth = VertexAI(project="p", credentials=creds)
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            cancel_scope = trio.CancelScope()

            async def connect() -> None:
                with cancel_scope:
                    await auth.target(model="m", api_version="v1beta", endpoint=None)
                    raise AssertionError("target() should have been cancelled")

            nursery.start_soon(connect)
            await creds.entered.wait()
            # The caller gets out at once although the refresh is still blocked in its thread.
            cancel_scope.cancel()
        assert creds.refresh_calls == 0
        creds.entered = None
        creds.gate.set()
        # The next call waits for the abandoned refresh instead of starting a second,
        # concurrent one, and uses its result.
        target = await auth.target(model="m", api_version="v1beta", endpoint=None)
    assert creds.refresh_calls == 1
    assert _header(target, "authorization") == "Bearer ya29.FAKE-secret-access-1"


async def test_concurrent_targets_refresh_once() -> None:
    creds = FakeCredentials()
    auth = VertexAI(project="p", credentials=creds)
    results: list[ConnectTarget] = []

    async def one() -> None:
        results.append(await auth.target(model="m", api_version="v1", endpoint=None))

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            for _ in range(4):
                nursery.start_soon(one)
    assert creds.refresh_calls == 1
    assert {_header(t, "authorization") for t in results} == {"Bearer ya29.FAKE-secret-access-1"}


def test_importing_the_package_does_not_import_google_auth() -> None:
    code = (
        "import sys, trio_gemini_live, trio_gemini_live._auth\n"
        "loaded = [m for m in sys.modules if m == 'google.auth' or m.startswith('google.auth.')]\n"
        "assert not loaded, loaded\n"
    )
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


# --- environment resolution --------------------------------------------------------------------


def test_api_key_from_env_reads_either_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "gemini-FAKE")
    assert ApiKey.from_env()._key == "gemini-FAKE"
    monkeypatch.delenv("GEMINI_API_KEY")
    monkeypatch.setenv("GOOGLE_API_KEY", "google-FAKE")
    assert ApiKey.from_env()._key == "google-FAKE"
    assert ApiKey.from_env({"GEMINI_API_KEY": "mapped-FAKE"})._key == "mapped-FAKE"


def test_google_api_key_wins_like_the_sdk(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from google.genai import _api_client

    monkeypatch.setenv("GEMINI_API_KEY", "gemini-FAKE")
    monkeypatch.setenv("GOOGLE_API_KEY", "google-FAKE")
    with caplog.at_level(logging.WARNING, logger="trio_gemini_live"):
        ours = ApiKey.from_env()._key
    assert ours == _api_client.get_env_api_key() == "google-FAKE"
    assert "Using GOOGLE_API_KEY" in caplog.text
    assert "FAKE" not in caplog.text


def test_empty_variables_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", "")
    monkeypatch.setenv("GEMINI_API_KEY", "gemini-FAKE")
    assert ApiKey.from_env()._key == "gemini-FAKE"


def test_from_env_without_a_key_names_the_variables() -> None:
    with pytest.raises(AuthError, match="GEMINI_API_KEY") as info:
        ApiKey.from_env()
    assert "GOOGLE_API_KEY" in str(info.value)


def test_auth_from_env_api_key_and_ephemeral() -> None:
    assert isinstance(auth_from_env({"GEMINI_API_KEY": KEY}), ApiKey)
    assert isinstance(auth_from_env({"GOOGLE_API_KEY": TOKEN}), EphemeralToken)


@pytest.mark.parametrize("flag", ["true", "True", "TRUE", "1"])
def test_auth_from_env_vertex_flag(flag: str) -> None:
    env = {
        "GOOGLE_GENAI_USE_VERTEXAI": flag,
        "GOOGLE_CLOUD_PROJECT": "env-proj",
        "GOOGLE_CLOUD_LOCATION": "us-central1",
        "GEMINI_API_KEY": KEY,  # ignored: the Vertex flag wins
    }
    auth = auth_from_env(env)
    assert isinstance(auth, VertexAI)
    assert (auth.project, auth.location) == ("env-proj", "us-central1")


@pytest.mark.parametrize("flag", ["false", "0", "", "no", "yes"])
def test_auth_from_env_vertex_flag_off(flag: str) -> None:
    env = {"GOOGLE_GENAI_USE_VERTEXAI": flag, "GEMINI_API_KEY": KEY}
    assert isinstance(auth_from_env(env), ApiKey)


def test_auth_from_env_enterprise_flag_takes_precedence() -> None:
    # google-genai 3.6.x: GOOGLE_GENAI_USE_ENTERPRISE, when set, overrides ..._USE_VERTEXAI.
    env = {"GOOGLE_GENAI_USE_ENTERPRISE": "false", "GOOGLE_GENAI_USE_VERTEXAI": "true"}
    assert isinstance(auth_from_env({**env, "GEMINI_API_KEY": KEY}), ApiKey)
    assert isinstance(auth_from_env({"GOOGLE_GENAI_USE_ENTERPRISE": "1"}), VertexAI)


def test_auth_from_env_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    assert isinstance(auth_from_env(), ApiKey)
    monkeypatch.setenv("GOOGLE_GENAI_USE_VERTEXAI", "true")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p")
    assert isinstance(auth_from_env(), VertexAI)


def test_auth_from_env_without_anything_names_the_variables() -> None:
    with pytest.raises(AuthError) as info:
        auth_from_env({})
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI"):
        assert name in str(info.value)


# --- secrets stay secret -----------------------------------------------------------------------


async def test_secrets_appear_in_no_url_repr_log_or_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    access = "ya29.FAKE-secret-access-1"
    bad_calls: list[dict[str, Any]] = [
        {"model": ""},
        {"model": "a/b/c/d?x"},
        {"endpoint": "ftp://x"},
        {"endpoint": "ws://h/path"},
        {"endpoint": "ws://u:p@h"},
    ]
    creds = FakeCredentials()
    vertex = VertexAI(project="p", location="us-central1", credentials=creds)
    seen: list[str] = []
    with caplog.at_level(logging.DEBUG):
        key_holding_token = ApiKey(TOKEN)
        for auth in (ApiKey(KEY), EphemeralToken(TOKEN), key_holding_token, vertex):
            target = await _target(auth)  # v1beta: the ephemeral ones log a warning
            seen += [target.url, repr(target), str(target), repr(auth), str(auth)]
            # Ephemeral tokens take any api_version (they switch to v1alpha).
            ephemeral = isinstance(auth, EphemeralToken) or auth is key_holding_token
            calls = bad_calls if ephemeral else [*bad_calls, {"api_version": "nope"}]
            for kwargs in calls:
                with pytest.raises(ValueError) as info:
                    await _target(auth, **kwargs)
                seen += [str(info.value), repr(info.value)]
        refresh_error = google.auth.exceptions.RefreshError(access)  # type: ignore[no-untyped-call]
        failing = VertexAI(
            project="p",
            credentials=FakeCredentials(fail=refresh_error),
        )
        with pytest.raises(AuthError) as auth_error:
            await _target(failing)
        seen += [str(auth_error.value), repr(auth_error.value)]
        for bad in (f"{KEY}\n", f" {KEY}"):
            with pytest.raises(ValueError) as key_error:
                ApiKey(bad)
            seen.append(str(key_error.value))
        with pytest.raises(ValueError) as token_error:
            EphemeralToken(KEY)
        seen.append(str(token_error.value))
    seen.append(caplog.text)
    assert "v1alpha" in caplog.text  # the warnings were logged (and checked below)
    for text in seen:
        for secret in (KEY, TOKEN, "FAKE-secret", access):
            assert secret not in text, text
    # The secrets did reach the headers, where they belong.
    assert creds.refresh_calls == 1


async def test_checkpoints_even_without_io() -> None:
    # Trio convention: every async function is a checkpoint, even the ones that do no I/O.
    vertex = VertexAI(project="p", credentials=FakeCredentials(token="valid"))
    for auth in (ApiKey(KEY), EphemeralToken(TOKEN), vertex):
        with trio.fail_after(5), trio.CancelScope() as scope:
            scope.cancel()
            await auth.target(model="m", api_version="v1", endpoint=None)
        assert scope.cancelled_caught
