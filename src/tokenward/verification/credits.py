"""The credit ledger of the controls at verification, kept in the store.

Why the store and not Redis, even where Redis counts the rate limits: one truth that every
worker and every server on the database shares, that a Redis restart or eviction cannot
reset, and that a crash cannot roll back. Each spend is one conditional UPDATE (``remaining
>= cost``) committed before the verification answers: no credit is spent twice, and a
``kill -9`` gives back none that was answered ``VALID`` (at most it loses the spends of
verifications that were not yet answered, which their clients see fail). On SQLite the spends
of concurrent verifications share one commit (``store/group_commit.py``).
"""

from __future__ import annotations

from tokenward.service.ports import UnitOfWorkFactory


class StoreCreditLedger:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    def spend(self, token_id: int, cost: int, period: int, amount: int) -> tuple[bool, int]:
        with self._uow(write=True) as uow:
            spent = uow.credits.spend(token_id, cost, period, amount)
            if spent[0]:
                uow.commit()
        return spent

    def refund(self, token_id: int, cost: int, period: int) -> None:
        with self._uow(write=True) as uow:
            uow.credits.refund(token_id, cost, period)
            uow.commit()

    def balance(self, token_id: int, period: int, amount: int) -> int:
        with self._uow() as uow:
            return uow.credits.balance(token_id, period, amount)
