"""chartgate: the one safe door from an AI scribe into an EHR chart."""

__version__ = "0.1.0"
