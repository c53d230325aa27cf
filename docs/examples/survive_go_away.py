"""How-to: survive ``goAway`` with session resumption, against the local emulator.

A Live connection lives about ten minutes (PROTOCOL.md 6); the server announces the end
with ``goAway`` and closes the socket when ``timeLeft`` runs out. With
``session_resumption`` configured, the session keeps the latest resumable handle, reconnects
break-before-make and resumes: the conversation goes on, and input sent meanwhile is queued,
not lost. Here the emulator's connections live two seconds, with a one-second notice.
"""

from __future__ import annotations

import trio

from trio_gemini_live import ApiKey, LiveConfig, ReconnectPolicy, open_live_session
from trio_gemini_live import events as ev
from trio_gemini_live.testing import LiveEmulator

MODEL = "gemini-3.8-live"


async def main() -> None:
    emulator = LiveEmulator(connection_lifetime=2.0, go_away_notice=1.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(emulator.serve)
        async with open_live_session(
            nursery,
            model=MODEL,
            auth=ApiKey("test-api-key"),
            endpoint=emulator.url,
            # {} = "a new session; send me resumption handles" (PROTOCOL.md 3.1).
            config=LiveConfig(response_modalities=["TEXT"], session_resumption={}),
            reconnect=ReconnectPolicy(max_attempts=5),
        ) as session:
            await session.send_text("Remember the number 42.")
            async for event in session.events():
                match event:
                    case ev.TextChunk(text=text):
                        print(text, end="")
                    case ev.GoAway(time_left=time_left):
                        print(f"\n[goAway: {time_left:.1f} s left]")
                    case ev.Reconnecting(attempt=attempt, reason=reason):
                        print(f"[reconnecting, attempt {attempt}: {reason}]")
                    case ev.Reconnected(resumed=resumed):
                        print(f"[reconnected, resumed={resumed}]")
                        # The same conversation, on a new connection.
                        await session.send_text("Which number was it?")
                    case ev.TurnComplete() if len(emulator.connections) > 1:
                        print()
                        break
            print("connections used:", len(emulator.connections))
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
