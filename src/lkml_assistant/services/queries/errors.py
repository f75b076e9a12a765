# SPDX-License-Identifier: GPL-2.0-or-later
"""What the query service raises; the route layer turns these into 400 and 404."""

from __future__ import annotations

from collections.abc import Sequence

from lkml_assistant.models.api import ErrorDetail


class InvalidRequestError(ValueError):
    """The request asks for something malformed; ``details`` say what, one entry per problem."""

    def __init__(self, details: Sequence[ErrorDetail]) -> None:
        super().__init__("; ".join(f"{d.loc}: {d.msg}" for d in details))
        self.details = list(details)


class ResourceNotFoundError(LookupError):
    """No such patch, series or discussion in the store."""


def invalid(loc: str, msg: str, kind: str = "value_error") -> InvalidRequestError:
    """One problem with one parameter."""
    return InvalidRequestError([ErrorDetail(loc=loc, msg=msg, type=kind)])
