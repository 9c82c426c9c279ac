"""Opaque page tokens (domain/paging.py)."""

from __future__ import annotations

import base64
import json
import re

import pytest
from taskstate_server.domain import paging
from taskstate_server.domain.errors import InvalidArgument
from taskstate_server.domain.model import TaskStatus
from taskstate_server.domain.paging import decode_page_token, encode_page_token

TID = "018f3c1e-7b2a-7c3d-8abc-0123456789ab"
DONE = {TaskStatus.COMPLETED, TaskStatus.FAILED}


def test_round_trip_and_url_safe():
    token = encode_page_token(TID, ())
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
    assert TID not in token  # opaque, not the raw id
    assert decode_page_token(token, ()) == TID


def test_filter_is_bound_and_order_insensitive():
    token = encode_page_token(TID, [TaskStatus.FAILED, TaskStatus.COMPLETED])
    assert decode_page_token(token, DONE) == TID
    for other in ((), {TaskStatus.COMPLETED}, DONE | {TaskStatus.WORKING}):
        with pytest.raises(InvalidArgument):
            decode_page_token(token, other)


@pytest.mark.parametrize(
    "token", ["", "x", "!!", "e30", "bnVsbA", "W10", "eyJhIjoxLCJmIjoiIn0", "\u00e9"]
)
def test_junk_is_invalid_argument(token):
    with pytest.raises(InvalidArgument) as e:
        decode_page_token(token, ())
    assert e.value.violations[0].field == "page_token"


def _token(body: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")


def test_forged_tokens_are_invalid_argument():
    real = json.loads(base64.urlsafe_b64decode(encode_page_token(TID, ()) + "=="))
    assert decode_page_token(_token(real), ()) == TID
    forged = [
        {**real, "f": "00000000"},  # another filter's tag
        {**real, "a": "4d1e1b3e-2c6f-4a2b-9c7d-5e8f9a0b1c2d"},  # not a v7 id
        {**real, "a": TID.upper()},
        {"a": TID},  # no filter tag
    ]
    for body in forged:
        with pytest.raises(InvalidArgument):
            decode_page_token(_token(body), ())


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 1000 + b"]" * 1000,
        b'{"a":' * 1000 + b"0" + b"}" * 1000,
        b'{"a":' + b"9" * 5000 + b',"f":"x"}',  # past Python's int-from-string limit
        b'{"a":1e999999,"f":"x"}',
        b"\xff\xfe",
    ],
    ids=["arrays", "objects", "huge-int", "huge-exponent", "not-utf8"],
)
def test_tokens_that_break_the_parser_are_invalid_argument(raw, monkeypatch):
    token = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    with pytest.raises(InvalidArgument) as e:
        decode_page_token(token, ())
    assert e.value.violations[0].field == "page_token"
    # The length check stops these first; without it, the parser's errors are caught too.
    monkeypatch.setattr(paging, "MAX_TOKEN_CHARS", 10**9)
    with pytest.raises(InvalidArgument) as e:
        decode_page_token(token, ())
    assert e.value.violations[0].field == "page_token"


def test_real_tokens_are_far_under_the_length_cap():
    token = encode_page_token(TID, set(TaskStatus))
    assert len(token) * 4 < paging.MAX_TOKEN_CHARS
    with pytest.raises(InvalidArgument) as e:
        decode_page_token(token + "A" * paging.MAX_TOKEN_CHARS, set(TaskStatus))
    assert "too long" in e.value.message
