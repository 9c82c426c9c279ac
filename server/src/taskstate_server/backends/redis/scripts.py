"""Lua scripts of the Redis backend: each mutation is ONE atomic server-side step.

Key layout (P = the URL's prefix, O = the owner, escaped so it holds no braces):

    P{O}:t:<task_id>   HASH  v=version d=data a=active(1|0) [e=expire_at_ms] [r=request_id]
                             [s=status] [l=lease_until_ms] [g=claim_group]; with e, PEXPIRE
                             (e - now + grace): the sweeper removes it first, logging EXPIRED
    P{O}:idx           ZSET  every task id, score 0: the ordered owner index (BYLEX)
    P{O}:act           ZSET  active task ids scored by expire_at_ms (+inf = never): the quota
    P{O}:s:<status>    ZSET  task ids of that status, score 0 (BYLEX): ListTasks(statuses)
    P{O}:claim         ZSET  task ids with a claim group, score 0 (BYLEX): claim any
    P{O}:claim:<g>     ZSET  task ids of claim group <g>, score 0 (BYLEX): claim by method
    P{O}:req:<rid>     STRING  task id created with request id <rid>, with the task's expiry
    P{O}:ev            STREAM  the owner's event log: k=kind(w|d|x) t=task_id v=version ms=time
                             u=subject (of a removed task; '' otherwise, absent before it)
    P{O}:evm           HASH  epoch=the log's incarnation last=newest position low=the newest
                             position that trimming may have removed
    Pleases            ZSET  `{O}:<task_id>` scored by lease_until_ms: due_leases, any owner
    Pexpiring          ZSET  `{O}:<task_id>` scored by expire_at_ms: the sweeper, any owner
    Playout            STRING  the layout version of the keys under P (see LAYOUT)
    Pchanges           pub/sub channel of every committed change

Every key of one owner shares the hash tag {O}, so a script on one owner's keys touches one
cluster slot. `Pleases`, `Pexpiring` and `Playout` are outside every owner's tag: fine on one
Redis; a Redis Cluster would need them sharded. Scripts derive keys from the owner's base
`P{O}:` (and P) in ARGV rather than KEYS, which one Redis allows.

Every owner script takes the same first eight ARGV, its context: prefix, hash tag `{O}`, owner,
now, channel, epoch (a fresh one, used only if the owner's log has none yet), keep (how long log
entries are kept, ms) and grace (how long past expire_at a record key lives, ms).

A log position is a stream ID `<ms>-<seq>` on the CALLER's clock, made increasing per owner
(never below the last one), like expiry following the caller's clock; "0-0" is the start. A
change message is ten length-prefixed fields, `<len>:<bytes>` each: owner, task id, kind
(w|d|x), version (the last one for d|x, 0 if unknown), active, expire_at_ms ("" for none),
data (for d|x: the removed task's subject, "" for none), position, prev, time_ms.

The scripts are Lua files in `lua/` (shipped in the wheel as package data), read once when this
module is imported: each file starts with what it takes (KEYS, ARGV) and answers; `prelude.lua`
holds the helpers, prepended to every script.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib import resources
from typing import Final


@dataclass(frozen=True)
class LuaScript:
    name: str
    source: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha", hashlib.sha1(self.source.encode()).hexdigest())


_LUA = resources.files(__package__) / "lua"


def _read(name: str) -> str:
    return (_LUA / f"{name}.lua").read_text(encoding="utf-8")


def _script(name: str) -> LuaScript:
    return LuaScript(name, _PRELUDE + _read(name))


_PRELUDE: Final = _read("prelude")

LAYOUT: Final = "2"
"""The key layout version, kept in `Playout`: 2 added status, claim and lease indexes, the
event logs and the global expiry set (1, the per-owner `exp` sets, never shipped)."""

CREATE: Final = _script("create")
COMPARE_AND_SWAP: Final = _script("compare_and_swap")
DELETE: Final = _script("delete")
SWEEP: Final = _script("sweep")
LIST: Final = _script("list")
LIST_BY_STATUS: Final = _script("list_by_status")
CLAIMABLE: Final = _script("claimable")
DUE_LEASES: Final = _script("due_leases")
READ_EVENTS: Final = _script("read_events")

ALL: Final = (
    CREATE,
    COMPARE_AND_SWAP,
    DELETE,
    SWEEP,
    LIST,
    LIST_BY_STATUS,
    CLAIMABLE,
    DUE_LEASES,
    READ_EVENTS,
)
