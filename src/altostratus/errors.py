"""The typed errors of Altostratus, each carrying its CloudStack error code.

Services raise these; the API layer renders them. Nothing else reaches a client::

    CloudError (530)
    ├── AuthenticationError (401)
    ├── MethodNotAllowed (405)
    ├── Throttled (429)
    ├── InvalidParameter (431)
    │   └── MissingParameter (431)
    ├── UnknownCommand (432)
    ├── PermissionDenied (531)
    │   └── LoginFailed (531)
    ├── ResourceLimitExceeded (532)
    ├── InsufficientCapacity (533)
    ├── ResourceUnavailable (534)
    ├── ResourceAllocationError (535)
    └── ResourceInUse (536)
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "CloudError",
    "InsufficientCapacity",
    "InvalidParameter",
    "LoginFailed",
    "MethodNotAllowed",
    "MissingParameter",
    "PermissionDenied",
    "ResourceAllocationError",
    "ResourceInUse",
    "ResourceLimitExceeded",
    "ResourceUnavailable",
    "Throttled",
    "UnknownCommand",
    "invalid",
]


class CloudError(Exception):
    """An error a client sees; ``code`` is the HTTP status and CloudStack ``errorcode``."""

    code = 530
    #: CloudStack's ``cserrorcode`` (the Java exception class's code).
    cs_code = 4250
    #: Commit the transaction's changes before answering with this error.
    keeps_changes = False

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class AuthenticationError(CloudError):
    code = 401
    cs_code = 9999


class MethodNotAllowed(CloudError):
    code = 405
    cs_code = 9999


class Throttled(CloudError):
    """Too many requests; ``retry_after`` is the seconds the answer's ``Retry-After`` says."""

    code = 429
    cs_code = 9999

    def __init__(self, text: str, *, retry_after: int) -> None:
        super().__init__(text)
        self.retry_after = retry_after


class InvalidParameter(CloudError):
    code = 431
    cs_code = 4350


def invalid(parameter: str, reason: str, *, value: object = None) -> InvalidParameter:
    """The 431 for a bad ``parameter``, in CloudStack's shape.

    ``Invalid parameter {parameter} value={value}: {reason}``, or without ``value=``
    when no value is given (``None``); ``value`` is formatted as an f-string would.
    """
    shown = "" if value is None else f" value={value}"
    return InvalidParameter(f"Invalid parameter {parameter}{shown}: {reason}")


class MissingParameter(InvalidParameter):
    def __init__(self, command: str, parameter: str) -> None:
        super().__init__(
            f"Unable to execute API command {command.lower()} due to missing parameter {parameter}"
        )
        self.parameter = parameter


class UnknownCommand(CloudError):
    code = 432
    cs_code = 9999


class PermissionDenied(CloudError):
    code = 531
    cs_code = 4365


class LoginFailed(PermissionDenied):
    """A wrong password: answered 531, but the failed-attempt count must be kept."""

    keeps_changes = True


class ResourceLimitExceeded(CloudError):
    code = 532
    cs_code = 4370


class InsufficientCapacity(CloudError):
    code = 533
    cs_code = 4315


class ResourceUnavailable(CloudError):
    code = 534
    cs_code = 4325


class ResourceAllocationError(CloudError):
    code = 535
    cs_code = 4320


class ResourceInUse(CloudError):
    code = 536
    cs_code = 4330
