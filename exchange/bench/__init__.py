"""Benchmarks behind ``exch bench``: each returns one JSON-ready dict."""
