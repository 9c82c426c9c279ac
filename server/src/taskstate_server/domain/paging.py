"""Opaque ListTasks page tokens: a keyset cursor (the last task id seen).

Because ids are time-ordered and the cursor is a position, not an offset, a
token stays valid while tasks are added. The filter is bound into the token so
a token is never silently reused with a different filter.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Collection

from . import ids
from .errors import InvalidArgument
from .model import TaskStatus


def _filter_tag(statuses: Collection[TaskStatus]) -> str:
    names = ",".join(sorted(s.value for s in statuses))
    return hashlib.sha256(names.encode()).hexdigest()[:8]


def encode_page_token(last_task_id: str, statuses: Collection[TaskStatus]) -> str:
    body = json.dumps({"a": last_task_id, "f": _filter_tag(statuses)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


MAX_TOKEN_CHARS = 1024
"""Tokens we issue are about 100 characters; anything much longer is not one of ours.

Checked before decoding, so a crafted token cannot make the JSON parser recurse
or allocate much: whatever a client sends, the answer is INVALID_ARGUMENT."""


def decode_page_token(token: str, statuses: Collection[TaskStatus]) -> str:
    if len(token) > MAX_TOKEN_CHARS:
        raise InvalidArgument("page_token", "is not a token returned by ListTasks (too long)")
    try:
        padded = token + "=" * (-len(token) % 4)
        body = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        if not isinstance(body, dict):
            raise ValueError
        after, tag = body["a"], body["f"]
        if not isinstance(after, str) or not isinstance(tag, str):
            raise ValueError
        ids.validate_task_id(after)
    except (
        ValueError,
        KeyError,
        TypeError,
        UnicodeError,
        binascii.Error,
        RecursionError,
        InvalidArgument,
    ):
        raise InvalidArgument("page_token", "is not a token returned by ListTasks") from None
    if tag != _filter_tag(statuses):
        raise InvalidArgument("page_token", "was issued for a different status filter")
    return after
