"""User-facing errors. Every error the CLI reports is one of these: a message naming file, line,
node and field where they are known, and an exit code (2 for bad input)."""

from __future__ import annotations

import dataclasses
from typing import Optional


@dataclasses.dataclass
class Location:
    file: Optional[str] = None
    line: Optional[int] = None
    node: Optional[str] = None
    field: Optional[str] = None

    def __str__(self) -> str:
        parts = []
        if self.file:
            parts.append(self.file + (":%d" % self.line if self.line else ""))
        if self.node:
            parts.append("node %s" % self.node)
        if self.field:
            parts.append("field %s" % self.field)
        return ", ".join(parts)


class IndigoError(Exception):
    """Base of every error shown to a user without a traceback."""

    exit_code = 1

    def __init__(self, message: str, location: Optional[Location] = None):
        super().__init__(message)
        self.message = message
        self.location = location or Location()

    def __str__(self) -> str:
        where = str(self.location)
        return "%s: %s" % (where, self.message) if where else self.message


class UserInputError(IndigoError):
    """The template, its inputs or the command line are wrong (exit code 2)."""

    exit_code = 2


class UnsupportedError(UserInputError):
    """A valid construct the compiler does not support yet (exit code 2)."""


class EnvironmentProblem(IndigoError):
    """Something missing on this machine (not root, no systemd-nspawn, ...): exit code 3."""

    exit_code = 3


class DeploymentFailed(IndigoError):
    """Provisioning or configuration failed on every site tried: exit code 4."""

    exit_code = 4
