"""The command line's recording commands (issue 15): ``record``, ``replay``, ``inspect``.

* ``record FILE [--audio MODE] chat|talk [OPTIONS]``: run ``chat`` or ``talk`` (with their
  own options, ``--emulator`` included) and record the session to ``FILE``.
* ``replay FILE [--host H] [--port P] [--pace fast|recorded]``: serve a recording until it
  was played to its end (exit 0) or the client diverged (exit 1, the divergence on stderr).
* ``inspect FILE [--frames]``: a readable timeline of a recording: connections and how they
  ended, what each side sent (runs of audio and of model output collapsed), turns with
  their latency (the end of the user's turn to the model's first output), and a summary.
  Users attach it to bug reports instead of logs: a recording holds no secret, and by
  default no audio.

``_cli.py`` registers them with :func:`add_parsers` and dispatches to :func:`run`.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import trio

from ._cli_common import port_number, positive_number
from .testing._recording import first_text

__all__ = ["COMMANDS", "add_parsers", "inspect_recording", "run"]

#: The commands this module adds.
COMMANDS = ("record", "replay", "inspect")
_SESSION_COMMANDS = ("chat", "talk")
_TEXT = 60  # characters of text shown per line


def add_parsers(commands: Any) -> None:
    """Add ``record``, ``replay`` and ``inspect`` to the command line's subparsers."""
    from .testing._recording import AUDIO_MODES

    record = commands.add_parser(
        "record", help="run chat or talk and record the session to a file",
        description="Run `chat` or `talk` (with their options) and record every frame of the "
                    "session to FILE, secrets redacted: replay it with `replay FILE`, read it "
                    "with `inspect FILE`.")
    record.add_argument("file", metavar="FILE", help="the recording (.jsonl) to write")
    record.add_argument("--audio", choices=AUDIO_MODES, default="truncate",
                        help="audio: its length only (truncate, the default), WAV files "
                             "beside the recording (wav), or the base64 as sent (keep)")
    record.add_argument("session", nargs=argparse.REMAINDER, metavar="chat|talk ...",
                        help="the session to record and its options (default: chat)")

    replay = commands.add_parser(
        "replay", help="serve a recording to a client",
        description="Serve FILE as Google's server did, checking that the client sends what "
                    "the recorded client sent. Exits 0 once the recording was played to its "
                    "end, 1 at the first divergence.")
    replay.add_argument("file", metavar="FILE", help="the recording (.jsonl)")
    replay.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    replay.add_argument("--port", type=port_number, default=0, help="port (0: a free port)")
    replay.add_argument("--pace", choices=("fast", "recorded"), default="recorded",
                        help="send the server's frames as recorded (the default) or at once")
    replay.add_argument("--wait-timeout", type=positive_number, default=30.0, metavar="SECONDS",
                        help="how long beyond the recorded gap to wait for the client (30)")

    inspect = commands.add_parser(
        "inspect", help="print a recording's timeline, turns and latencies",
        description="Print a readable timeline of FILE: connections and their ends, the "
                    "frames of both sides, turns with their latency, and a summary.")
    inspect.add_argument("file", metavar="FILE", help="the recording (.jsonl)")
    inspect.add_argument("--frames", action="store_true",
                         help="one line per frame (runs of audio and output not collapsed)")


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Run one of :data:`COMMANDS`; returns the exit status."""
    if args.command == "record":
        return _record(parser, args)
    if args.command == "replay":
        return _replay(args)
    return _inspect(args)


# --- record ---------------------------------------------------------------------------------


def _record(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from . import _cli
    from .testing._recorder import Recorder
    from .testing._recording import AUDIO_MODES

    session = list(args.session)
    # ``record FILE --audio wav talk ...``: argparse's REMAINDER took the option after FILE.
    while session and session[0].split("=", 1)[0] == "--audio":
        option = session.pop(0)
        if "=" in option:
            value = option.split("=", 1)[1]
        elif session:
            value = session.pop(0)
        else:
            parser.error("record: --audio needs a value")
        if value not in AUDIO_MODES:
            parser.error(f"record: argument --audio: invalid choice: {value!r} (choose from "
                         f"{', '.join(AUDIO_MODES)})")
        args.audio = value
    session = session or ["chat"]
    if session[0] not in _SESSION_COMMANDS:
        parser.error(f"record runs chat or talk, not {session[0]!r}")
    folder = os.path.dirname(os.path.abspath(args.file))
    if os.path.isdir(args.file) or not os.path.isdir(folder):
        parser.error(f"record {args.file}: not a file in an existing directory")
    recorder = Recorder(args.file, audio=args.audio)
    try:
        recorder.start()
    except OSError as exc:
        parser.error(f"record {args.file}: {exc}")
    # chat and talk open their session with these options added (trio-websocket, recorded).
    try:
        status = _cli.main(session, session_options={"connect": recorder.wrap_connect()})
    finally:
        recorder.close()
    print(f"Recorded {recorder.frames} frames to {args.file}"
          + (f" ({recorder.dropped} lost)" if recorder.dropped else ""), file=sys.stderr)
    return status


# --- replay ---------------------------------------------------------------------------------


def _replay(args: argparse.Namespace) -> int:
    from .testing._recording import Recording, RecordingError
    from .testing._replay import ReplayServer

    try:
        server = ReplayServer(Recording.load(args.file), pace=args.pace,
                              wait_timeout=args.wait_timeout, raise_on_divergence=False)
    except (OSError, RecordingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    # The divergence is printed below as the error; the library's log line would repeat it.
    logging.getLogger("trio_gemini_live.replay").setLevel(logging.ERROR)
    try:
        trio.run(_serve_replay, server, args)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    if server.divergence is not None:
        print(f"error: {server.divergence}", file=sys.stderr)
        return 1
    print("The recording was replayed to its end.", flush=True)
    return 0


async def _serve_replay(server: Any, args: argparse.Namespace) -> None:
    from .testing._replay import ReplayDivergence

    header = server.recording.header
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, args.host, args.port)
        print(f"Replaying {args.file} on {server.url} (model {header.model}, "
              f"{_plural(len(server.recording.connections), 'connection')}; any API key). "
              "Ctrl-C to stop.", flush=True)
        try:
            await server.wait_finished()
        except ReplayDivergence:
            pass  # reported by _replay
        nursery.cancel_scope.cancel()


# --- inspect --------------------------------------------------------------------------------


def _inspect(args: argparse.Namespace) -> int:
    from .testing._recording import Recording, RecordingError

    try:
        recording = Recording.load(args.file, allow_incomplete=True)
    except (OSError, RecordingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    inspect_recording(recording, sys.stdout, frames=args.frames)
    return 0


@dataclass
class _Turn:
    connection: int
    ended_by: str
    ended_at: float
    first_output: float | None = None
    complete: float | None = None
    output: str = ""
    audio: float = 0.0


def inspect_recording(recording: Any, out: TextIO, *, frames: bool = False) -> None:
    """Print ``recording``'s timeline, turns and summary to ``out`` (see the module)."""
    header = recording.header
    sent = len(recording.frames("client"))
    received = len(recording.frames("server"))
    print(f"recording {recording.path}", file=out)
    print(f"  format {header.version}, written by trio-gemini-live {header.library}, "
          f"started {header.created or '?'}", file=out)
    print(f"  model {header.model or '?'}, API {header.api_version or '?'} "
          f"({header.backend or '?'}), audio {header.audio}", file=out)
    state = "complete" if recording.complete else "INCOMPLETE (no trailer: truncated?)"
    lost = f"{recording.dropped} frames lost" if recording.dropped else "nothing lost"
    print(f"  {_plural(len(recording.connections), 'connection')}, {sent + received} frames "
          f"({sent} sent, {received} received), {state}, {lost}", file=out)
    print(file=out)
    print("    time  conn  from    what", file=out)
    gaps = dict(recording.gaps)
    for connection in recording.connections:
        _line(out, connection.opened_at, connection.index, "", f"open {connection.url}")
        for entry in _collapse(connection.timeline, frames):
            if isinstance(entry, _Run):
                _line(out, entry.t, connection.index, entry.sender, entry.describe())
            else:
                end = entry
                for line, lost_frames in gaps.items():
                    if line < end.line:
                        _line(out, end.t, connection.index, "", f"GAP: {lost_frames} frames "
                              "lost while recording")
                        gaps.pop(line)
                        break
                _line(out, end.t, connection.index, "", _describe_end(end))
        if connection.end is None:
            _line(out, connection.timeline[-1].t if connection.timeline else
                  connection.opened_at, connection.index, "", "(the recording stops here)")
    turns = _turns(recording)
    print(file=out)
    _print_turns(turns, out)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _line(out: TextIO, t: float, connection: int, sender: str, what: str) -> None:
    print(f"{t:8.3f}  #{connection:<3} {sender:<7} {what}", file=out)


