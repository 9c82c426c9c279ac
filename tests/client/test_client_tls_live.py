"""The Python client and the CLI against real TLS and mutual-TLS servers (tests/_tls.py certs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _cli import run
from _harness import ServerProcess
from _tls import Pki, make_pki
from taskstate_client import TaskClient, TLSConfig, UnavailableError

TLS_ENV = ("TASKSTATE_TLS", "TASKSTATE_CA_CERT", "TASKSTATE_CLIENT_CERT", "TASKSTATE_CLIENT_KEY")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_server(module_server_factory: Any, pki: Pki) -> ServerProcess:
    return module_server_factory("memory", args=pki.server_args())


@pytest.fixture(scope="module")
def mtls_server(module_server_factory: Any, pki: Pki) -> ServerProcess:
    return module_server_factory("memory", args=pki.server_args(mutual=True))


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*TLS_ENV, "TASKSTATE_ADDRESS", "TASKSTATE_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def _token(server: ServerProcess) -> str:
    return server.token(server.fresh_owner())


def test_cli_with_a_ca_cert_talks_tls(
    tls_server: ServerProcess, pki: Pki, capsys: pytest.CaptureFixture[str]
) -> None:
    token = _token(tls_server)
    base = ["--address", tls_server.address, "--token", token]
    code, out, err = run(capsys, *base, "--ca-cert", str(pki.ca.cert), "create", "-q")
    assert code == 0, err
    task_id = out.strip()
    # The same through the environment, and with an https:// address.
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TASKSTATE_CA_CERT", str(pki.ca.cert))
        code, out, err = run(capsys, *base, "--json", "get", task_id)
        assert code == 0, err
        assert json.loads(out)["task_id"] == task_id
    https = f"https://localhost:{tls_server.port}"
    code, out, err = run(
        capsys, "--address", https, "--token", token, "--ca-cert", str(pki.ca.cert), "list"
    )
    assert code == 0 and task_id in out, err


def test_cli_without_the_right_tls_settings_says_what_to_try(
    tls_server: ServerProcess, pki: Pki, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--address", tls_server.address, "--token", _token(tls_server)]
    # Loopback means plaintext by default: the TLS server hangs up.
    code, _, err = run(capsys, *base, "list")
    assert code == 1 and "closed the connection: if it serves TLS, use --tls or --ca-cert" in err
    # TLS with the system roots: the test CA is not among them.
    code, _, err = run(capsys, *base, "--tls", "list")
    assert code == 1 and "TLS handshake with" in err and "--ca-cert" in err


def test_cli_ca_cert_against_a_plaintext_server(
    module_server_factory: Any, pki: Pki, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = module_server_factory("memory")
    code, _, err = run(capsys, "--address", plain.address, "--ca-cert", str(pki.ca.cert), "list")
    assert code == 1 and "does not speak TLS: use --plaintext" in err


def test_library_tls_options(tls_server: ServerProcess, pki: Pki) -> None:
    token = _token(tls_server)
    with TaskClient(tls_server.address, token=token, tls=pki.ca.cert) as client:
        assert client.uses_tls
        task = client.create(variables={"n": 1})
    config = TLSConfig(ca_cert=pki.ca.cert)
    with TaskClient(f"https://127.0.0.1:{tls_server.port}", token=token, tls=config) as client:
        assert client.get(task.task_id).variables == {"n": 1}
    with TaskClient(tls_server.address, token=token, timeout=10) as plain:
        assert not plain.uses_tls  # loopback: the rule picks plaintext, which this server refuses
        with pytest.raises(UnavailableError):
            plain.get(task.task_id)


def test_mutual_tls(
    mtls_server: ServerProcess, pki: Pki, capsys: pytest.CaptureFixture[str]
) -> None:
    token = _token(mtls_server)
    mutual = TLSConfig(ca_cert=pki.ca.cert, client_cert=pki.client.cert, client_key=pki.client.key)
    with TaskClient(mtls_server.address, token=token, tls=mutual) as client:
        assert client.create().version == 1
    base = ["--address", mtls_server.address, "--token", token, "--ca-cert", str(pki.ca.cert)]
    files = ["--client-cert", str(pki.client.cert), "--client-key", str(pki.client.key)]
    code, out, err = run(capsys, *base, *files, "create", "-q")
    assert code == 0 and out.strip(), err
    with pytest.MonkeyPatch.context() as env:  # the environment's client certificate
        env.setenv("TASKSTATE_CLIENT_CERT", str(pki.client.cert))
        env.setenv("TASKSTATE_CLIENT_KEY", str(pki.client.key))
        code, out, err = run(capsys, *base, "get", out.strip())
        assert code == 0, err
    code, _, err = run(capsys, *base, "list")  # no client certificate: refused
    assert code == 1 and "give --client-cert and --client-key" in err


def test_mutual_tls_refuses_another_cas_client(
    mtls_server: ServerProcess, pki: Pki, tmp_path: Path
) -> None:
    other = make_pki(tmp_path, name="other")
    stranger = TLSConfig(
        ca_cert=pki.ca.cert, client_cert=other.client.cert, client_key=other.client.key
    )
    token = _token(mtls_server)
    with (
        TaskClient(mtls_server.address, token=token, tls=stranger, timeout=10) as client,
        pytest.raises(UnavailableError),
    ):
        client.create()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--plaintext", "--ca-cert", "x.pem", "list"], "--plaintext excludes --ca-cert"),
        (["--tls", "--plaintext", "list"], "not allowed with argument"),
        (["--client-cert", "c.pem", "list"], "client certificate and its key go together"),
        (["--ca-cert", "/nonexistent/ca.pem", "list"], "cannot read the CA certificate"),
    ],
)
def test_cli_tls_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err


def test_cli_bad_tls_env_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TASKSTATE_TLS", "sometimes")
    code, _, err = run(capsys, "list")
    assert code == 2 and "TASKSTATE_TLS='sometimes': expected true or false" in err
