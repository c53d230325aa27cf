"""How-to: Vertex AI, against the local emulator.

In production, ``VertexAI(project=..., location=...)`` loads application-default
credentials (``gcloud auth application-default login`` or a service account) in a worker
thread and refreshes the access token before every connection (PROTOCOL.md 1). Here a fixed
token stands in for them, since the emulator accepts any bearer token on the Vertex path.
"""

from __future__ import annotations

import google.oauth2.credentials
import trio

from trio_gemini_live import LiveConfig, VertexAI, open_live_session
from trio_gemini_live import events as ev
from trio_gemini_live.testing import LiveEmulator

# Vertex model ids differ from the Gemini API's (PROTOCOL.md 9).
MODEL = "gemini-live-2.5-flash-native-audio"


async def main() -> None:
    emulator = LiveEmulator()
    auth = VertexAI(
        project="my-project",
        location="us-central1",
        # Omit credentials= to use application-default credentials.
        credentials=google.oauth2.credentials.Credentials(  # type: ignore[no-untyped-call]
            token="ya29.example-token"
        ),
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(emulator.serve)
        async with open_live_session(
            nursery,
            model=MODEL,
            auth=auth,
            endpoint=emulator.url,  # omit it to reach us-central1-aiplatform.googleapis.com
            config=LiveConfig(response_modalities=["TEXT"]),
        ) as session:
            await session.send_text("Hello from Vertex AI")
            async for event in session.events():
                match event:
                    case ev.TextChunk(text=text):
                        print(text, end="")
                    case ev.TurnComplete():
                        print()
                        break
        connection = emulator.connections[0]
        print("path:", connection.path)
        assert connection.setup is not None
        print("model:", connection.setup["model"])
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
