"""The conversation record: one entry per completed turn, bounded (issue 14). Sans-IO.

The session feeds a :class:`ConversationRecord` what it sends and what it receives; the
record keeps the conversation as a bounded list of :class:`Turn` entries that applications
read (a call log, a summary, a support ticket) and that the session can turn into the
initial history of a fresh connection (:meth:`ConversationRecord.as_history`), so that a
call survives the loss of its resumption handle with its context (issue 14; pipecat
#4355 and #4328 are what happens without it).

The rules, in one place:

* User turns come from text the user sent (:meth:`~ConversationRecord.user_text`,
  :meth:`~ConversationRecord.client_content`) and from input transcription fragments. Model
  turns come from the model's text (``TextChunk``, thoughts excluded) and output
  transcription fragments. Fragments are joined as they come (they carry their own
  spacing, PROTOCOL.md 4); a model turn with both text and a transcript keeps the text.
* A model turn opens at its first output (text, transcript or a tool call) and completes
  at ``TurnComplete``. ``Interrupted`` marks it cut; so does a lost connection, which also
  completes it.
* Input transcription has no guaranteed order relative to the model's output (PROTOCOL.md
  4): a fragment that arrives while the model answers a turn the record has no user entry
  for belongs *before* that answer, and is placed there. Other fragments (barge-in: the
  user speaks over the model) start a user turn after it. A spoken user turn completes
  when its transcription says ``finished``, or when the model turn that follows it
  completes (many servers never send ``finished``).
* Tool calls are part of the model turn that made them; the results the client sends are
  an entry of their own (role ``"tool"``), and the model's words after them a new model
  entry, so that the entries read in the order things happened.
* Audio carries no text: the session never needs to feed ``AudioChunk`` events (the hot
  path costs nothing), and :meth:`~ConversationRecord.event` ignores them.
* Bounded: the last ``max_turns`` completed entries, each at most ``max_turn_chars``
  characters of text.

Timestamps are the caller's clock (``trio.current_time()`` in the session), passed in: no
I/O and no event loop here.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final, Literal

import msgspec

from . import events as ev
from ._wire import Content, FunctionCall, FunctionResponse, Part

__all__ = ["ConversationRecord", "Turn", "history_from_turns"]

#: Default number of completed entries kept.
DEFAULT_MAX_TURNS: Final = 100
#: Default cap on one entry's text (a very long monologue keeps its beginning).
DEFAULT_MAX_TURN_CHARS: Final = 20_000
#: Default size budget of :func:`history_from_turns`: about 8,000 tokens of text.
DEFAULT_HISTORY_CHARS: Final = 32_000
#: Default cap on one rendered tool call with its result, in :func:`history_from_turns`.
DEFAULT_TOOL_CHARS: Final = 500
_ELLIPSIS: Final = "…"

Role = Literal["user", "model", "tool"]


class Turn(msgspec.Struct, frozen=True, kw_only=True):
    """One completed entry of the conversation (see :class:`ConversationRecord`).

    Attributes:
        role: ``"user"`` (text sent, or speech as transcribed), ``"model"`` (its text or
            the transcript of its speech, with the tool calls it made) or ``"tool"`` (the
            results the client sent for tool calls).
        text: The turn's text, fragments joined; empty when nothing was transcribed (e.g.
            the model spoke and ``output_audio_transcription`` is off).
        cut: The turn did not end normally: the model was interrupted (barge-in), or the
            connection was lost during it.
        tool_calls: The calls the model made in this turn (``"model"`` entries).
        tool_results: The responses sent (``"tool"`` entries).
        started_at: When the turn's first piece arrived or was sent (the session's clock,
            ``trio.current_time()``).
        ended_at: When the turn completed.
    """

    role: Role
    text: str = ""
    cut: bool = False
    tool_calls: tuple[FunctionCall, ...] = ()
    tool_results: tuple[FunctionResponse, ...] = ()
    started_at: float
    ended_at: float


class _Open:
    """A turn being built."""

    __slots__ = (
        "calls", "chars", "cut", "role", "started_at", "text", "transcript", "user_before",
    )

    def __init__(self, role: Role, now: float) -> None:
        self.role: Role = role
        self.text: list[str] = []
        self.transcript: list[str] = []
        self.chars = 0
        self.cut = False
        self.calls: list[FunctionCall] = []
        self.started_at = now
        # Model turns: whether a user entry precedes this answer (input transcription
        # arriving later is placed before an answer that has none).
        self.user_before = False

    def turn(self, now: float) -> Turn:
        parts = self.text or self.transcript
        return Turn(
            role=self.role,
            text="".join(parts),
            cut=self.cut,
            tool_calls=tuple(self.calls),
            started_at=self.started_at,
            ended_at=now,
        )


class ConversationRecord:
    """The conversation so far, bounded: what the session shows as its conversation.

    Feed it from the session (every method takes ``now``, the session's clock):

    * :meth:`user_text` for text the user sent (``send_text``, ``realtime_input.text``);
      :meth:`client_content` for ``send_client_content`` turns (initial history included);
    * :meth:`event` for every event the session emits (``AudioChunk`` events may be left
      out: they carry no text);
    * :meth:`tool_results` for tool responses sent (by the application or by registered
      tools);
    * :meth:`connection_lost` when a connection ends (before any reconnection).

    Read it with :attr:`turns` (an immutable snapshot) and :meth:`as_history`.

    Args:
        max_turns: How many completed entries to keep (the oldest go first); ``0`` turns
            the record off (every method returns at once).
        max_turn_chars: The most text one entry keeps; beyond it the rest of the turn's
            fragments are dropped and the text ends with ``…``.

    Raises:
        ValueError: a negative ``max_turns`` or a ``max_turn_chars`` below 1.
    """

    def __init__(self, max_turns: int = DEFAULT_MAX_TURNS, *,
                 max_turn_chars: int = DEFAULT_MAX_TURN_CHARS) -> None:
        if isinstance(max_turns, bool) or not isinstance(max_turns, int) or max_turns < 0:
            raise ValueError(f"max_turns must be a non-negative integer, got {max_turns!r}")
        if (isinstance(max_turn_chars, bool) or not isinstance(max_turn_chars, int)
                or max_turn_chars < 1):
            raise ValueError(f"max_turn_chars must be a positive integer, got {max_turn_chars!r}")
        self.max_turns = max_turns
        self.max_turn_chars = max_turn_chars
        # Completed turns and open builders, in conversation order. Open builders sit near
        # the end (every model TurnComplete closes the user turns before it).
        self._slots: deque[Turn | _Open] = deque()
        self._completed = 0
        self._model: _Open | None = None
        self._speech: _Open | None = None  # the user's spoken turn being transcribed
        self._typed: _Open | None = None  # user text sent with turn_complete=False
        self._user_since_model = False
        self._snapshot: tuple[Turn, ...] | None = ()

    # --- reading --------------------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        """Whether the record keeps anything (``max_turns > 0``)."""
        return self.max_turns > 0

    @property
    def turns(self) -> tuple[Turn, ...]:
        """The completed entries, oldest first (an immutable snapshot).

        Turns still in progress (the model speaking, the user's transcription arriving)
        appear once they complete.
        """
        if self._snapshot is None:
            self._snapshot = tuple(s for s in self._slots if isinstance(s, Turn))
        return self._snapshot

    def as_history(self, *, tools: Literal["text", "drop"] = "text",
                   max_chars: int = DEFAULT_HISTORY_CHARS) -> list[Content]:
        """The conversation as initial history for a fresh connection.

        See :func:`history_from_turns` (this is it, applied to :attr:`turns`).
        """
        return history_from_turns(self.turns, tools=tools, max_chars=max_chars)

    # --- feeding --------------------------------------------------------------------------

    def user_text(self, text: str, now: float, *, turn_complete: bool = True) -> None:
        """The user sent ``text`` (``send_text``, ``realtime_input.text``, a client turn).

        ``turn_complete=False`` (``send_client_content(..., turn_complete=False)``) keeps the
        turn open: later text joins it, and it completes with ``turn_complete=True`` or when
        the model starts answering.
        """
        if not self.max_turns:
            return
        typed = self._typed
        if typed is None:
            typed = self._typed = self._open_user(now)
        elif text and typed.text:
            # Separate sends are separate pieces of text: a line break between them.
            self._append(typed, typed.text, "\n")
        self._append(typed, typed.text, text)
        if turn_complete:
            self._close(typed, now)
            self._typed = None

    def client_content(self, turns: Iterable[Content], now: float, *,
                       turn_complete: bool = True) -> None:
        """``clientContent`` turns the client sent (PROTOCOL.md 3.2), initial history too.

        User-role text joins the user's turn (as :meth:`user_text`); a ``model``-role turn
        (history the client supplies) is recorded as a completed model entry. Non-text parts
        (inline media) are not recorded.
        """
        if not self.max_turns:
            return
        for content in turns:
            text = "".join(p.text for p in content.parts or () if p.text and not p.thought)
            if content.role == "model":
                if self._typed is not None:
                    self._close(self._typed, now)
                    self._typed = None
                entry = _Open("model", now)
                self._append(entry, entry.text, text)
                self._slots.append(entry)
                self._close(entry, now)
                self._user_since_model = False
            elif text:
                self.user_text(text, now, turn_complete=False)
        if turn_complete and self._typed is not None:
            self._close(self._typed, now)
            self._typed = None

    def event(self, event: ev.Event, now: float) -> None:
        """An event the session emitted (any type; those without text are ignored)."""
        if self.max_turns:
            handler = _DISPATCH.get(type(event))
            if handler is not None:
                handler(self, event, now)

    def tool_results(self, responses: Sequence[FunctionResponse], now: float) -> None:
        """Tool responses the client sent (``send_tool_response`` or registered tools)."""
        if not self.max_turns or not responses:
            return
        model = self._model
        if model is not None:
            # The model's words after the results are a new entry (module docstring).
            self._close(model, now)
            self._model = None
        entry = Turn(role="tool", tool_results=tuple(responses), started_at=now, ended_at=now)
        self._slots.append(entry)
        # The model's next words answer these results: late input transcription is not
        # theirs to precede.
        self._user_since_model = True
        self._completed += 1
        self._changed()

    def connection_lost(self, now: float) -> None:
        """The connection ended: what was in progress is complete, and cut.

        A user turn the model had started answering was complete; one still open with no
        answer is marked cut (the server may not have heard all of it).
        """
        if not self.max_turns:
            return
        model = self._model
        for builder in [s for s in self._slots if isinstance(s, _Open)]:
            answered = model is not None and self._before(builder, model)
            if builder is model or (builder.role == "user" and not answered):
                builder.cut = True
            self._close(builder, now)
        self._model = self._speech = self._typed = None
        self._user_since_model = False

    def clear(self) -> None:
        """Forget everything (e.g. for a new conversation on the same session)."""
        self._slots.clear()
        self._completed = 0
        self._model = self._speech = self._typed = None
        self._user_since_model = False
        self._snapshot = ()

    # --- events ---------------------------------------------------------------------------

    def _on_text(self, event: Any, now: float) -> None:
        if event.thought or not event.text:
            return
        model = self._open_model(now)
        self._append(model, model.text, event.text)

    def _on_output_transcription(self, event: Any, now: float) -> None:
        if not event.text:
            return
        model = self._open_model(now)
        self._append(model, model.transcript, event.text)

    def _on_input_transcription(self, event: Any, now: float) -> None:
        speech = self._speech
        if speech is None:
            if not event.text:
                return
            model = self._model
            if model is not None and not model.user_before and not model.cut:
                # The transcription of the words this answer answers, arriving late.
                speech = _Open("user", now)
                speech.started_at = model.started_at
                self._slots.insert(self._slots.index(model), speech)
                model.user_before = True
            else:
                speech = self._open_user(now)
            self._speech = speech
        self._append(speech, speech.text, event.text)
        if event.finished:
            self._close(speech, now)
            self._speech = None

    def _on_interrupted(self, event: Any, now: float) -> None:
        if self._model is not None:
            self._model.cut = True

    def _on_turn_complete(self, event: Any, now: float) -> None:
        model = self._model
        if model is None:
            return
        # User turns before this answer are complete now (late fragments included).
        for builder in [s for s in self._slots if isinstance(s, _Open)]:
            if builder is model:
                break
            self._close(builder, now)
            if builder is self._speech:
                self._speech = None
            elif builder is self._typed:
                self._typed = None
        self._close(model, now)
        self._model = None

    def _on_tool_call(self, event: Any, now: float) -> None:
        model = self._open_model(now)
        model.calls.extend(event.calls)

    # --- builders -------------------------------------------------------------------------

    def _open_user(self, now: float) -> _Open:
        builder = _Open("user", now)
        self._slots.append(builder)
        self._user_since_model = True
        return builder

    def _open_model(self, now: float) -> _Open:
        model = self._model
        if model is None:
            typed = self._typed
            if typed is not None:
                # Realtime text (or content) the model answers: that turn is over.
                self._close(typed, now)
                self._typed = None
            model = self._model = _Open("model", now)
            model.user_before = self._user_since_model
            self._user_since_model = False
            self._slots.append(model)
        return model

    def _append(self, builder: _Open, parts: list[str], text: str) -> None:
        room = self.max_turn_chars - builder.chars
        if room <= 0 or not text:
            return
        if len(text) > room:
            text = text[: max(0, room - 1)] + _ELLIPSIS
        builder.chars += len(text)
        parts.append(text)

    def _before(self, first: _Open, second: _Open) -> bool:
        for slot in self._slots:
            if slot is first:
                return True
            if slot is second:
                return False
        return False  # pragma: no cover - both are always in the slots

    def _close(self, builder: _Open, now: float) -> None:
        """Replace an open builder by its completed :class:`Turn`, then trim."""
        index = self._slots.index(builder)
        self._slots[index] = builder.turn(now)
        self._completed += 1
        self._changed()

    def _changed(self) -> None:
        self._snapshot = None
        while self._completed > self.max_turns:
            for i, slot in enumerate(self._slots):
                if isinstance(slot, Turn):
                    del self._slots[i]
                    self._completed -= 1
                    break


#: Event type -> ConversationRecord's handler: one table for every record (a per-instance
#: dict of bound methods was seven objects per session for the garbage collector to scan
#: on every full collection; issue 11).
_DISPATCH: Final[dict[type, Callable[[ConversationRecord, Any, float], None]]] = {
    ev.TextChunk: ConversationRecord._on_text,
    ev.OutputTranscription: ConversationRecord._on_output_transcription,
    ev.InputTranscription: ConversationRecord._on_input_transcription,
    ev.Interrupted: ConversationRecord._on_interrupted,
    ev.TurnComplete: ConversationRecord._on_turn_complete,
    ev.ToolCall: ConversationRecord._on_tool_call,
}


# --- history -------------------------------------------------------------------------------


def _json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _render_call(call: FunctionCall, result: FunctionResponse | None, limit: int) -> str:
    args = _json(call.args or {})
    outcome = _json(result.response or {}) if result is not None else "no result"
    text = f"[tool call {call.name}({args}) -> {outcome}]"
    if len(text) > limit:
        text = text[: max(0, limit - 2)] + _ELLIPSIS + "]"
    return text


def history_from_turns(
    turns: Iterable[Turn],
    *,
    tools: Literal["text", "drop"] = "text",
    max_chars: int = DEFAULT_HISTORY_CHARS,
    max_tool_chars: int = DEFAULT_TOOL_CHARS,
) -> list[Content]:
    """Conversation entries as ``clientContent`` turns: the initial history of a new session.

    What a fresh (non-resumed) connection is seeded with so that the model remembers the
    call (issue 14), and what an application passes as ``history=`` to continue a saved
    conversation. The rules, each forced by the server:

    * Text parts only, roles ``user`` and ``model``: function call and response parts in
      ``clientContent`` close the session with 1007 (PROTOCOL.md 3.2). With ``tools="text"``
      (default) each tool call is rendered into the model turn that made it as one line,
      ``[tool call NAME({args}) -> {response}]`` (at most ``max_tool_chars`` characters), so
      that facts the model learnt from a tool and did not say aloud (a booking number)
      survive. The bracketed form reads as a note, not as a call the model could imitate as
      a real one; ``tools="drop"`` leaves tool calls out altogether (the model's spoken
      words usually carry what mattered).
    * Turns with no text are skipped (a model turn spoken without output transcription,
      a tool entry); consecutive turns of one role are joined into one.
    * Bounded: the most recent turns whose text fits in ``max_chars`` characters (a single
      longer turn keeps its end). Leading model turns are dropped so that the history
      starts with the user, as the Gemini API expects of a conversation.
    * A cut model turn is kept as it was transcribed (the model learns what it was saying
      when it was interrupted).

    Args:
        turns: Entries (:attr:`ConversationRecord.turns`, or saved ones).
        tools: ``"text"`` or ``"drop"`` (above).
        max_chars: The text budget (about 4 characters per token).
        max_tool_chars: The most one rendered tool call takes.

    Returns:
        :class:`~trio_gemini_live.Content` turns, oldest first; empty when nothing fits.

    Raises:
        ValueError: an unknown ``tools`` mode or a budget below 1.
    """
    if tools not in ("text", "drop"):
        raise ValueError(f"tools must be 'text' or 'drop', got {tools!r}")
    if max_chars < 1 or max_tool_chars < 1:
        raise ValueError("max_chars and max_tool_chars must be at least 1")
    turns = list(turns)
    results: dict[str, FunctionResponse] = {}
    if tools == "text":
        for turn in turns:
            for response in turn.tool_results:
                if response.id is not None:
                    results[response.id] = response
    merged: list[tuple[str, str]] = []
    for turn in turns:
        if turn.role == "tool":
            continue
        lines = [turn.text] if turn.text else []
        if tools == "text":
            lines.extend(
                _render_call(call, results.get(call.id or ""), max_tool_chars)
                for call in turn.tool_calls
            )
        text = "\n".join(lines)
        if not text.strip():
            continue
        if merged and merged[-1][0] == turn.role:
            merged[-1] = (turn.role, merged[-1][1] + "\n" + text)
        else:
            merged.append((turn.role, text))
    kept: list[tuple[str, str]] = []
    budget = max_chars
    for role, text in reversed(merged):
        if len(text) > budget:
            if not kept:
                kept.append((role, _ELLIPSIS + text[len(text) - budget + 1 :]))
            break
        kept.append((role, text))
        budget -= len(text)
    kept.reverse()
    while kept and kept[0][0] == "model":
        del kept[0]
    return [Content(role=role, parts=[Part(text=text)]) for role, text in kept]
