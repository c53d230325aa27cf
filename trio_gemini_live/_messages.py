"""One server message -> its typed events, in the documented order (``events``). Stateless.

Pure and sans-IO like the protocol core (:mod:`._protocol`), which adds the bookkeeping
(turns, tool calls, handles). Kept apart so that the mapping of every server field to the
event that carries it is in one short place (PROTOCOL.md 4).
"""

from __future__ import annotations

from typing import Final, TypeAlias, TypeVar

from . import _wire as w
from . import events as ev
from ._mime import OUTPUT_RATE, parse_mime

__all__ = ["message_events"]

#: A server frame as a WebSocket library hands it over.
_Frame: TypeAlias = bytes | bytearray | memoryview | str


_NOT_AUDIO: Final = -1
#: MIME type -> sample rate, or _NOT_AUDIO. Every chunk carries its MIME type and a session
#: sees one or two distinct ones: one dict lookup per chunk instead of a prefix test and a
#: regex search (measured with benchmarks/bench_codec.py).
_AUDIO_RATES: Final[dict[str, int]] = {}
_AUDIO_RATES_MAX: Final = 64


def _audio_rate(mime_type: str) -> int:
    """The sample rate of a PCM MIME type (24 kHz unless it says), or _NOT_AUDIO.

    ``audio.parse_mime`` decides (one parser for the whole library): only 16-bit mono
    ``audio/pcm`` with a positive rate is an AudioChunk (PROTOCOL.md 4); any other type,
    other audio encodings and a bad rate included, is inline data that is not audio.
    """
    try:
        rate = parse_mime(mime_type, default_rate=OUTPUT_RATE)[1]
    except ValueError:
        rate = _NOT_AUDIO
    if len(_AUDIO_RATES) < _AUDIO_RATES_MAX:  # bounded: the server picks these strings
        _AUDIO_RATES[mime_type] = rate
    return rate


def _usage(meta: w.UsageMetadata) -> ev.Usage:
    return ev.Usage(
        prompt_tokens=meta.prompt_token_count or 0,
        response_tokens=meta.response_token_count or meta.candidates_token_count or 0,
        total_tokens=meta.total_token_count or 0,
        cached_tokens=meta.cached_content_token_count or 0,
        thoughts_tokens=meta.thoughts_token_count or 0,
        tool_use_prompt_tokens=meta.tool_use_prompt_token_count or 0,
        prompt_details=tuple(meta.prompt_tokens_details or ()),
        response_details=tuple(
            meta.response_tokens_details or meta.candidates_tokens_details or ()
        ),
        cache_details=tuple(meta.cache_tokens_details or ()),
        tool_use_prompt_details=tuple(meta.tool_use_prompt_tokens_details or ()),
        traffic_type=meta.traffic_type,
        service_tier=meta.service_tier,
    )


_T = TypeVar("_T", ev.InterimInputTranscription, ev.InputTranscription, ev.OutputTranscription)


def _transcript(cls: type[_T], tr: w.Transcription) -> _T | None:
    """The event of one transcription, or ``None`` when it says nothing (``{}``, ``""``)."""
    if (tr.language_code is None and tr.speaker_label is None and tr.words is None
            and tr.start_offset is None and tr.end_offset is None):
        # The common case (PROTOCOL.md 4: a fragment of text), kept short.
        if not tr.text and not tr.finished:
            return None
        return cls(text=tr.text or "", finished=bool(tr.finished))
    return cls(
        text=tr.text or "",
        finished=bool(tr.finished),
        language_code=tr.language_code,
        speaker_label=tr.speaker_label,
        words=tuple(
            ev.Word(
                word=word.word or "",
                start_offset=w.parse_duration(word.start_offset),
                end_offset=w.parse_duration(word.end_offset),
            )
            for word in tr.words or ()
        ),
        start_offset=w.parse_duration(tr.start_offset),
        end_offset=w.parse_duration(tr.end_offset),
    )


def _undescribed(part: w.Part) -> bool:
    """Whether ``part`` holds something TextChunk, InlineData, ExecutableCode and
    CodeExecutionResult do not carry: then it becomes a :class:`~.events.ModelPart` too.
    """
    return (
        part.file_data is not None
        or part.function_call is not None
        or part.function_response is not None
        or part.tool_call is not None
        or part.tool_response is not None
        or part.audio_transcription is not None
        or part.video_metadata is not None
        or part.media_resolution is not None
        or part.media_processing is not None
        or part.speech_metadata is not None
        or part.document_metadata is not None
        or part.spreadsheet_metadata is not None
        or part.audio_metadata is not None
        or part.part_metadata is not None
        # A signature without text: no TextChunk carries it.
        or (part.thought_signature is not None and not part.text)
    )


