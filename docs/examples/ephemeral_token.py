"""How-to: ephemeral tokens, against the local emulator.

Your server mints a short-lived token with its API key (``POST /v1alpha/auth_tokens``) and
hands only the token to the less trusted client: a browser, a mobile app, a kiosk. The
client connects with the token to the ``BidiGenerateContentConstrained`` method of
``v1alpha`` (PROTOCOL.md 1); :class:`~trio_gemini_live.EphemeralToken` picks both for you.
"""

from __future__ import annotations

import trio

from trio_gemini_live import EphemeralToken, LiveConfig, open_live_session
from trio_gemini_live import events as ev
from trio_gemini_live.testing import LiveEmulator

MODEL = "gemini-3.8-live"
TOKEN = "auth_tokens/example-token"  # the "name" field of the minted token


async def main() -> None:
    emulator = LiveEmulator(ephemeral_tokens={TOKEN})
    async with trio.open_nursery() as nursery:
        await nursery.start(emulator.serve)
        async with open_live_session(
            nursery,
            model=MODEL,
            auth=EphemeralToken(TOKEN),  # sent as "Authorization: Token auth_tokens/..."
            api_version="v1alpha",  # the only version that accepts ephemeral tokens
            endpoint=emulator.url,
            config=LiveConfig(response_modalities=["TEXT"]),
        ) as session:
            await session.send_text("Hello with a token")
            async for event in session.events():
                match event:
                    case ev.TextChunk(text=text):
                        print(text, end="")
                    case ev.TurnComplete():
                        print()
                        break
        print("path:", emulator.connections[0].path)
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
