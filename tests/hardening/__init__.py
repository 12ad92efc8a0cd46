"""Hardening: fuzzing, kill-and-resume, determinism."""
