"""Core workflows a user runs: callable from Python, returning dataclasses.

The CLI (beatrun.cli) formats their results.
"""
