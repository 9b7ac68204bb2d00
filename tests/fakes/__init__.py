"""Fake upstream model servers that speak real HTTP, for provider tests."""
