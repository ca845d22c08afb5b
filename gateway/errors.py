"""The gateway's exception hierarchy: temporary and permanent failures are different types."""


class GatewayError(Exception):
    """Root of every error the gateway raises on purpose."""


class TemporaryError(GatewayError):
    """Try again later: a peer gets 4xx/451 or exit 75, never a bounce."""


class PermanentError(GatewayError):
    """Retrying will not help: a peer gets 5xx."""


class ConfigError(GatewayError):
    """The configuration is invalid; ``problems`` lists each one with its key and the fix."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class StorageError(TemporaryError):
    """The database could not store or commit; the peer must retry."""


class UsageError(GatewayError):
    """What the user typed cannot be used: the message says what and how to write it (exit 2)."""