def _describe_end(end: Any) -> str:
    if end.by == "network":
        return "end: dropped (no close frame, 1006)" + (f" {end.reason}" if end.reason else "")
    if end.by == "client":
        if end.code is None:
            return "end: the client left"
        return f"end: closed by the client ({end.code}{' ' + end.reason if end.reason else ''})"
    return f"end: closed by the server ({end.code} {end.reason})".rstrip()


#: serverContent fields that are the model's output (collapsed into one line per run).
_CONTENT = frozenset({"modelTurn", "outputTranscription", "inputTranscription"})


def _content_fields(frame: Any) -> set[str]:
    """The serverContent fields of a frame that holds nothing else, else an empty set."""
    message = frame.message
    if frame.sender != "server" or not isinstance(message, dict) or list(message) != [
            "serverContent"] or not isinstance(message["serverContent"], dict):
        return set()
    return set(message["serverContent"])


def _is_output(frame: Any) -> bool:
    """Whether a server frame is the model answering (content, transcript or a tool call)."""
    if frame.kind == "toolCall":
        return True
    content = (frame.message or {}).get("serverContent")
    return isinstance(content, dict) and bool({"modelTurn", "outputTranscription"} & set(
        content))


@dataclass
class _Run:
    """Consecutive frames shown as one line."""

    t: float
    sender: str
    kind: str
    frames: list[Any]

    def describe(self) -> str:
        if len(self.frames) == 1:
            return _describe(self.frames[0])
        if self.kind == "realtimeInput.audio":
            seconds = sum(_audio_seconds(f) for f in self.frames)
            return f"realtimeInput.audio x{len(self.frames)} ({seconds:.2f} s)"
        seconds = sum(_audio_seconds(f) for f in self.frames)
        text = "".join(_text(f, "outputTranscription") or _text(f, "modelTurn") or ""
                       for f in self.frames)
        heard = "".join(_text(f, "inputTranscription") or "" for f in self.frames)
        parts = [f"model output x{len(self.frames)}"]
        if seconds:
            parts.append(f"{seconds:.2f} s of audio")
        if heard:
            parts.append(f"heard {_quote(heard)}")
        if text:
            parts.append(_quote(text))
        return ": ".join(parts[:1]) + (": " + ", ".join(parts[1:]) if parts[1:] else "")


