"""The base of every wire type and the enumerations the client sends (see ``_wire``).

Split out of ``_wire`` so that no module grows past a few hundred lines; ``_wire``
re-exports every name, and code imports them from there.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import msgspec

__all__ = [
    "ActivityHandling",
    "Behavior",
    "Duration",
    "EndSensitivity",
    "HarmBlockMethod",
    "HarmBlockThreshold",
    "HarmCategory",
    "MediaResolution",
    "Modality",
    "PhishBlockThreshold",
    "Role",
    "Scheduling",
    "SchemaType",
    "StartSensitivity",
    "ThinkingLevel",
    "TranscriptionMode",
    "TurnCoverage",
    "WireStruct",
]


class WireStruct(msgspec.Struct, rename="camel", omit_defaults=True, kw_only=True, gc=False):
    """Base of every wire type: camelCase on the wire, unset fields omitted.

    Not tracked by the garbage collector (msgspec's ``gc=False``): a wire message is a tree,
    as JSON is, so it cannot hold a reference cycle (one built by hand could not be encoded
    either). Every received and sent message is one to four of these, and each tracked
    object counts towards the collector's next pass and is scanned by every full one (issue
    11: the pauses of many sessions in one process). The lists and dicts they hold are
    tracked as usual.
    """


# --- enumerations the client sends (checked before sending) -------------------------------
# Each is a subset of the official SDK's enum of the same meaning (tests/test_referee.py
# checks it). Enumerations of types the server sends too (``Part`` and what it holds) are
# plain ``str`` instead: the server may grow them.

Modality: TypeAlias = Literal["TEXT", "AUDIO", "IMAGE", "VIDEO"]
MediaResolution: TypeAlias = Literal[
    "MEDIA_RESOLUTION_UNSPECIFIED",
    "MEDIA_RESOLUTION_LOW",
    "MEDIA_RESOLUTION_MEDIUM",
    "MEDIA_RESOLUTION_HIGH",
]
ThinkingLevel: TypeAlias = Literal[
    "THINKING_LEVEL_UNSPECIFIED", "MINIMAL", "LOW", "MEDIUM", "HIGH", "XHIGH"
]
SchemaType: TypeAlias = Literal[
    "TYPE_UNSPECIFIED", "STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL"
]
Behavior: TypeAlias = Literal["UNSPECIFIED", "BLOCKING", "NON_BLOCKING"]
Scheduling: TypeAlias = Literal["SCHEDULING_UNSPECIFIED", "SILENT", "WHEN_IDLE", "INTERRUPT"]
StartSensitivity: TypeAlias = Literal[
    "START_SENSITIVITY_UNSPECIFIED", "START_SENSITIVITY_HIGH", "START_SENSITIVITY_LOW"
]
EndSensitivity: TypeAlias = Literal[
    "END_SENSITIVITY_UNSPECIFIED", "END_SENSITIVITY_HIGH", "END_SENSITIVITY_LOW"
]
ActivityHandling: TypeAlias = Literal[
    "ACTIVITY_HANDLING_UNSPECIFIED", "START_OF_ACTIVITY_INTERRUPTS", "NO_INTERRUPTION"
]
TurnCoverage: TypeAlias = Literal[
    "TURN_COVERAGE_UNSPECIFIED",
    "TURN_INCLUDES_ONLY_ACTIVITY",
    "TURN_INCLUDES_ALL_INPUT",
    "TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO",
]
TranscriptionMode: TypeAlias = Literal["MODE_UNSPECIFIED", "VERBATIM", "SMART"]
HarmCategory: TypeAlias = Literal[
    "HARM_CATEGORY_UNSPECIFIED",
    "HARM_CATEGORY_HARASSMENT",
    "HARM_CATEGORY_HATE_SPEECH",
    "HARM_CATEGORY_SEXUALLY_EXPLICIT",
    "HARM_CATEGORY_DANGEROUS_CONTENT",
    "HARM_CATEGORY_CIVIC_INTEGRITY",
    "HARM_CATEGORY_JAILBREAK",
    "HARM_CATEGORY_IMAGE_HATE",
    "HARM_CATEGORY_IMAGE_DANGEROUS_CONTENT",
    "HARM_CATEGORY_IMAGE_HARASSMENT",
    "HARM_CATEGORY_IMAGE_SEXUALLY_EXPLICIT",
]
HarmBlockMethod: TypeAlias = Literal["HARM_BLOCK_METHOD_UNSPECIFIED", "SEVERITY", "PROBABILITY"]
HarmBlockThreshold: TypeAlias = Literal[
    "HARM_BLOCK_THRESHOLD_UNSPECIFIED",
    "BLOCK_LOW_AND_ABOVE",
    "BLOCK_MEDIUM_AND_ABOVE",
    "BLOCK_ONLY_HIGH",
    "BLOCK_NONE",
    "OFF",
]
PhishBlockThreshold: TypeAlias = Literal[
    "PHISH_BLOCK_THRESHOLD_UNSPECIFIED",
    "BLOCK_LOW_AND_ABOVE",
    "BLOCK_MEDIUM_AND_ABOVE",
    "BLOCK_HIGH_AND_ABOVE",
    "BLOCK_HIGHER_AND_ABOVE",
    "BLOCK_VERY_HIGH_AND_ABOVE",
    "BLOCK_ONLY_EXTREMELY_HIGH",
]
Role: TypeAlias = Literal["user", "model"]

#: A protobuf Duration: ``"50s"``/``"1.5s"`` in proto3 JSON; numbers are accepted too.
Duration: TypeAlias = str | float
