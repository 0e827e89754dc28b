"""WOWsino: player engagement and casino back office on one ledger."""

__version__ = "0.1.0"
