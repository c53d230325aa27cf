"""One emulated connection's behaviour once ``setupComplete`` is sent (PROTOCOL.md 3, 4, 5).

:class:`Conversation` receives the typed client messages in order (:meth:`handle`) and
produces server messages through an ``emit`` callable. The model's work runs as *jobs* in
one worker task, one at a time, each in its own cancel scope: barge-in (PROTOCOL.md 5.3)
cancels the current job, and the worker then sends ``interrupted`` (with
``toolCallCancellation`` for unanswered calls) and ``turnComplete``, before starting the
next job. Time is only ever read through trio, so tests can use ``autojump_clock``.

The logical session (history, turn count, resumption handles) lives in a
:class:`SessionState` shared by every connection that resumes it.

The model's rules (PROTOCOL.md 9) come from its :class:`~trio_gemini_live.models.ModelProfile`:
what it refuses closes the connection (:class:`ClientFrameError`), and its family decides a
few behaviours (the default tool behaviour; on 3.x, bundled messages and the newer server
fields: interim transcripts, ``waitingForInput``, ``interactionStatus``).
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import json
import math
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec
import trio

from .. import _wire as w
from ..models import ModelProfile
from . import _model as m
from ._strict import INVALID_ARGUMENT, ClientFrameError

__all__ = ["Conversation", "Counters", "ModelSettings", "SessionSnapshot", "SessionState"]

_PCM_RE: Final = re.compile(r"^audio/pcm(?:;\s*rate=(\d+))?$")
#: Seconds of speech between two interim input transcripts (3.x models).
_INTERIM_EVERY: Final = 0.5


@dataclass
class ModelSettings:
    """The scripted model's knobs (see :class:`~trio_gemini_live.testing.LiveEmulator`)."""

    text_chunk_delay: float = 0.0
    audio_chunk_ms: int = 40
    audio_chunk_delay: float = 0.0
    audio_transcript: str | None = None
    vad_threshold: float = 500.0


@dataclass
class SessionState:
    """A logical session, kept across the connections that resume it (PROTOCOL.md 6)."""

    key: str
    model: str
    history: list[dict[str, Any]] = field(default_factory=list)
    turns: int = 0
    handles: list[str] = field(default_factory=list)
    prompt_tokens: int = 0
    response_tokens: int = 0
    #: Text of ``clientContent`` with ``turnComplete: false``, waiting for the turn's end.
    #: Part of the session (not the connection): the server's state includes it, so a
    #: resumption handle covers it (PROTOCOL.md 3.2, 4).
    pending_text: list[str] = field(default_factory=list)
    #: ``trio.current_time()`` when the session's last connection ended (``None`` while one
    #: runs): its handles expire counting from there (PROTOCOL.md 6).
    ended_at: float | None = None

    def snapshot(self) -> SessionSnapshot:
        """The state a resumption handle issued now refers to."""
        return SessionSnapshot(
            history_len=len(self.history), turns=self.turns,
            prompt_tokens=self.prompt_tokens, response_tokens=self.response_tokens,
            pending_text=tuple(self.pending_text),
        )

    def restore(self, snap: SessionSnapshot) -> None:
        """Go back to ``snap``: what was consumed after its handle was issued is forgotten."""
        del self.history[snap.history_len:]
        self.turns = snap.turns
        self.prompt_tokens = snap.prompt_tokens
        self.response_tokens = snap.response_tokens
        self.pending_text[:] = snap.pending_text


@dataclass(frozen=True)
class SessionSnapshot:
    """A :class:`SessionState` as of one resumption handle (see :meth:`SessionState.snapshot`)."""

    history_len: int
    turns: int
    prompt_tokens: int
    response_tokens: int
    pending_text: tuple[str, ...]


@dataclass
class _Call:
    call: w.FunctionCall
    behavior: str


@dataclass
class Counters:
    """The numbers in resumption handles and function call ids: one set per emulator."""

    handles: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    calls: Iterator[int] = field(default_factory=lambda: itertools.count(1))


