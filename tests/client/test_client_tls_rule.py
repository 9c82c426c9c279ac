"""The shared TLS default rule (CLIENT_RULES.md): explicit, then scheme, then loopback host."""

from __future__ import annotations

from pathlib import Path

import pytest
from taskstate_client import TaskClient, TLSConfig
from taskstate_client._tls import decide, is_loopback

NO_ENV: dict[str, str] = {}


@pytest.mark.parametrize(
    "address",
    [
        "localhost:50051",
        "LOCALHOST:1",
        "127.0.0.1:50051",
        "127.1.2.3:9",
        "[::1]:50051",
        "::1",
        "localhost",
        "unix:/tmp/taskstate.sock",
        "unix:///tmp/taskstate.sock",
        "dns:///localhost:50051",
        "ipv4:127.0.0.1:50051",
    ],
)
def test_loopback_hosts_are_plaintext(address: str) -> None:
    assert decide(address, env=NO_ENV).tls is False


@pytest.mark.parametrize(
    "address",
    [
        "tasks.internal:443",
        "tasks.example.com:50051",
        "10.0.0.5:50051",
        "192.168.1.1:1",
        "[2001:db8::1]:443",
        "0.0.0.0:50051",
        "dns:///tasks.internal:443",
        "localhost.example.com:1",
    ],
)
def test_other_hosts_are_tls(address: str) -> None:
    transport = decide(address, env=NO_ENV)
    assert transport.tls is True and transport.config == TLSConfig()  # system roots


@pytest.mark.parametrize(
    ("address", "tls", "target"),
    [
        ("https://localhost:8443", True, "localhost:8443"),
        ("https://tasks.internal", True, "tasks.internal:443"),
        ("HTTPS://tasks.internal:9/", True, "tasks.internal:9"),
        ("http://tasks.internal:50051", False, "tasks.internal:50051"),
        ("http://[::1]", False, "[::1]:80"),
    ],
)
def test_the_scheme_decides_and_is_removed(address: str, tls: bool, target: str) -> None:
    transport = decide(address, env=NO_ENV)
    assert (transport.tls, transport.target) == (tls, target)


def test_explicit_choice_beats_scheme_and_host() -> None:
    assert decide("tasks.internal:443", False, NO_ENV).tls is False
    assert decide("https://tasks.internal", False, NO_ENV).tls is False
    assert decide("127.0.0.1:50051", True, NO_ENV).tls is True
    assert decide("http://127.0.0.1:50051", True, NO_ENV).tls is True


def test_a_ca_or_client_cert_asks_for_tls() -> None:
    assert decide("127.0.0.1:1", "ca.pem", NO_ENV).config == TLSConfig(ca_cert="ca.pem")
    mutual = TLSConfig(client_cert="c.pem", client_key="k.pem")
    transport = decide("localhost:1", mutual, NO_ENV)
    assert transport.tls is True and transport.config == mutual


def test_environment() -> None:
    assert decide("127.0.0.1:1", env={"TASKSTATE_TLS": "true"}).tls is True
    assert decide("tasks.internal:1", env={"TASKSTATE_TLS": "0"}).tls is False
    ca = decide("127.0.0.1:1", env={"TASKSTATE_CA_CERT": "ca.pem"})
    assert ca.tls is True and ca.config.ca_cert == "ca.pem"
    # The argument wins over the environment, field by field.
    assert decide("127.0.0.1:1", False, {"TASKSTATE_TLS": "true"}).tls is False
    both = decide("127.0.0.1:1", True, {"TASKSTATE_CA_CERT": "ca.pem"})
    assert both.tls is True and both.config.ca_cert == "ca.pem"
    # TASKSTATE_TLS=false turns the environment's files off too.
    off = decide("tasks.internal:1", env={"TASKSTATE_TLS": "false", "TASKSTATE_CA_CERT": "x"})
    assert off.tls is False


def test_bad_settings_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="TASKSTATE_TLS='maybe': expected true or false"):
        decide("h:1", env={"TASKSTATE_TLS": "maybe"})
    with pytest.raises(ValueError, match="client certificate and its key go together"):
        decide("h:1", TLSConfig(client_cert="c.pem"), NO_ENV)
    with pytest.raises(ValueError, match="no path"):
        decide("https://h:1/v1", env=NO_ENV)


def test_the_clients_follow_the_rule(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No tls argument: a remote host gets TLS credentials, loopback none; a bad CA file is
    named in the error instead of a bare FileNotFoundError."""
    for name in (
        "TASKSTATE_TLS",
        "TASKSTATE_CA_CERT",
        "TASKSTATE_CLIENT_CERT",
        "TASKSTATE_CLIENT_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    with TaskClient("tasks.internal:443") as remote, TaskClient("127.0.0.1:50051") as local:
        assert remote._settings.credentials is not None
        assert local._settings.credentials is None
    with TaskClient("https://127.0.0.1:1") as client:
        assert client.address == "127.0.0.1:1" and client._settings.credentials is not None
    missing = tmp_path / "nope.pem"
    with pytest.raises(ValueError, match="cannot read the CA certificate"):
        TaskClient("127.0.0.1:1", tls=missing)
    not_pem = tmp_path / "ca.txt"
    not_pem.write_text("hello")
    with pytest.raises(ValueError, match="is not a PEM file"):
        TaskClient("127.0.0.1:1", tls=TLSConfig(ca_cert=not_pem))


@pytest.mark.parametrize(
    ("target", "expected"),
    [("localhost.:1", True), ("127.0.0.1", True), ("[::1]", True), ("::2", False), ("", False)],
)
def test_is_loopback_edges(target: str, expected: bool) -> None:
    assert is_loopback(target) is expected
