"""Server configuration: flags, each also an environment variable TASKSTATE_<NAME>."""

from __future__ import annotations

import argparse
import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .domain.model import Limits

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def parse_duration_ms(text: str) -> int:
    """'500ms', '90s', '5m', '1h', '1h30m' -> milliseconds."""
    text = text.strip()
    pos, total = 0, 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT_MS[m.group(2)]
        pos = m.end()
    if not text or pos != len(text):
        raise ValueError(f"bad duration {text!r}: use e.g. 500ms, 90s, 5m, 1h")
    return round(total)


def _duration_arg(text: str) -> int:
    try:
        return parse_duration_ms(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0: {text!r}")
    return value


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise argparse.ArgumentTypeError(f"not a boolean: {text!r}")


@dataclass(frozen=True, slots=True)
class ServerConfig:
    listen: str
    store: str
    auth_tokens: str | None
    allow_anonymous: bool
    tls_cert: str | None
    tls_key: str | None
    limits: Limits
    log_level: str


def is_loopback(listen: str) -> bool:
    host = listen.rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="taskstate-server",
        description="taskstate: a durable task-state service for tool handlers, over gRPC. "
        "Every flag can also be set as TASKSTATE_<NAME> (e.g. --max-ttl is TASKSTATE_MAX_TTL).",
    )

    def env_default(flag: str, default: str | None) -> str | None:
        return env.get("TASKSTATE_" + flag.upper().replace("-", "_"), default)

    p.add_argument(
        "--listen",
        default=env_default("listen", "127.0.0.1:50051"),
        help="host:port to serve on (port 0 picks a free one)",
    )
    p.add_argument(
        "--store",
        default=env_default("store", "sqlite:///./taskstate.db"),
        help="store URL: memory://, sqlite:///relative.db, sqlite:////abs/path.db",
    )
    p.add_argument(
        "--auth-tokens",
        default=env_default("auth-tokens", None),
        help='JSON file mapping owner ids to tokens, e.g. {"alice": ["tok"]}',
    )
    p.add_argument(
        "--allow-anonymous",
        nargs="?",
        const="true",
        default=env_default("allow-anonymous", "false"),
        type=_bool,
        help="let callers without a token in, as owner 'anonymous'",
    )
    p.add_argument("--tls-cert", default=env_default("tls-cert", None), help="PEM certificate")
    p.add_argument("--tls-key", default=env_default("tls-key", None), help="PEM private key")
    p.add_argument("--default-ttl", type=_duration_arg, default=env_default("default-ttl", "1h"))
    p.add_argument("--max-ttl", type=_duration_arg, default=env_default("max-ttl", "24h"))
    p.add_argument(
        "--default-poll-interval",
        type=_duration_arg,
        default=env_default("default-poll-interval", "1s"),
    )
    p.add_argument(
        "--max-active-tasks",
        type=_positive_int,
        default=env_default("max-active-tasks", "100"),
        help="active (non-terminal, unexpired) tasks per owner",
    )
    p.add_argument(
        "--max-variables-bytes",
        type=_positive_int,
        default=env_default("max-variables-bytes", str(1 << 20)),
        help="cap on a task's serialized variables",
    )
    p.add_argument(
        "--log-level",
        default=env_default("log-level", "INFO"),
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
    )
    return p


class ConfigError(ValueError):
    """A configuration that must not start."""


def parse_config(argv: Sequence[str], env: Mapping[str, str]) -> ServerConfig:
    args = _parser(env).parse_args(list(argv))
    if args.default_ttl <= 0 or args.max_ttl <= 0 or args.default_poll_interval <= 0:
        raise ConfigError("durations must be greater than zero")
    if args.default_ttl > args.max_ttl:
        raise ConfigError("--default-ttl must not exceed --max-ttl")
    if bool(args.tls_cert) != bool(args.tls_key):
        raise ConfigError("--tls-cert and --tls-key go together")
    if ":" not in args.listen:
        raise ConfigError(f"--listen must be host:port, got {args.listen!r}")
    limits = Limits(
        default_ttl_ms=args.default_ttl,
        max_ttl_ms=args.max_ttl,
        default_poll_interval_ms=args.default_poll_interval,
        max_active_tasks=args.max_active_tasks,
        max_variables_bytes=args.max_variables_bytes,
    )
    return ServerConfig(
        listen=args.listen,
        store=args.store,
        auth_tokens=args.auth_tokens,
        allow_anonymous=args.allow_anonymous,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        limits=limits,
        log_level=args.log_level,
    )


def anonymous_allowed(config: ServerConfig) -> bool:
    """DESIGN.md section 5: anonymous is on by default only on loopback without tokens.

    Raises ConfigError for an open server on a non-loopback address.
    """
    if config.allow_anonymous:
        return True
    if config.auth_tokens:
        return False
    if is_loopback(config.listen):
        return True
    raise ConfigError(
        f"refusing to listen on {config.listen} without authentication: pass --auth-tokens FILE "
        "(TASKSTATE_AUTH_TOKENS), or --allow-anonymous (TASKSTATE_ALLOW_ANONYMOUS=true) to "
        "accept anyone as owner 'anonymous'"
    )
