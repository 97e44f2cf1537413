"""Passwords never leave memstack: masking of URLs and of free text that may hold one.

A password may hold a raw ``/``, ``#``, ``?`` or ``@``: SQLAlchemy's parser lets the first three
through and splits at the first ``@``. memstack reads a password as running from the first ``:``
after the user name to the *last* ``@`` of the URL (so ``@`` in a query must be ``%40``), encodes
it before SQLAlchemy sees it, and masks exactly that span. Every password seen while resolving
settings is remembered, so :func:`redact` can also scrub it from driver errors and tracebacks.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

MASK = "***"
#: shorter secrets are not scrubbed from free text: replacing every "ab" would garble messages
_MIN_SCRUB_LENGTH = 4
_MIN_FRAGMENT_LENGTH = 6
_known_secrets: set[str] = set()

_QUERY_PASSWORD = re.compile(r"(?i)([?&](?:password|passwd|pwd)=)[^&#\s'\"]*")
# a URL inside free text: scheme, then anything up to whitespace or a quote
_URL_IN_TEXT = re.compile(r"[A-Za-z][\w+.-]*://[^\s'\"<>]*")


def split_credentials(rest: str) -> tuple[str, str | None, str] | None:
    """``user``, ``password`` (``None`` when absent) and what follows the ``@``, of a URL's part
    after ``scheme://``; ``None`` when it carries no credentials."""
    at = rest.rfind("@")
    if at < 0:
        return None
    userinfo, after = rest[:at], rest[at + 1:]
    colon = userinfo.find(":")
    slash = userinfo.find("/")
    if colon < 0 or (0 <= slash < colon):  # "user@host" or an '@' in the path: no password
        return (userinfo, None, after) if slash < 0 else None
    return userinfo[:colon], userinfo[colon + 1:], after


def remember_secret(secret: str | None, shown_with: str = "") -> None:
    """Scrub ``secret`` (raw, and as it is written in a URL) from text passed to :func:`redact`.

    ``shown_with`` is the masked URL: a password that is also part of it (``postgres`` as the
    password of ``postgresql://postgres@...``) cannot be told apart and is left to the URL mask,
    so messages do not turn into ``***ql+psycopg://***``."""
    if not secret:
        return
    forms = {secret, unquote(secret), quote(unquote(secret), safe=""), quote(secret, safe="")}
    # what a parser cutting at one of these characters would show elsewhere (a host name, a path)
    pieces = {p for p in re.split(r"[/#?@:]", unquote(secret)) if len(p) >= _MIN_FRAGMENT_LENGTH}
    for form in {f for f in forms if len(f) >= _MIN_SCRUB_LENGTH} | pieces:
        if form not in shown_with:
            _known_secrets.add(form)


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (in the authority and in the query).

    A string without ``scheme://`` (a URL missing its scheme) is masked as if it had one.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    parts = split_credentials(rest)
    if parts is not None and parts[1] is not None:
        user, _, after = parts
        rest = f"{user}:{MASK}@{after}"
    masked = f"{scheme}{sep}{rest}"
    return _QUERY_PASSWORD.sub(rf"\1{MASK}", masked)


def mask_urls_in(text: str) -> str:
    """``text`` with the password of every URL in it masked (for ordinary output, left exact otherwise)."""
    return _URL_IN_TEXT.sub(lambda match: mask_url(match.group(0)), text) if "://" in text else text


def redact(text: str) -> str:
    """``text`` with the passwords of URLs in it, and every password memstack has seen, masked.

    For errors and tracebacks, where a driver may echo a password in any form; ordinary output
    uses :func:`mask_urls_in`, since a password like ``postgres`` would garble every line."""
    if not text:
        return text
    for secret in sorted(_known_secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return mask_urls_in(text)
