"""No secret reaches a log: what Roost and uvicorn log of a request passes through here.

Secrets travel in four places. Headers (``Authorization``, cookies) and form bodies are never
logged. A path carries one on the revocation route (``/oauth2/access_tokens/<token>``), and a
query string whenever a client puts a token, code, PIN, secret or password in it (``?auth=``,
the token exchange's parameters): those values are replaced by ``[redacted]``.
"""

from __future__ import annotations

import re

_SECRET_QUERY = re.compile(
    r"([?&](?:auth|access_token|refresh_token|token|code|pin|client_secret|password)=)"
    r"[^&\s\"]*", re.IGNORECASE)
_SECRET_PATH = re.compile(r"(/oauth2/access_tokens/)[^?\s\"]+")
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """``text`` (a path, a URL, a log line) with every secret in it replaced."""
    return _SECRET_PATH.sub(r"\1" + REDACTED, _SECRET_QUERY.sub(r"\1" + REDACTED, text))
