"""Tests of trio-gemini-live (a package, so test modules share ``tests.strategies``)."""
