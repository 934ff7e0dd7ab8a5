"""Rendering results as text, JSON, Markdown and SARIF; only `cli.py` prints them."""
