"""The bad-input corpus: malformed inputs for every system, written by the tests, run through the CLI."""
