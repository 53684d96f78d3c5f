"""Shared helpers for tests: real components started and stopped by fixtures."""
