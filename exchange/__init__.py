"""exch: a stock exchange you can download, start with one command and put online."""

__all__ = ["__version__"]

__version__ = "0.1.0"
