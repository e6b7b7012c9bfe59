"""The error vocabulary. Every expected failure is an XacctError with an exit code and a hint.

The CLI turns these into one short paragraph (no traceback unless --debug):
exit 2 for usage / bad input (nothing changed), exit 1 for AWS-side failures (state kept, re-run resumes).
"""
from __future__ import annotations

from botocore.exceptions import ClientError

USAGE = 2
AWS_FAILURE = 1
INTERRUPTED = 130  # 128 + SIGINT
TERMINATED = 143  # 128 + SIGTERM: a CI cancellation, `kill`, a container stop
INTERNAL = 70  # EX_SOFTWARE (sysexits.h): a bug in xacct, never reported as an AWS failure


class XacctError(Exception):
    exit_code = AWS_FAILURE

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} {self.hint}"


class UsageError(XacctError):
    """Bad input: a flag, a profile, an id that does not fit. Nothing was changed."""

    exit_code = USAGE


class StateError(UsageError):
    """The state file cannot be read or does not belong to these accounts. It is left untouched."""


class LockedError(UsageError):
    """Another xacct process holds the deployment's lock."""


class AwsError(XacctError):
    """An AWS call failed. Whatever was created before it is recorded in the state file."""

    exit_code = AWS_FAILURE


class StepFailed(AwsError):
    def __init__(self, step_number: int, step_title: str, method: str, cause: BaseException, hint: str | None = None):
        self.step_number = step_number
        self.step_title = step_title
        self.method = method
        self.cause = cause
        detail = error_message(cause)
        super().__init__(
            f"Step {step_number} ({step_title}) failed: {method} returned {detail}",
            hint or explain(cause),
        )


class WaitTimeout(AwsError):
    pass


class Declined(XacctError):
    """The operator answered no to the plan. Nothing was changed; exit 1 like any run that did not do its job
    (2 is reserved for bad usage)."""

    exit_code = AWS_FAILURE


class Interrupted(XacctError):
    exit_code = INTERRUPTED


class Terminated(Interrupted):
    """SIGTERM, handled like Ctrl-C (what was made is recorded, the run resumes), with the shell's exit code 143."""

    exit_code = TERMINATED


class TerminationSignal(BaseException):
    """Raised by the SIGTERM handler outside the executor, the way Python raises KeyboardInterrupt for SIGINT."""


def interruption(signum: int | None, message: str, hint: str | None = None) -> Interrupted:
    """The Interrupted error for the signal that stopped the run (SIGTERM: exit 143; else 130)."""
    import signal

    return (Terminated if signum == signal.SIGTERM else Interrupted)(message, hint)


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def error_message(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code', 'Error')}: {err.get('Message', '')}".rstrip(": ")
    return f"{type(exc).__name__}: {exc}"


# One table of what AWS error codes mean for an operator and what to do about them.
_HINTS = {
    "AccessDenied": "The profile lacks a permission for this call; docs/permissions.md lists what each profile needs.",
    "AccessDeniedException": "The profile lacks a permission for this call; docs/permissions.md lists what each profile needs.",
    "UnauthorizedOperation": "The profile lacks a permission for this call; docs/permissions.md lists what each profile needs.",
    "ExpiredToken": "The profile's credentials expired; refresh them (e.g. `aws sso login --profile ...`) and re-run.",
    "ExpiredTokenException": "The profile's credentials expired; refresh them (e.g. `aws sso login --profile ...`) and re-run.",
    "InvalidClientTokenId": "The profile's access key is not valid in this account; check the profile's credentials.",
    "LimitExceeded": "An account quota was reached; raise it in Service Quotas or remove unused resources, then re-run.",
    "LimitExceededException": "An account quota was reached; raise it in Service Quotas or remove unused resources, then re-run.",
    "InvalidParameter": "AWS rejected a parameter; re-run with --debug to see the call.",
}


def explain(exc: BaseException) -> str:
    hint = _HINTS.get(error_code(exc))
    base = "Re-run the same command to resume: everything created so far is recorded in the state file."
    return f"{hint} {base}" if hint else base
