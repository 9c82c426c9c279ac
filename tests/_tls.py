"""Certificates made at test time with the `openssl` CLI: a CA, server and client certificates.

Nothing here is a fixture, so any suite can use it (``from _tls import make_pki``)::

    pki = make_pki(tmp_path)          # CA + server cert (localhost, 127.0.0.1) + client cert
    server_factory("memory", args=pki.server_args(mutual=True))
    creds = pki.channel_credentials() # trusts the CA and presents the client certificate

Keys are EC P-256 (fast to make); certificates are valid from now for two days.
`make_pki(dir, name=...)` with another name makes an unrelated CA, e.g. to show that a
client certificate from the wrong CA is refused. Needs the `openssl` command (1.1.1 or 3.x).
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import grpc

DAYS = "2"
SERVER_HOSTS = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class KeyPair:
    cert: Path
    key: Path


@dataclass(frozen=True)
class Pki:
    """A CA and the certificates it signed, as PEM files in one directory."""

    ca: KeyPair
    server: KeyPair
    client: KeyPair

    def server_args(self, *, mutual: bool = False) -> list[str]:
        """taskstate-server flags that serve TLS (and require client certificates if mutual)."""
        args = ["--tls-cert", str(self.server.cert), "--tls-key", str(self.server.key)]
        return [*args, "--tls-client-ca", str(self.ca.cert)] if mutual else args

    def channel_credentials(
        self, *, client: KeyPair | None = None, without_client_cert: bool = False
    ) -> grpc.ChannelCredentials:
        """Trusts this CA and presents `client` (default: this PKI's client certificate),
        or no certificate at all with `without_client_cert=True`."""
        roots = self.ca.cert.read_bytes()
        if without_client_cert:
            return grpc.ssl_channel_credentials(root_certificates=roots)
        who = client or self.client
        return grpc.ssl_channel_credentials(
            root_certificates=roots,
            private_key=who.key.read_bytes(),
            certificate_chain=who.cert.read_bytes(),
        )


def openssl_available() -> bool:
    return shutil.which("openssl") is not None


def _openssl(*args: str) -> None:
    proc = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed:\n{proc.stderr}")


def _new_key_and_request(directory: Path, name: str, subject: str) -> tuple[Path, Path]:
    key, csr = directory / f"{name}.key", directory / f"{name}.csr"
    _openssl(
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", subject,
    )  # fmt: skip
    return key, csr


def make_ca(directory: Path, name: str = "ca") -> KeyPair:
    directory.mkdir(parents=True, exist_ok=True)
    key, cert = directory / f"{name}.key", directory / f"{name}.crt"
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-keyout", str(key), "-out", str(cert), "-days", DAYS,
        "-subj", f"/CN=taskstate test {name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    return KeyPair(cert, key)


def make_cert(
    directory: Path,
    name: str,
    ca: KeyPair,
    *,
    server: bool,
    hosts: tuple[str, ...] = SERVER_HOSTS,
) -> KeyPair:
    """A certificate signed by `ca`: for a server (`hosts` as its names) or a client."""
    key, csr = _new_key_and_request(directory, name, f"/CN={hosts[0] if server else name}")
    ext = directory / f"{name}.ext"
    lines = ["basicConstraints=CA:FALSE", "keyUsage=critical,digitalSignature"]
    if server:
        names = ",".join(
            f"IP:{h}" if h.replace(".", "").isdigit() or ":" in h else f"DNS:{h}" for h in hosts
        )
        lines += ["extendedKeyUsage=serverAuth", f"subjectAltName={names}"]
    else:
        lines += ["extendedKeyUsage=clientAuth"]
    ext.write_text("\n".join(lines) + "\n")
    cert = directory / f"{name}.crt"
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca.cert), "-CAkey", str(ca.key),
        "-set_serial", str(secrets.randbits(63)), "-days", DAYS, "-sha256",
        "-extfile", str(ext), "-out", str(cert),
    )  # fmt: skip
    return KeyPair(cert, key)


def make_pki(directory: Path, name: str = "ca") -> Pki:
    """A CA `name`, a server certificate for localhost/127.0.0.1/::1 and a client certificate."""
    ca = make_ca(directory, name)
    return Pki(
        ca=ca,
        server=make_cert(directory, f"{name}-server", ca, server=True),
        client=make_cert(directory, f"{name}-client", ca, server=False),
    )
