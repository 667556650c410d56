"""The two kinds of failure an actor can have: one worth retrying, one not."""


class PermanentError(Exception):
    """Retrying cannot help (bad input, a 4xx from Lithic): dead-letter at once."""


class TransientError(Exception):
    """A passing fault (network, 5xx, 429, lock timeout): retry with backoff."""


class AlreadyProcessed(Exception):
    """Another delivery of the same message committed its effects first."""
