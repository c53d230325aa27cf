"""One speech-like generator (issue 14): ``audio.speechlike`` and its alias
``testing.speech_like_pcm``, and what the emulator's voice activity detection hears."""

from __future__ import annotations

import pytest

from trio_gemini_live import audio as A
from trio_gemini_live.testing import speech_like_pcm
from trio_gemini_live.testing._model import EnergyVad


def utterances(pcm: bytes, rate: int, silence_ms: int = 500) -> list[tuple[str, float]]:
    """The VAD transitions the emulator's detector makes on ``pcm``, with their times."""
    vad = EnergyVad(rate, silence_duration_ms=silence_ms)
    step = 2 * rate * EnergyVad.FRAME_MS // 1000
    out: list[tuple[str, float]] = []
    for i in range(0, len(pcm), step):
        out += [(change, i / 2 / rate) for change in vad.feed(pcm[i : i + step])]
    out += [(change, len(pcm) / 2 / rate) for change in vad.flush()]
    return out


def test_the_alias_is_speechlike_without_word_pauses() -> None:
    pcm = speech_like_pcm(1.3, 24000, lead_silence=0.2, trail_silence=0.4, seed=5)
    assert pcm == A.speechlike(1.3, 24000, 5, word_pauses=False, lead_silence=0.2,
                               trail_silence=0.4)
    assert len(pcm) == 2 * round(1.9 * 24000)
    assert pcm[: 2 * round(0.2 * 24000)] == bytes(2 * round(0.2 * 24000))
    assert pcm[-2 * round(0.4 * 24000):] == bytes(2 * round(0.4 * 24000))
    assert speech_like_pcm(1.0) == speech_like_pcm(1.0)  # deterministic


@pytest.mark.parametrize("rate", [16000, 24000, 48000])
@pytest.mark.parametrize("silence_ms", [300, 500])
@pytest.mark.parametrize("seconds", [0.3, 1.0, 6.0])
def test_speech_like_pcm_is_one_utterance(rate: int, silence_ms: int, seconds: float) -> None:
    pcm = speech_like_pcm(seconds, rate, lead_silence=0.1, trail_silence=0.8)
    changes = utterances(pcm, rate, silence_ms)
    assert [c for c, _ in changes] == ["start", "end"]
    start, end = changes[0][1], changes[1][1]
    assert 0.1 <= start < 0.2  # speech starts right after the lead silence
    # The end of speech is seen silence_ms after the last voiced frame, in the trail.
    assert 0.1 + seconds - 0.3 < end - silence_ms / 1000 <= 0.1 + seconds


def test_speechlike_with_word_pauses_is_several_utterances() -> None:
    pcm = A.speechlike(6.0, 16000, seed=3)
    starts = [c for c, _ in utterances(pcm, 16000) if c == "start"]
    assert len(starts) >= 2


def test_speechlike_rejects_negative_silences() -> None:
    with pytest.raises(ValueError):
        A.speechlike(1.0, lead_silence=-0.1)
    with pytest.raises(ValueError):
        speech_like_pcm(1.0, trail_silence=-1)
