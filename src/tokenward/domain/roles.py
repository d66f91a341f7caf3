"""Roles and their order: viewer < editor < admin < root."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    EDITOR = "editor"
    ADMIN = "admin"
    ROOT = "root"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


_RANKS = {Role.VIEWER: 1, Role.EDITOR: 2, Role.ADMIN: 3, Role.ROOT: 4}

#: Roles a token may carry; root is only ever the bootstrap credential.
TOKEN_ROLES = (Role.VIEWER, Role.EDITOR, Role.ADMIN)
