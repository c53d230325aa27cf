"""Hostile servers on 127.0.0.1 (issue 12). Run: ``pytest tests/hostile -q``.

``server.py`` is a hand-written WebSocket server that misbehaves on purpose; each test
module drives it with one attack per test and checks, through the public API only, the
exact error class and a bound (time, memory, connections):

* ``test_handshake.py``: wrong accept key, no Upgrade, HTTP refusals with bodies, 100 KB
  headers, slowloris, silence, close on accept, ``connect_timeout``.
* ``test_frames.py``: RSV bits, masks, reserved opcodes, 2^63 lengths, invalid close frames,
  invalid UTF-8 (finding 7), 20 MB messages, 2,000,000 fragments (finding 6), malformed
  JSON that must never end a session.
* ``test_decode.py``: 10,000 unpadded base64 fields in one frame (finding 1).
* ``test_reconnect.py``: goAway after every setup (finding 2), a turn lost on a drop before
  the first handle (finding 3).
* ``test_flow.py``: floods nobody reads and a server that stops reading (finding 4).
* ``test_secrets.py``: secrets echoed in refusal bodies and close reasons (finding 5).
* ``test_cancel.py``: cancellation against a server that stops answering (finding 8).

The figures behind the bounds: ``python benchmarks/bench_hostile.py``.
"""
