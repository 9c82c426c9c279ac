"""Lua scripts of the Redis backend: each mutation is ONE atomic server-side step.

Key layout (P = the URL's prefix, O = the owner, escaped so it holds no braces):

    P{O}:t:<task_id>   HASH  v=version d=data a=active(1|0) [e=expire_at_ms] [r=request_id]
                             with PEXPIRE (e - now), so Redis deletes it by itself
    P{O}:idx           ZSET  every task id, score 0: the ordered owner index (BYLEX)
    P{O}:act           ZSET  active task ids scored by expire_at_ms (+inf = never): the quota
    P{O}:exp           ZSET  expiring task ids scored by expire_at_ms: index hygiene, deletions
    P{O}:req:<rid>     STRING  task id created with request id <rid>, with the task's expiry
    Pchanges           pub/sub channel of every committed change

Every key of one owner shares the hash tag {O}, so every script touches one cluster slot. Scripts
derive a few keys of the same owner from ARGV[1] (the `P{O}:` base) rather than KEYS, which Redis
allows for keys in the slot of the declared ones.

A change message is six length-prefixed fields, `<len>:<bytes>` each: owner, task id, version
("" for a deletion), active, expire_at_ms ("" for none) and the record's data.

The scripts are Lua files in `lua/` (shipped in the wheel as package data), read once when this
module is imported: each file starts with what it takes (KEYS, ARGV) and answers; `prelude.lua`
holds the helpers that the scripts using them get prepended.
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


def _script(name: str, *, prelude: bool = True) -> LuaScript:
    return LuaScript(name, (_PRELUDE if prelude else "") + _read(name))


_PRELUDE: Final = _read("prelude")

CREATE: Final = _script("create")
COMPARE_AND_SWAP: Final = _script("compare_and_swap")
DELETE: Final = _script("delete")
SWEEP: Final = _script("sweep")
LIST: Final = _script("list", prelude=False)

ALL: Final = (CREATE, COMPARE_AND_SWAP, DELETE, SWEEP, LIST)