def _collapse(timeline: Iterable[Any], frames: bool) -> Iterable[Any]:
    run: _Run | None = None
    for entry in timeline:
        kind = getattr(entry, "kind", None)
        group = None
        if kind is not None and not frames:
            if entry.sender == "client" and kind == "realtimeInput.audio":
                group = kind
            elif (fields := _content_fields(entry)) and fields <= _CONTENT:
                group = "output"
        if run is not None and group is not None and run.kind == group and (
                run.sender == entry.sender):
            run.frames.append(entry)
            continue
        if run is not None:
            yield run
            run = None
        if group is not None:
            run = _Run(entry.t, entry.sender, group, [entry])
        elif kind is not None:
            yield _Run(entry.t, entry.sender, kind, [entry])
        else:
            yield entry
    if run is not None:
        yield run


def _describe(frame: Any) -> str:
    """One frame in a few words."""
    message = frame.message
    kind = frame.kind
    if message is None:
        raw = frame.raw if isinstance(frame.raw, str) else repr(frame.raw)
        return f"raw frame {_quote(raw or '')}"
    detail = ""
    if kind == "setup":
        setup = message["setup"]
        generation = setup.get("generationConfig") or {}
        tools = [d.get("name") for t in setup.get("tools") or []
                 for d in (t.get("functionDeclarations") or [])]
        bits = [str(setup.get("model", "?")),
                ",".join(generation.get("responseModalities") or []) or "default modality"]
        if tools:
            bits.append("tools " + ", ".join(str(t) for t in tools))
        resumption = setup.get("sessionResumption")
        if isinstance(resumption, dict):
            bits.append("resuming a handle" if resumption.get("handle") else "resumable")
        detail = "; ".join(bits)
    elif kind == "toolCall":
        calls = message["toolCall"].get("functionCalls") or []
        detail = ", ".join(f"{c.get('name')}({_short(c.get('args'))}) id {c.get('id')}"
                           for c in calls)
    elif kind == "toolResponse":
        responses = message["toolResponse"].get("functionResponses") or []
        detail = ", ".join(f"{r.get('name')} id {r.get('id')}: {_short(r.get('response'))}"
                           for r in responses)
    elif kind == "goAway":
        detail = f"time left {message['goAway'].get('timeLeft')}"
    elif kind == "sessionResumptionUpdate":
        update = message["sessionResumptionUpdate"]
        detail = (f"handle {update.get('newHandle')}" if update.get("newHandle")
                  else f"resumable {update.get('resumable')}")
    elif kind.startswith("voiceActivity"):
        detail = str((message.get("voiceActivity") or {}).get("type", ""))
    elif "usageMetadata" in message:
        detail = f"{message['usageMetadata'].get('totalTokenCount', '?')} tokens in all"
    seconds = _audio_seconds(frame)
    if seconds:
        detail = f"{seconds:.2f} s"
    text = first_text(message)
    if text and not detail:
        detail = _quote(text)
    return f"{kind} {detail}".rstrip() if detail else kind


