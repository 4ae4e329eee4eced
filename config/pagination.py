"""The one page format of every list in the API: {items, count, page, page_size, pages}."""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja import Field, Schema
from ninja.pagination import PaginationBase


class PageNumberPagination(PaginationBase):
    class Input(Schema):
        page: int = Field(1, ge=1, description="1-based page number")
        page_size: int = Field(settings.API_PAGE_SIZE_DEFAULT, ge=1, le=settings.API_PAGE_SIZE_MAX)

    class Output(Schema):
        items: list[Any]
        count: int
        page: int
        page_size: int
        pages: int

    items_attribute = "items"

    def paginate_queryset(
        self, queryset: Any, pagination: Input, request: HttpRequest, **params: Any
    ) -> dict[str, Any]:
        count = self._items_count(queryset)
        offset = (pagination.page - 1) * pagination.page_size
        # A page past the end is empty; it is not asked of the database, which refuses an offset
        # past its integer range (SQLite: OverflowError, PostgreSQL: bigint out of range).
        items = list(queryset[offset : offset + pagination.page_size]) if offset < count else []
        return {
            "items": items,
            "count": count,
            "page": pagination.page,
            "page_size": pagination.page_size,
            "pages": max(1, math.ceil(count / pagination.page_size)),
        }