Emit = Callable[[dict[str, Any]], Awaitable[None]]


def wire(message: w.ServerMessage) -> dict[str, Any]:
    """A server Struct as the camelCase dict that goes on the wire."""
    out: dict[str, Any] = msgspec.to_builtins(message)
    return out


def _tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


class Conversation:
    """The model side of one connection (see the module docstring)."""

    def __init__(self, *, setup: w.Setup, backend: str, session: SessionState,
                 settings: ModelSettings, emit: Emit, message_index: Callable[[], int],
                 register_handle: Callable[[str, int, SessionSnapshot], None],
                 counters: Counters, profile: ModelProfile, resumed: bool = False) -> None:
        self.setup = setup
        self.backend = backend
        self.profile = profile
        #: 3.x: several fields in one message, and the newer server fields.
        self.bundled = profile.bundled_server_content
        # PROTOCOL.md 9: the initial history is the clientContent that comes before any
        # other input, on a new session (a resumed one has its history already).
        self._initial = not resumed
        history = setup.history_config
        self._history_config = bool(history and history.initial_history_in_client_content)
        self._history_seen = False
        self._interim_steps = 0
        self.session = session
        self.settings = settings
        self._emit = emit
        self._message_index = message_index
        self._register_handle = register_handle
        self._counters = counters
        gen = setup.generation_config
        modalities = (gen.response_modalities if gen else None) or ["AUDIO"]
        self.audio_out = "AUDIO" in modalities
        rtc = setup.realtime_input_config
        aad = rtc.automatic_activity_detection if rtc else None
        self.manual_activity = bool(aad and aad.disabled)
        self.no_interruption = bool(rtc and rtc.activity_handling == "NO_INTERRUPTION")
        self._vad_params = {
            "silence_duration_ms": (aad.silence_duration_ms if aad else None) or 500,
            "prefix_padding_ms": (aad.prefix_padding_ms if aad else None) or 20,
        }
        self._vad: m.EnergyVad | None = None
        self._manual_active = False
        self._activity_bytes = 0
        self._activity_rate = 16_000
        self._calls: dict[str, _Call] = {}
        self._results: dict[str, tuple[str, dict[str, Any]]] = {}
        self._calls_changed = trio.Event()
        self._current: trio.CancelScope | None = None
        self._idle_waiting: list[tuple[str, dict[str, Any]]] = []
        #: For each queued user turn whose job has not started: the index of the client
        #: message before the one that made it, and the session state before that message.
        self._waiting_turns: collections.deque[tuple[int, SessionSnapshot]] = (
            collections.deque())
        self._before: tuple[int, SessionSnapshot] = (0, session.snapshot())
        self._jobs_send, self._jobs_recv = trio.open_memory_channel[
            Callable[[], Awaitable[None]]
        ](math.inf)
        self._functions: dict[str, w.FunctionDeclaration] = {
            decl.name: decl
            for tool in setup.tools or []
            for decl in tool.function_declarations or []
        }

    # -- the worker ------------------------------------------------------------------------

    async def run(self) -> None:
        """Run the model's jobs, one at a time, until cancelled."""
        await self._after_setup()
        async for job in self._jobs_recv:
            with trio.CancelScope() as scope:
                self._current = scope
                await job()
            self._current = None
            if scope.cancelled_caught:
                await self._send_interrupted()
            elif not self._calls_pending_blocking() and self._idle_waiting:
                waiting, self._idle_waiting = self._idle_waiting, []
                for name, response in waiting:
                    self._enqueue(self._answer_tool(name, response))

    def _enqueue(self, coro_fn: Callable[[], Awaitable[None]]) -> None:
        self._jobs_send.send_nowait(coro_fn)

    def _interrupt(self) -> bool:
        """Barge-in (PROTOCOL.md 5.3): cancel the current generation, unless configured not to."""
        if self._current is None or self.no_interruption:
            return False
        self._current.cancel()
        return True

    async def _after_setup(self) -> None:
        if self.setup.session_resumption is not None:
            await self._resumption_update()

    # -- client messages -------------------------------------------------------------------

    async def handle(self, message: w.ClientMessage) -> None:
        """Act on one client message (after ``setup``). Raises :class:`ClientFrameError`."""
        if message.setup is not None:
            # PROTOCOL.md 3.1: the setup cannot change during a connection.
            raise ClientFrameError(INVALID_ARGUMENT)
        # The state before this message: where a handle points while the turn this message
        # may queue is still unanswered (see :meth:`_resumption_update`).
        self._before = (self._message_index() - 1, self.session.snapshot())
        if message.client_content is not None:
            self._check_client_content(message.client_content)
            await self._client_content(message.client_content)
        elif message.realtime_input is not None:
            self._check_realtime_input(message.realtime_input)
            await self._realtime_input(message.realtime_input)
        elif message.tool_response is not None:
            self._initial = False
            await self._tool_response(message.tool_response)
        elif message.context_update is not None:
            self._initial = False
            self._context_update(message.context_update)

    # -- the model's rules (PROTOCOL.md 9) ---------------------------------------------------

    def _check_client_content(self, content: w.ClientContent) -> None:
        profile = self.profile
        if profile.mid_session_client_content:
            return
        if not self._initial:
            # 3.x: clientContent only as the initial history (at launch, 1007 otherwise).
            raise ClientFrameError(INVALID_ARGUMENT)
        if profile.history_needs_config and not self._history_config:
            # The initial history needs historyConfig.initialHistoryInClientContent.
            raise ClientFrameError(INVALID_ARGUMENT)
        self._history_seen = True
        if content.turn_complete:
            self._initial = False  # the model answers: the history is over

    def _check_realtime_input(self, rti: w.RealtimeInput) -> None:
        if (self._initial and self.profile.history_before_realtime_input
                and self._history_config and not self._history_seen):
            # The history was announced in the setup and must come first (pipecat #4171).
            raise ClientFrameError(INVALID_ARGUMENT)
        if rti.media_chunks is not None and not self.profile.media_chunks:
            # 3.x: the deprecated mediaChunks is refused; send audio / video.
            raise ClientFrameError(INVALID_ARGUMENT)
        self._initial = False

    def _context_update(self, update: w.ContextUpdate) -> None:
        """PROTOCOL.md 3.5: a new system instruction or tools, for the rest of the connection."""
        if not self.profile.context_update:
            raise ClientFrameError(INVALID_ARGUMENT)
        if update.tools is not None:
            tools = update.tools.tools or []
            probe = w.Setup(model=self.setup.model, tools=tools)
            if self.profile._violations(probe, api_version="v1alpha",
                                        vertex=self.backend == "vertex"):
                raise ClientFrameError(INVALID_ARGUMENT)  # e.g. NON_BLOCKING on 3.1
            self.setup.tools = tools or None
            self._functions = {
                decl.name: decl for tool in tools for decl in tool.function_declarations or []
            }
        if update.system_instruction is not None:
            self.setup.system_instruction = update.system_instruction

    async def _client_content(self, content: w.ClientContent) -> None:
        texts: list[str] = []
        for turn in content.turns or []:
            for part in turn.parts or []:
                if part.function_call is not None or part.function_response is not None:
                    # PROTOCOL.md 3.2: only text or inline media in clientContent.
                    raise ClientFrameError(INVALID_ARGUMENT)
                if part.text and turn.role != "model":
                    texts.append(part.text)
            if turn.role == "model":
                # The user turns before this model turn are history too, in order.
                if texts:
                    self.session.history.append({"role": "user", "text": " ".join(texts)})
                self.session.history.append({"role": "model", "text": "".join(
                    p.text or "" for p in turn.parts or [])})
                texts.clear()
        # New content interrupts the current generation (PROTOCOL.md 3.2).
        self._interrupt()
        self.session.pending_text.extend(texts)
        if content.turn_complete:
            text = " ".join(self.session.pending_text)
            self.session.pending_text.clear()
            self._user_turn(text, "TEXT")

    def _user_turn(self, text: str, modality: str) -> None:
        self._waiting_turns.append(self._before)

        async def job() -> None:
            # The turn enters the session when the model starts on it (jobs run in order:
            # the oldest waiting turn is this one), so a handle issued meanwhile does not
            # include it.
            self._waiting_turns.popleft()
            self.session.history.append({"role": "user", "text": text})
            self.session.turns += 1
            named = [name for name in self._functions if name in text]
            if named:
                await self._tool_turn(named, text, modality)
                return
            if "your instructions" in text.lower():
                reply = self._instructions_reply()
            else:
                reply = m.reply_text(text, self.session.turns)
            if "code" in text.lower() and any(
                    tool.code_execution is not None for tool in self.setup.tools or []):
                await self._run_code(text)
            await self._speak(reply, text, modality)

        self._enqueue(job)

    def _instructions_reply(self) -> str:
        instruction = self.setup.system_instruction
        text = " ".join(
            part.text for part in (instruction.parts or []) if part.text
        ) if instruction is not None else ""
        return f'My instructions are: "{text}".' if text else "I have no instructions."

    async def _run_code(self, user_text: str) -> None:
        """The code-execution tool at work: the code, then its result, as model-turn parts."""
        code = f"print({user_text!r})"
        await self._emit(wire(w.ServerMessage(server_content=w.ServerContent(
            model_turn=w.Content(role="model", parts=[w.Part(executable_code=w.ExecutableCode(
                language="PYTHON", code=code))])))))
        await self._emit(wire(w.ServerMessage(server_content=w.ServerContent(
            model_turn=w.Content(role="model", parts=[w.Part(
                code_execution_result=w.CodeExecutionResult(
                    outcome="OUTCOME_OK", output=user_text + "\n"))])))))

    async def _realtime_input(self, rti: w.RealtimeInput) -> None:
        if sum(getattr(rti, name) is not None for name in rti.__struct_fields__) != 1:
            # PROTOCOL.md 3.3: exactly one field per realtimeInput message.
            raise ClientFrameError(INVALID_ARGUMENT)
        if rti.text is not None:
            self._interrupt()
            text = rti.text
            if self.bundled and text.rstrip().endswith("..."):
                # The user trails off: the model waits for the rest (waitingForInput).
                self.session.pending_text.append(text.rstrip()[:-3].rstrip())
                await self._emit(wire(w.ServerMessage(server_content=w.ServerContent(
                    waiting_for_input=True))))
                return
            if self.session.pending_text:
                text = " ".join([*self.session.pending_text, text])
                self.session.pending_text.clear()
            self._user_turn(text, "TEXT")
        elif rti.audio is not None:
            await self._audio(rti.audio)
        elif rti.media_chunks:
            first = rti.media_chunks[0]  # PROTOCOL.md 3.3: only the first chunk is used
            if (first.mime_type or "").startswith("audio/"):
                await self._audio(first)
        elif rti.activity_start is not None:
            if not self.manual_activity:
                raise ClientFrameError(
                    "Explicit activity control is not supported when automatic activity "
                    "detection is enabled."
                )
            self._interrupt()
            self._manual_active = True
            self._activity_bytes = 0
        elif rti.activity_end is not None:
            if not self.manual_activity:
                raise ClientFrameError(
                    "Explicit activity control is not supported when automatic activity "
                    "detection is enabled."
                )
            if self._manual_active:
                self._manual_active = False
                await self._end_of_speech()
        elif rti.audio_stream_end and self._vad is not None:
            # The microphone paused: an utterance in progress ends now (PROTOCOL.md 3.3).
            for change in self._vad.flush():
                await self._vad_change(change)

    async def _audio(self, blob: w.Blob) -> None:
        match = _PCM_RE.match((blob.mime_type or "").strip())
        data = blob.data or b""
        if match is None or len(data) % 2:
            # 16-bit PCM only, rate in the MIME type (PROTOCOL.md 3.3).
            raise ClientFrameError(INVALID_ARGUMENT)
        rate = int(match.group(1) or 16_000)
        if rate <= 0:
            raise ClientFrameError(INVALID_ARGUMENT)
        self._activity_rate = rate
        if self.manual_activity:
            if self._manual_active:
                self._activity_bytes += len(data)
                await self._interim()
            return
        if self._vad is None or self._vad.rate != rate:
            self._vad = m.EnergyVad(rate, threshold=self.settings.vad_threshold,
                                    **self._vad_params)
        before = self._vad.active
        changes = self._vad.feed(data)
        if before or changes:
            self._activity_bytes += len(data)
        for change in changes:
            await self._vad_change(change)
        if self._vad.active:
            await self._interim()

    async def _interim(self) -> None:
        """3.x: a provisional transcript every half second of speech (with transcription on)."""
        if not self.bundled or self.setup.input_audio_transcription is None:
            return
        step = int(self._activity_bytes / (2 * self._activity_rate) / _INTERIM_EVERY)
        if step <= self._interim_steps:
            return
        self._interim_steps = step
        fixed = self.settings.audio_transcript
        text = ("".join(m.words(fixed)[:step]).strip() if fixed
                else f"[audio {step * _INTERIM_EVERY:.1f}s]")
        await self._emit(wire(w.ServerMessage(server_content=w.ServerContent(
            interim_input_transcription=w.Transcription(text=text)))))

    async def _vad_change(self, change: str) -> None:
        if change == "start":
            await self._emit(wire(w.ServerMessage(
                voice_activity=w.VoiceActivity(type="ACTIVITY_START"))))
            self._interrupt()
        else:
            await self._emit(wire(w.ServerMessage(
                voice_activity=w.VoiceActivity(type="ACTIVITY_END"))))
            await self._end_of_speech()
            self._activity_bytes = 0

    async def _end_of_speech(self) -> None:
        seconds = self._activity_bytes / (2 * self._activity_rate)
        self._activity_bytes = 0
        self._interim_steps = 0
        transcript = self.settings.audio_transcript or f"[audio {seconds:.1f}s]"
        if self.setup.input_audio_transcription is not None:
            fragments = m.words(transcript)
            for i, fragment in enumerate(fragments):
                await self._emit(wire(w.ServerMessage(server_content=w.ServerContent(
                    input_transcription=w.Transcription(
                        text=fragment, finished=True if i == len(fragments) - 1 else None)))))
        self._user_turn(transcript, "AUDIO")

    async def _tool_response(self, response: w.ToolResponse) -> None:
        for item in response.function_responses or []:
            if self.backend == "vertex" and (item.scheduling or item.will_continue is not None):
                # PROTOCOL.md 3.1: Gemini-API-only fields; Vertex breaks on them.
                raise ClientFrameError(
                    'Invalid JSON payload received. Unknown name "scheduling" at '
                    "'tool_response.function_responses[0]': Cannot find field."
                    if item.scheduling else
                    'Invalid JSON payload received. Unknown name "will_continue" at '
                    "'tool_response.function_responses[0]': Cannot find field."
                )
            if item.id is None or item.id not in self._calls:
                raise ClientFrameError(INVALID_ARGUMENT)
        for item in response.function_responses or []:
            assert item.id is not None
            pending = self._calls[item.id]
            if not item.will_continue:
                del self._calls[item.id]
            name = item.name or pending.call.name or ""
            body = item.response or {}
            self.session.history.append({"role": "tool", "name": name, "response": body})
            if pending.behavior == "NON_BLOCKING":
                scheduling = item.scheduling or "WHEN_IDLE"
                if scheduling == "SILENT":
                    continue
                if scheduling == "INTERRUPT" or self._current is None:
                    self._interrupt()
                    self._enqueue(self._answer_tool(name, body))
                else:
                    self._idle_waiting.append((name, body))
            else:
                self._results[item.id] = (name, body)
        self._calls_changed.set()
        self._calls_changed = trio.Event()

    # -- the model's output ----------------------------------------------------------------

    def _calls_pending_blocking(self) -> bool:
        return any(c.behavior != "NON_BLOCKING" for c in self._calls.values())

    async def _tool_turn(self, names: list[str], user_text: str, modality: str) -> None:
        calls: list[w.FunctionCall] = []
        for name in names:
            decl = self._functions[name]
            # Filled from the words of the turn that named the function (issue 14).
            args = (m.sample_args(decl.parameters, user_text) if decl.parameters is not None
                    else m.sample_args_json_schema(decl.parameters_json_schema, user_text))
            call = w.FunctionCall(id=f"fc_{next(self._counters.calls)}", name=name, args=args)
            calls.append(call)
            # A function declared without behavior runs as the model's default (PROTOCOL.md
            # 9: asynchronous on 3.8).
            behavior = (decl.behavior if decl.behavior in ("BLOCKING", "NON_BLOCKING")
                        else self.profile.default_tool_behavior)
            self._calls[call.id or ""] = _Call(call, behavior)
        await self._emit(wire(w.ServerMessage(tool_call=w.ToolCall(function_calls=calls))))
        if self.setup.session_resumption is not None:
            # PROTOCOL.md 4: not resumable while the model executes tools.
            await self._emit(wire(w.ServerMessage(
                session_resumption_update=w.SessionResumptionUpdate(resumable=False))))
        ids = [c.id for c in calls if self._calls[c.id or ""].behavior != "NON_BLOCKING"]
        if not ids:
            text = "I started " + ", ".join(names) + " in the background."
            await self._speak(text, user_text, modality)
            return
        # A BLOCKING call pauses the model until every call is answered (PROTOCOL.md 5.4).
        while any(i in self._calls for i in ids):
            await self._calls_changed.wait()
        answered = [self._results.pop(i) for i in ids if i in self._results]
        text = " ".join(
            m.tool_result_text(name, json.dumps(body, sort_keys=True)) for name, body in answered
        )
        await self._speak(text, user_text, modality)

    def _answer_tool(self, name: str, response: dict[str, Any]) -> Callable[[], Awaitable[None]]:
        text = m.tool_result_text(name, json.dumps(response, sort_keys=True))
        return lambda: self._speak(text, "", "TEXT")

    async def _speak(self, text: str, prompt: str, modality: str) -> None:
        """One model turn: content, ``generationComplete``, ``turnComplete`` + usage, handle."""
        s = self.settings
        if self.audio_out:
            transcribe = self.setup.output_audio_transcription is not None
            chunk_bytes = 2 * m.OUTPUT_RATE * s.audio_chunk_ms // 1000
            for word, pcm in m.synthesize_speech(text):
                for i in range(0, len(pcm), chunk_bytes):
                    # 3.x models bundle a word's transcript with its first audio chunk
                    # (PROTOCOL.md 4 and 9); 2.5 sends it on its own, after the audio.
                    bundled = transcribe and self.bundled and i == 0
                    await self._emit(wire(w.ServerMessage(server_content=w.ServerContent(
                        model_turn=w.Content(role="model", parts=[w.Part(inline_data=w.Blob(
                            mime_type=f"audio/pcm;rate={m.OUTPUT_RATE}",
                            data=pcm[i : i + chunk_bytes]))]),
                        output_transcription=w.Transcription(text=word) if bundled else None,
                    ))))
                    await trio.sleep(s.audio_chunk_delay)
                if transcribe and not self.bundled:
                    await self._emit(wire(w.ServerMessage(server_content=w.ServerContent(
                        output_transcription=w.Transcription(text=word)))))
        else:
            for chunk in m.split_chunks(text):
                await self._emit(wire(w.ServerMessage(server_content=w.ServerContent(
                    model_turn=w.Content(role="model", parts=[w.Part(text=chunk)])))))
                await trio.sleep(s.text_chunk_delay)
        # From here the turn is done: finish it even if barge-in arrives now.
        with trio.CancelScope(shield=True):
            self.session.history.append({"role": "model", "text": text})
            await self._emit(wire(w.ServerMessage(
                server_content=w.ServerContent(generation_complete=True))))
            await self._emit(self._turn_complete(prompt, text, modality))
            if self.setup.session_resumption is not None:
                await self._resumption_update()

    def _turn_complete(self, prompt: str, text: str, modality: str) -> dict[str, Any]:
        prompt_tokens = _tokens(prompt) if prompt else 0
        response_tokens = _tokens(text)
        self.session.prompt_tokens += prompt_tokens
        self.session.response_tokens += response_tokens
        details = [w.ModalityTokenCount(modality=modality, token_count=prompt_tokens)]
        out_details = [w.ModalityTokenCount(
            modality="AUDIO" if self.audio_out else "TEXT", token_count=response_tokens)]
        if self.backend == "vertex":
            usage = w.UsageMetadata(
                prompt_token_count=prompt_tokens, candidates_token_count=response_tokens,
                total_token_count=prompt_tokens + response_tokens,
                prompt_tokens_details=details, candidates_tokens_details=out_details)
        else:
            usage = w.UsageMetadata(
                prompt_token_count=prompt_tokens, response_token_count=response_tokens,
                total_token_count=prompt_tokens + response_tokens,
                prompt_tokens_details=details, response_tokens_details=out_details)
        return wire(w.ServerMessage(server_content=w.ServerContent(
            turn_complete=True, interaction_status=self._interaction_status()),
            usage_metadata=usage))

    def _interaction_status(self) -> str | None:
        """3.x: ``IN_PROGRESS`` while an asynchronous call is unanswered, else ``IDLE``."""
        if not self.bundled:
            return None
        return "IN_PROGRESS" if self._calls or self._idle_waiting else "IDLE"

    async def _send_interrupted(self) -> None:
        await self._emit(wire(w.ServerMessage(server_content=w.ServerContent(interrupted=True))))
        unanswered = list(self._calls)
        # The interrupted generation's tool results go with it: answers to its blocking
        # calls and non-blocking results waiting for the model to be idle. Left behind,
        # they would be spoken after a later turn and keep the session not resumable.
        self._results.clear()
        self._idle_waiting.clear()
        if unanswered:
            self._calls.clear()
            await self._emit(wire(w.ServerMessage(
                tool_call_cancellation=w.ToolCallCancellation(ids=unanswered))))
        await self._emit(wire(w.ServerMessage(server_content=w.ServerContent(
            turn_complete=True, interaction_status=self._interaction_status()))))
        if self.setup.session_resumption is not None:
            await self._resumption_update()

    async def _resumption_update(self) -> None:
        if self._calls or self._idle_waiting:
            # PROTOCOL.md 4: not resumable while the model executes tools (an unanswered
            # call, a result waiting for the model to be idle).
            await self._emit({"sessionResumptionUpdate": {"resumable": False}})
            return
        snap = self.session.snapshot()
        index = self._message_index()
        if self._waiting_turns:
            # A user turn is queued, unanswered: a handle that counted the message that
            # queued it as consumed would resume into a session that never answers it. The
            # handle names the state before that message instead (its pending text too), so
            # the turn is not consumed: a transparent client replays it from
            # lastConsumedClientMessageIndex, others send it again. (Not ``resumable: false``
            # until idle: a client sending faster than the model answers would then never
            # get a handle, and transparent resumption would never make progress.)
            index, before = self._waiting_turns[0]
            snap = dataclasses.replace(snap, pending_text=before.pending_text)
        handle = f"emu-{self.session.key}-{next(self._counters.handles)}"
        self._register_handle(handle, index, snap)
        update: dict[str, Any] = {"newHandle": handle, "resumable": True}
        resumption = self.setup.session_resumption
        if resumption is not None and resumption.transparent:
            # int64 travels as a string in proto3 JSON (PROTOCOL.md 4).
            update["lastConsumedClientMessageIndex"] = str(index)
        await self._emit({"sessionResumptionUpdate": update})
