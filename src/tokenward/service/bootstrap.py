"""The bootstrap (root) credential: given by the operator, or generated once and kept hashed."""

from __future__ import annotations

from tokenward.domain import secrets as secret_format
from tokenward.service.core import Core


def ensure_root_credential(core: Core) -> str | None:
    """Generates the root credential on first start and returns it, to be shown once.

    Returns None when the operator gave ``TOKENWARD_ADMIN_TOKEN`` or one is already stored:
    a restart never shows or changes it again.
    """
    if core.admin_token_hash is not None:
        return None
    with core.uow(write=True) as uow:
        if uow.credentials.root_hash() is not None:
            return None
        secret = secret_format.generate()
        uow.credentials.set_root_hash(secret_format.hash_secret(secret), core.clock())
        uow.commit()
    return secret


def reset_root_credential(core: Core) -> str:
    """Replaces the stored root credential; the old one stops working at once."""
    secret = secret_format.generate()
    with core.uow(write=True) as uow:
        uow.credentials.set_root_hash(secret_format.hash_secret(secret), core.clock())
        uow.commit()
    return secret


def has_root_credential(core: Core) -> bool:
    """Whether a root credential exists: the operator's, or a stored one."""
    if core.admin_token_hash is not None:
        return True
    with core.uow() as uow:
        return uow.credentials.root_hash() is not None
