"""PDFs from HTML with WeasyPrint, reading nothing but our own static files.

A document's HTML carries text people typed. Left to itself WeasyPrint follows every URL
it meets (``<img>``, ``<link rel=stylesheet>``, ``<link rel=attachment>``, CSS ``url()``,
SVG ``<image>``): ``file:`` would read (and attach) a local file, ``http:`` would reach the
network. :class:`StaticFilesFetcher` serves the files ``django.contrib.staticfiles``
finds (``STATICFILES_DIRS`` and the apps' ``static/`` directories), or failing that the
collected ``STATIC_ROOT``, for URLs under ``STATIC_URL``, and refuses everything else
with :class:`ResourceRefused`. WeasyPrint turns a refusal into a logged warning and
renders the document without that resource.

Relative URLs resolve against :data:`BASE_URL`, a host that cannot exist, so
``{% static 'css/x.css' %}`` in a template reaches the fetcher as
``https://pdf.perfcycle.invalid/static/css/x.css`` and nothing is ever looked up on a
network.
"""

from __future__ import annotations

import mimetypes
import os
import re
from urllib.parse import unquote, urljoin, urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.exceptions import SuspiciousFileOperation
from django.utils._os import safe_join
from weasyprint import HTML, URLFetcher
from weasyprint.urls import URLFetcherResponse

BASE_URL = "https://pdf.perfcycle.invalid/"

# What a document may load: stylesheets, images and fonts. Anything else in a static
# directory (scripts, source maps) has no business in a PDF.
ALLOWED_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
}


class ResourceRefused(ValueError):
    """A document asked for something other than one of our static files."""

    def __init__(self, url: str, why: str):
        self.url = url
        self.why = why
        super().__init__(f"PDF rendering may load only our static files; refused {url!r}: {why}")


class StaticFilesFetcher(URLFetcher):
    """WeasyPrint's ``url_fetcher`` that serves our static files and refuses the rest.

    ``refused`` lists the URLs turned away, for logs and tests."""

    def __init__(self):
        super().__init__(allow_redirects=False)
        self.refused: list[str] = []

    def fetch(self, url, headers=None):
        try:
            name = static_name(url)
            path = find_static_file(name)
            if path is None:
                raise ResourceRefused(url, "no such static file")
            content_type = ALLOWED_TYPES.get(os.path.splitext(path)[1].lower())
            if content_type is None:
                guessed = mimetypes.guess_type(path)[0] or "unknown type"
                raise ResourceRefused(url, f"{guessed} is not a stylesheet, image or font")
        except ResourceRefused:
            self.refused.append(url)
            raise
        with open(path, "rb") as handle:
            body = handle.read()
        return URLFetcherResponse(url, body, headers={"Content-Type": content_type})


def _static_prefix() -> tuple[str, str, str]:
    """(scheme, host, path) every static URL starts with, once joined to BASE_URL: the
    invented host for a relative STATIC_URL, or the CDN of an absolute one."""
    parts = urlsplit(urljoin(BASE_URL, settings.STATIC_URL))
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return parts.scheme.lower(), parts.netloc.lower(), path


def static_name(url: str) -> str:
    """The static file name (``css/packet.css``) a URL asks for; ResourceRefused when the
    URL is not a plain static URL (another scheme or host, outside STATIC_URL, dot
    segments, encoded separators)."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ResourceRefused(url, "not a URL") from exc
    scheme, host, prefix = _static_prefix()
    if parts.scheme.lower() != scheme or parts.netloc.lower() != host:
        raise ResourceRefused(url, "not one of our static URLs")
    if not parts.path.startswith(prefix):
        raise ResourceRefused(url, f"outside {prefix}")
    name = unquote(parts.path[len(prefix) :])
    segments = name.split("/")
    if (
        not name
        or "\\" in name
        or "\x00" in name
        or re.match(r"^[A-Za-z]:", name)
        or any(segment in ("", ".", "..") for segment in segments)
    ):
        raise ResourceRefused(url, "not a plain file name")
    return name


def find_static_file(name: str) -> str | None:
    """The file a static name stands for: found by the staticfiles finders, else in
    STATIC_ROOT (where the hashed names of a manifest storage live)."""
    try:
        found = finders.find(name)
    except SuspiciousFileOperation:
        return None
    if found is None and settings.STATIC_ROOT:
        try:
            found = safe_join(os.fspath(settings.STATIC_ROOT), name)
        except SuspiciousFileOperation:
            return None
    if found is None or not os.path.isfile(found):
        return None
    return found


def css_string(value) -> str:
    """``value`` as a quoted CSS string, every character but ASCII letters and digits
    escaped: safe for text people typed inside a ``<style>`` element. (Spaces too: CSS
    swallows one space after an escape.)"""
    escaped = "".join(
        ch if (ch.isascii() and ch.isalnum()) else f"\\{ord(ch):06x}" for ch in str(value)
    )
    return f'"{escaped}"'


def page_numbers_css(label: str) -> str:
    """CSS ``content`` for a translated page label holding ``%(page)s`` and
    ``%(pages)s`` ("Page %(page)s of %(pages)s", "第 %(page)s 页，共 %(pages)s 页")."""
    pieces = re.split(r"%\((pages?)\)s", label)
    parts = []
    for i, piece in enumerate(pieces):
        if i % 2:
            parts.append(f"counter({piece})")
        elif piece:
            parts.append(css_string(piece))
    return " ".join(parts) or '""'


def render_pdf(html: str, *, url_fetcher: StaticFilesFetcher | None = None) -> bytes:
    """The PDF of ``html``; relative URLs resolve to our static files, nothing else loads."""
    fetcher = url_fetcher if url_fetcher is not None else StaticFilesFetcher()
    return HTML(string=html, base_url=BASE_URL, url_fetcher=fetcher).write_pdf()
