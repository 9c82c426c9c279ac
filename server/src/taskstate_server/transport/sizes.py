"""Message sizes on the wire: the ListTasks page budget and the server's message limits.

The limits (domain.model.Limits) count JSON bytes; gRPC counts serialized protobuf
bytes. The two differ, in the worst case by 11/2: the 2 bytes `0,` of a JSON list
become an 11-byte list element on the wire (tag, length, tag, 8-byte double). The
numbers here turn one into the other, so a request the limits accept is never
refused by gRPC first, and a ListTasks page always reaches a default-configured client.
"""

from __future__ import annotations

from typing import Final

from google.protobuf.message import Message

from ..domain import wire
from ..domain.model import Limits
from ..domain.wire import CLIENT_DEFAULT_MAX_MESSAGE_BYTES as CLIENT_DEFAULT_MAX_MESSAGE_BYTES
from ..domain.wire import PROTO_BYTES_PER_JSON_BYTE as PROTO_BYTES_PER_JSON_BYTE

PAGE_BUDGET_BYTES: Final = wire.MAX_TASK_WIRE_BYTES
"""Serialized bytes the tasks of one ListTasksResponse may take (each counted with its
repeated-field framing): as much as the largest task TaskStore stores. The 64 KiB left
under the clients' 4 MiB hold next_page_token (under 200 bytes) with a wide margin."""


_FRAMING_BYTES: Final = 64 * 1024
"""Room for a request's ids, enums, durations and field framing beside its JSON and text."""

_GRPC_MAX_LENGTH: Final = 2**31 - 1
"""gRPC takes message limits as a C int."""


def repeated_field_bytes(message: Message) -> int:
    """Bytes `message` adds to a repeated field of its parent (field number <= 15):
    a one-byte tag, its length as a varint, and its body."""
    return wire.framed(message.ByteSize())


def max_request_bytes(limits: Limits) -> int:
    """The server's receive limit: the largest request a call within `limits` can need.

    CompleteTask and PutIfVersion carry the most: three JSON values each capped at
    max_variables_bytes (variables, result, error.data), each up to 11/2 times larger on
    the wire, and two strings capped at string_bytes (status_message, error.message).
    Anything larger is refused by gRPC itself with RESOURCE_EXHAUSTED.
    """
    json_values = 3 * int(limits.max_variables_bytes * PROTO_BYTES_PER_JSON_BYTE + 1)
    total = json_values + 2 * limits.string_bytes + _FRAMING_BYTES
    return min(total, _GRPC_MAX_LENGTH)


MAX_SEND_BYTES: Final = -1
"""The server's send limit: none (gRPC's default, stated explicitly). A response is at
most one task (which TaskStore keeps under wire.MAX_TASK_WIRE_BYTES), or a ListTasks page
under PAGE_BUDGET_BYTES (or of one task); a send limit could only make the server refuse
to return a task it accepted."""
