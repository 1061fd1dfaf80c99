"""Paging for list pages: one page of a list, with links that keep every other filter."""

from __future__ import annotations

from django.core.paginator import Page, Paginator


def page_of(request, items, *, size: int, param: str = "page") -> Page:
    """A page of ``items`` whose previous/next links keep every other query parameter, so
    two lists on one page turn their pages independently. An odd page number (text, 0, a
    huge number) gives the nearest real page, never an error."""
    page = Paginator(items, size).get_page(request.GET.get(param))

    def url(number):
        query = request.GET.copy()
        query[param] = number
        return "?" + query.urlencode()

    page.previous_url = url(page.previous_page_number()) if page.has_previous() else ""
    page.next_url = url(page.next_page_number()) if page.has_next() else ""
    return page