def _part_events(part: w.Part, out: list[ev.Event]) -> None:
    """The events of one part of a model turn that is not audio (off the audio hot path)."""
    text = part.text
    if text:
        out.append(ev.TextChunk(text=text, thought=bool(part.thought),
                                thought_signature=part.thought_signature))
    blob = part.inline_data
    if blob is not None and blob.data is not None:
        mime = blob.mime_type or "audio/pcm"
        rate = _AUDIO_RATES.get(mime)
        if rate is None:
            rate = _audio_rate(mime)
        if rate >= 0:
            # Audio with text in one part: both, and nothing else (as on the hot path).
            out.append(ev.AudioChunk(data=blob.data, sample_rate=rate, mime_type=mime))
            return
        out.append(ev.InlineData(data=blob.data, mime_type=mime,
                                 display_name=blob.display_name))
    code = part.executable_code
    if code is not None:
        out.append(ev.ExecutableCode(code=code.code or "", language=code.language or "PYTHON",
                                     id=code.id))
    result = part.code_execution_result
    if result is not None:
        out.append(ev.CodeExecutionResult(outcome=result.outcome or "OUTCOME_UNSPECIFIED",
                                          output=result.output or "", id=result.id))
    if _undescribed(part):
        out.append(ev.ModelPart(part=part))


def message_events(message: w.ServerMessage, raw: _Frame = b"") -> list[ev.Event]:
    """The events of one decoded server message, in the documented order (see ``events``).

    ``raw`` is the frame the message was decoded from; it is copied only into an
    :class:`~trio_gemini_live.events.UnknownMessage` (so the common case copies nothing).
    Stateless; :meth:`LiveProtocol.receive_message` adds the bookkeeping. Raises
    :class:`ProtocolError` for a field that cannot mean anything (a bad Duration).
    """
    out: list[ev.Event] = []
    setup_complete = message.setup_complete
    if setup_complete is not None:
        consent = setup_complete.voice_consent_signature
        out.append(ev.SetupComplete(
            session_id=setup_complete.session_id,
            voice_consent_signature=consent.signature if consent is not None else None,
        ))
    content = message.server_content
    if content is not None:
        turn = content.model_turn
        if turn is not None and turn.parts:
            for part in turn.parts:
                # The hot path (PROTOCOL.md 4: audio is most of the traffic): a part that is
                # only audio costs three attribute reads and one dict lookup.
                blob = part.inline_data
                if blob is not None and part.text is None and blob.data is not None:
                    mime = blob.mime_type or "audio/pcm"
                    rate = _AUDIO_RATES.get(mime)
                    if rate is None:
                        rate = _audio_rate(mime)
                    if rate >= 0:  # _NOT_AUDIO is negative
                        out.append(ev.AudioChunk(data=blob.data, sample_rate=rate, mime_type=mime))
                        continue
                _part_events(part, out)
        tr = content.interim_input_transcription
        if tr is not None:
            interim = _transcript(ev.InterimInputTranscription, tr)
            if interim is not None:
                out.append(interim)
        tr = content.input_transcription
        if tr is not None:
            heard = _transcript(ev.InputTranscription, tr)
            if heard is not None:
                out.append(heard)
        tr = content.output_transcription
        if tr is not None:
            said = _transcript(ev.OutputTranscription, tr)
            if said is not None:
                out.append(said)
        if content.grounding_metadata is not None or content.url_context_metadata is not None:
            out.append(
                ev.Grounding(
                    metadata=content.grounding_metadata,
                    url_context=content.url_context_metadata,
                )
            )
        if content.interrupted:
            out.append(ev.Interrupted())
        if content.generation_complete:
            out.append(ev.GenerationComplete())
        if content.waiting_for_input:
            out.append(ev.WaitingForInput())
    if message.usage_metadata is not None:
        out.append(ev.UsageUpdate(usage=_usage(message.usage_metadata)))
    if content is not None:
        if content.turn_complete:
            out.append(ev.TurnComplete(reason=content.turn_complete_reason))
        if content.interaction_status is not None:
            out.append(ev.InteractionStatus(status=content.interaction_status))
    if message.tool_call is not None:
        out.append(ev.ToolCall(calls=tuple(message.tool_call.function_calls or ())))
    if message.tool_call_cancellation is not None:
        out.append(ev.ToolCallCancellation(ids=tuple(message.tool_call_cancellation.ids or ())))
    if message.voice_activity is not None:
        va = message.voice_activity
        kind = va.type or va.voice_activity_type or "TYPE_UNSPECIFIED"
        out.append(ev.VoiceActivity(kind=kind, audio_offset=w.parse_duration(va.audio_offset)))
    if message.voice_activity_detection_signal is not None:
        signal = message.voice_activity_detection_signal
        kind = signal.vad_signal_type or "VAD_SIGNAL_TYPE_UNSPECIFIED"
        out.append(ev.VoiceActivity(kind=kind))
    if message.session_resumption_update is not None:
        upd = message.session_resumption_update
        out.append(
            ev.SessionResumptionUpdate(
                handle=upd.new_handle or None,
                resumable=bool(upd.resumable),
                last_consumed_index=upd.last_consumed_client_message_index,
            )
        )
    if message.go_away is not None:
        left = w.parse_duration(message.go_away.time_left)
        out.append(ev.GoAway(time_left=max(0.0, left if left is not None else 0.0)))
    if not out and not _has_known_field(message):
        out.append(ev.UnknownMessage(raw=raw.encode() if isinstance(raw, str) else bytes(raw)))
    return out


def _has_known_field(message: w.ServerMessage) -> bool:
    return any(getattr(message, name) is not None for name in message.__struct_fields__)
