"""The rules that every face and use case shares, each from its one home in the domain."""

from __future__ import annotations

import pytest

from tokenward.domain import limits
from tokenward.domain.errors import Invalid
from tokenward.domain.tokens import PageRequest


@pytest.mark.parametrize(
    ("page", "whole"),
    [
        (PageRequest(0, 1), False),
        (PageRequest(limits.MAX_PAGE, limits.MAX_PAGE_SIZE), False),
        (PageRequest(3, None), True),
    ],
)
def test_pages_within_the_bounds_pass(page: PageRequest, whole: bool) -> None:
    limits.check_page(page, whole=whole)


@pytest.mark.parametrize(
    ("page", "whole", "message"),
    [
        (PageRequest(-1, 50), True, "page counts from 0"),
        # Beyond the last page a face lets a caller ask for: the CLI's and the client's too.
        (PageRequest(limits.MAX_PAGE + 1, 50), True, "page counts from 0"),
        (PageRequest(0, 0), True, "limit must be between 1 and"),
        (PageRequest(0, limits.MAX_PAGE_SIZE + 1), True, "limit must be between 1 and"),
        # Every match at once only where the listing allows it (tokens, not the audit trail).
        (PageRequest(0, None), False, "limit must be between 1 and"),
    ],
)
def test_pages_beyond_the_bounds_are_invalid(page: PageRequest, whole: bool, message: str) -> None:
    with pytest.raises(Invalid, match=message):
        limits.check_page(page, whole=whole)