def _short(value: Any) -> str:
    import msgspec

    text = msgspec.json.encode(value).decode()
    return text if len(text) <= _TEXT else text[:_TEXT - 3] + "..."


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return '"' + (text if len(text) <= _TEXT else text[:_TEXT - 3] + "...") + '"'


def _text(frame: Any, field: str) -> str | None:
    content = (frame.message or {}).get("serverContent") or {}
    value = content.get(field)
    if field == "modelTurn" and isinstance(value, dict):
        return "".join(p.get("text", "") for p in value.get("parts") or []
                       if isinstance(p, dict) and not p.get("thought")) or None
    return value.get("text") if isinstance(value, dict) else None


def _audio_seconds(frame: Any) -> float:
    from ._mime import INPUT_RATE, OUTPUT_RATE
    from .testing._recording import _blobs, blob_size

    if not isinstance(frame.message, dict):
        return 0.0
    seconds = 0.0
    for blob in _blobs(frame.message):
        mime = str(blob.get("mimeType", ""))
        if not mime.startswith("audio/"):
            continue
        rate = INPUT_RATE if frame.sender == "client" else OUTPUT_RATE
        for param in mime.split(";")[1:]:
            name, _, value = param.partition("=")
            if name.strip() == "rate" and value.strip().isdigit():
                rate = int(value)
        seconds += blob_size(blob) / (2 * rate)
    return seconds


# What ends a user's turn (the model may answer after it), and what is the model's output.
_USER_ENDS = {
    "clientContent": "clientContent",
    "realtimeInput.text": "realtimeInput.text",
    "realtimeInput.activityEnd": "activityEnd",
    "realtimeInput.audioStreamEnd": "audioStreamEnd",
    "toolResponse": "toolResponse",
}


def _turns(recording: Any) -> list[_Turn]:
    turns: list[_Turn] = []
    current: _Turn | None = None
    pending: tuple[str, float] | None = None
    last_client: tuple[str, float] | None = None
    for connection in recording.connections:
        for frame in connection.frames:
            message = frame.message or {}
            if frame.sender == "client":
                ends = _USER_ENDS.get(frame.kind)
                if frame.kind == "clientContent" and not (
                        message.get("clientContent") or {}).get("turnComplete"):
                    ends = None
                if ends is not None:
                    text = first_text(message)
                    pending = (f"{ends} {_quote(text)}" if text else ends, frame.t)
                last_client = (frame.kind, frame.t)
                continue
            activity = (message.get("voiceActivity") or {}).get("type")
            if activity == "ACTIVITY_END":
                pending = ("the end of speech (server VAD)", frame.t)
            if _is_output(frame) and current is None:
                if pending is not None:
                    start = pending
                elif last_client is not None:
                    start = (f"{last_client[0]} (the last client frame)", last_client[1])
                else:
                    start = ("?", frame.t)
                current = _Turn(connection.index, start[0], start[1], first_output=frame.t)
                turns.append(current)
                pending = None
            if current is not None:
                current.audio += _audio_seconds(frame)
                current.output += (_text(frame, "outputTranscription")
                                   or _text(frame, "modelTurn") or "")
                content = message.get("serverContent") or {}
                if content.get("turnComplete") or content.get("interrupted"):
                    current.complete = frame.t
                    current = None
                elif frame.kind == "toolCall":
                    current.output += _describe(frame)
                    current.complete = frame.t
                    current = None
        if current is not None and connection.end is not None:
            current = None  # the connection ended the turn
    return turns


def _print_turns(turns: Sequence[_Turn], out: TextIO) -> None:
    if not turns:
        print("no model turn", file=out)
        return
    print("turns (latency: the end of the user's turn to the model's first output)",
          file=out)
    print("   #  conn  user turn ended by                          at   latency  "
          "output", file=out)
    latencies = []
    for number, turn in enumerate(turns, start=1):
        latency = (turn.first_output - turn.ended_at) if turn.first_output is not None else None
        if latency is not None:
            latencies.append(latency)
        shown = f"{latency * 1000:6.0f} ms" if latency is not None else "      -  "
        output = []
        if turn.audio:
            output.append(f"{turn.audio:.2f} s of audio")
        if turn.output:
            output.append(_quote(turn.output))
        if turn.complete is None:
            output.append("(no turnComplete)")
        ended_by = turn.ended_by if len(turn.ended_by) <= 40 else turn.ended_by[:37] + "..."
        print(f"{number:4d}  #{turn.connection:<3} {ended_by:<40} {turn.ended_at:7.3f} "
              f"{shown}  {', '.join(output)}", file=out)
    if latencies:
        print(f"latency: min {min(latencies) * 1000:.0f} ms, median "
              f"{statistics.median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} "
              f"ms over {len(latencies)} turns", file=out)
