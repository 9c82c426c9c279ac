"""Server configuration: flags, each also an environment variable TASKSTATE_<NAME>."""

from __future__ import annotations

import argparse
import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .domain.model import Limits
from .domain.validation import MAX_ATTEMPTS

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}

DEFAULT_LISTEN = "127.0.0.1:50051"
DEFAULT_STORE = "sqlite:///./taskstate.db"
MIN_FEED_RETENTION_MS = 1000
MAX_FEED_RETENTION_MS = 7 * 86_400_000


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


def env_name(flag: str) -> str:
    """--max-ttl -> TASKSTATE_MAX_TTL."""
    return "TASKSTATE_" + flag.upper().replace("-", "_")


class EnvFlags:
    """Adds `--flag`s whose default comes from TASKSTATE_<FLAG>, and whose help names
    that variable and the built-in default, so `--help` documents both in one place."""

    def __init__(self, parser: argparse.ArgumentParser, env: Mapping[str, str]) -> None:
        self.parser = parser
        self.env = env

    def add(self, flag: str, default: str | None, help: str, **kw: Any) -> None:
        name = env_name(flag)
        shown = "not set" if default is None else default
        self.parser.add_argument(
            "--" + flag,
            default=self.env.get(name, default),
            help=f"{help} [env {name}; default: {shown}]".replace("%", "%%"),
            **kw,
        )


@dataclass(frozen=True, slots=True)
class ServerConfig:
    listen: str
    store: str
    auth_tokens: str | None
    allow_anonymous: bool
    tls_cert: str | None
    tls_key: str | None
    tls_client_ca: str | None
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


def add_serve_flags(parser: argparse.ArgumentParser, env: Mapping[str, str]) -> None:
    """The flags of `taskstate-server` itself (serving, the default command)."""
    flags = EnvFlags(parser, env)
    flags.add(
        "listen",
        DEFAULT_LISTEN,
        "address to serve on (port 0 picks a free one); a port already in use is refused",
        metavar="HOST:PORT",
    )
    flags.add("store", DEFAULT_STORE, "store URL (see 'stores' below)", metavar="URL")
    flags.add(
        "auth-tokens",
        None,
        'JSON file mapping owner ids to tokens, e.g. {"alice": ["tok"]}',
        metavar="FILE",
    )
    flags.add(
        "allow-anonymous",
        "false",
        "let callers without a token in, as owner 'anonymous' (on by default only on a "
        "loopback address without --auth-tokens)",
        nargs="?",
        const="true",
        type=_bool,
        metavar="BOOL",
    )
    flags.add("tls-cert", None, "PEM certificate (chain): serve TLS", metavar="FILE")
    flags.add("tls-key", None, "PEM private key of --tls-cert", metavar="FILE")
    flags.add(
        "tls-client-ca",
        None,
        "PEM CA certificate(s): require client certificates signed by them (mutual TLS; "
        "needs --tls-cert/--tls-key). The bearer token still decides the owner",
        metavar="FILE",
    )
    flags.add(
        "default-ttl",
        "1h",
        "TTL of a task created without one",
        type=_duration_arg,
        metavar="DURATION",
    )
    flags.add(
        "max-ttl", "24h", "longest TTL a task may ask for", type=_duration_arg, metavar="DURATION"
    )
    flags.add(
        "default-poll-interval",
        "1s",
        "poll interval suggested to clients of a task created without one",
        type=_duration_arg,
        metavar="DURATION",
    )
    flags.add(
        "max-active-tasks",
        "100",
        "active (non-terminal, unexpired) tasks per owner",
        type=_positive_int,
        metavar="N",
    )
    flags.add(
        "max-variables-bytes",
        str(1 << 20),
        "cap on a task's serialized variables, in bytes",
        type=_positive_int,
        metavar="N",
    )
    flags.add(
        "max-string-bytes",
        None,
        "cap on any one string of a task (a JSON string in variables, result or error, a "
        "status message), in UTF-8 bytes; not set: as large as --max-variables-bytes",
        type=_positive_int,
        metavar="N",
    )
    flags.add(
        "default-lease",
        "30s",
        "lease of a ClaimTask without lease_duration",
        type=_duration_arg,
        metavar="DURATION",
    )
    flags.add(
        "max-lease",
        "1h",
        "longest lease a claim or renewal may ask for",
        type=_duration_arg,
        metavar="DURATION",
    )
    flags.add(
        "default-max-attempts",
        "3",
        f"attempts of a LEASE_POLICY_RELEASE task created without max_attempts (1 to "
        f"{MAX_ATTEMPTS})",
        type=_positive_int,
        metavar="N",
    )
    flags.add(
        "feed-retention",
        "1h",
        "how long the event log keeps changes: WatchTasks resumes from cursors this recent "
        "(1s to 7d)",
        type=_duration_arg,
        metavar="DURATION",
    )
    flags.add("log-level", "INFO", "log level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])


class ConfigError(ValueError):
    """A configuration that must not start."""


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    """Checks the serve flags together (what one flag alone cannot)."""
    if args.default_ttl <= 0 or args.max_ttl <= 0 or args.default_poll_interval <= 0:
        raise ConfigError("durations must be greater than zero")
    if args.default_ttl > args.max_ttl:
        raise ConfigError("--default-ttl must not exceed --max-ttl")
    if args.default_lease <= 0 or args.max_lease <= 0:
        raise ConfigError("--default-lease and --max-lease must be greater than zero")
    if args.default_lease > args.max_lease:
        raise ConfigError("--default-lease must not exceed --max-lease")
    if args.default_max_attempts > MAX_ATTEMPTS:
        raise ConfigError(f"--default-max-attempts must be at most {MAX_ATTEMPTS}")
    if bool(args.tls_cert) != bool(args.tls_key):
        raise ConfigError("--tls-cert and --tls-key go together")
    if args.tls_client_ca and not args.tls_cert:
        raise ConfigError(
            "--tls-client-ca (mutual TLS) needs --tls-cert and --tls-key: the server must "
            "speak TLS before it can ask for client certificates"
        )
    if not MIN_FEED_RETENTION_MS <= args.feed_retention <= MAX_FEED_RETENTION_MS:
        raise ConfigError("--feed-retention must be between 1s and 7d")
    if ":" not in args.listen:
        raise ConfigError(f"--listen must be host:port, got {args.listen!r}")
    limits = Limits(
        default_ttl_ms=args.default_ttl,
        max_ttl_ms=args.max_ttl,
        default_poll_interval_ms=args.default_poll_interval,
        max_active_tasks=args.max_active_tasks,
        max_variables_bytes=args.max_variables_bytes,
        max_string_bytes=args.max_string_bytes,
        default_lease_ms=args.default_lease,
        max_lease_ms=args.max_lease,
        default_max_attempts=args.default_max_attempts,
        feed_retention_ms=args.feed_retention,
    )
    return ServerConfig(
        listen=args.listen,
        store=args.store,
        auth_tokens=args.auth_tokens,
        allow_anonymous=args.allow_anonymous,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        tls_client_ca=args.tls_client_ca,
        limits=limits,
        log_level=args.log_level,
    )


def parse_config(argv: Sequence[str], env: Mapping[str, str]) -> ServerConfig:
    """The serve flags alone (no subcommands), e.g. for embedding or tests."""
    parser = argparse.ArgumentParser(prog="taskstate-server")
    add_serve_flags(parser, env)
    return config_from_args(parser.parse_args(list(argv)))


def anonymous_allowed(config: ServerConfig) -> bool:
    """docs/design.md §10.3: anonymous is on by default only on loopback without tokens.

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
