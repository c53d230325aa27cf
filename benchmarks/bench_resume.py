"""Resumption cost: from ``goAway`` to the first message answered on the new connection.

``python benchmarks/bench_resume.py [--quick]``

A :class:`~trio_gemini_live.testing.LiveEmulator` on loopback ``ws://`` and one session with
``session_resumption`` (PROTOCOL.md 6). Each round: a text turn (so the server has issued a
fresh handle), then the emulator sends ``goAway``; the session reconnects at once (no turn
is open) and the consumer sends a text input on the :class:`Reconnected` event. Measured with
``time.perf_counter`` from the emulator emitting ``goAway``:

* ``reconnected``: until the :class:`Reconnected` event (resumed with the handle);
* ``first answer``: until the first event answering that text, which proves the emulator
  accepted it on the new connection (an upper bound on "accepted": it includes one round
  trip and the emulator's reply).

Medians and p90 over the rounds. Writes ``results/resume.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import time

import trio
from _common import MODEL, median, write

from trio_gemini_live import ApiKey, LiveConfig, open_live_session
from trio_gemini_live import events as ev
from trio_gemini_live.testing import Fault, LiveEmulator


async def measure(rounds: int) -> dict[str, list[float]]:
    """Run the rounds; returns the samples in milliseconds."""
    reconnected: list[float] = []
    answered: list[float] = []
    emulator = LiveEmulator()
    with trio.fail_after(30 + rounds * 5):
        async with trio.open_nursery() as nursery:
            await nursery.start(emulator.serve)
            async with open_live_session(
                nursery, model=MODEL, auth=ApiKey("test-api-key"), endpoint=emulator.url,
                keepalive_interval=None,
                config=LiveConfig(response_modalities=["TEXT"], session_resumption={}),
            ) as session:
                stream = session.events()
                for _ in range(rounds):
                    await session.send_realtime_input(text="Hello")
                    async for event in stream:
                        if isinstance(event, ev.SessionResumptionUpdate) and event.resumable \
                                and event.handle:
                            break
                    start = time.perf_counter()
                    await emulator.inject(Fault.go_away(time_left=10.0))
                    got_reconnected = False
                    async for event in stream:
                        if isinstance(event, ev.Reconnected):
                            assert event.resumed, "the session was not resumed"
                            reconnected.append((time.perf_counter() - start) * 1e3)
                            got_reconnected = True
                            # Sent only now: sent earlier, it could go out (and be answered)
                            # on the old connection, which is still open until the reconnect.
                            await session.send_realtime_input(text="after goAway")
                        elif got_reconnected and isinstance(event, ev.TextChunk):
                            answered.append((time.perf_counter() - start) * 1e3)
                            break
                    async for event in stream:  # the rest of that answer
                        if isinstance(event, ev.TurnComplete):
                            break
            nursery.cancel_scope.cancel()
    return {"reconnected_ms": reconnected, "first_answer_ms": answered}


def main() -> None:
    """Measure, write the results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args()
    rounds = 5 if args.quick else 20
    samples = trio.run(measure, rounds)

    def p90(values: list[float]) -> float:
        return sorted(values)[int(0.9 * (len(values) - 1))]

    figures = {key: {"median": median(v), "p90": p90(v)} for key, v in samples.items()}
    table = "\n".join([
        f"Resumption after goAway, loopback ws:// emulator, {rounds} rounds.",
        "",
        "| from goAway to | median (ms) | p90 (ms) |",
        "|---|---:|---:|",
        f"| Reconnected event (resumed) | {figures['reconnected_ms']['median']:.1f} | "
        f"{figures['reconnected_ms']['p90']:.1f} |",
        f"| first answer to a message sent on reconnection | "
        f"{figures['first_answer_ms']['median']:.1f} | {figures['first_answer_ms']['p90']:.1f} |",
    ])
    write("resume", {"rounds": rounds, "samples": samples, "figures": figures}, table)


if __name__ == "__main__":
    main()
