"""Every Live field of the official SDK (3.6) has a home here (issue 13; see sdk_fields)."""

from __future__ import annotations

import pytest

from .sdk_fields import EXTRA_ONLY, markdown, walk

pytest.importorskip("google.genai")


def test_every_server_field_reaches_the_user() -> None:
    rows = walk("server")
    missing = [(r.sdk_type, r.alias) for r in rows if r.ours is None]
    assert missing == []
    assert all(r.home not in ("MISSING", "wire only") for r in rows)
    # The walk saw the whole schema (a broken walk would pass vacuously).
    assert len(rows) > 200
    assert {("LiveServerContent", "interactionStatus"), ("FunctionCall", "partialArgs"),
            ("GroundingChunk", "maps"), ("UsageMetadata", "trafficType")} <= {
        (r.sdk_type, r.alias) for r in rows}


def test_every_client_field_can_be_sent() -> None:
    rows = walk("client")
    missing = {(r.sdk_type, r.alias) for r in rows if r.ours is None}
    # Typed, or documented as sent with LiveConfig(extra=...) (and no stale entry there).
    assert missing == set(EXTRA_ONLY)
    assert len(rows) > 150
    homes = {(r.sdk_type, r.alias): r.home for r in rows}
    assert homes[("LiveClientContextUpdate", "tools")] == "session.send_context_update"
    assert homes[("ProactivityConfig", "proactiveVideo")] == "LiveConfig(proactivity=...)"
    assert homes[("GenerationConfig", "responseMimeType")] == "LiveConfig(extra=...) only"


def test_the_table_renders() -> None:
    table = markdown(walk("server"))
    assert table.startswith("| side | SDK type | field |")
    assert "| server | LiveServerContent | `waitingForInput` |" in table
