"""Hostile servers on 127.0.0.1 (issue 12): ``pytest tests/hostile -q``."""
