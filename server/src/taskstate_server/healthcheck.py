"""`python -m taskstate_server.healthcheck [host:port]`: exit 0 iff the server is SERVING.

Used by the Docker HEALTHCHECK; needs no grpcurl in the image. With TASKSTATE_TLS_CERT set
it speaks TLS, trusting that certificate (expected name: TASKSTATE_HEALTHCHECK_SERVER_NAME,
default localhost). A server that requires client certificates (TASKSTATE_TLS_CLIENT_CA)
is shown TASKSTATE_CLIENT_CERT and TASKSTATE_CLIENT_KEY, the client's own variables.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _client_identity(env: Mapping[str, str]) -> dict[str, bytes]:
    """The client certificate for a mutual-TLS server, if it requires one."""
    if not env.get("TASKSTATE_TLS_CLIENT_CA"):
        return {}
    cert, key = env.get("TASKSTATE_CLIENT_CERT"), env.get("TASKSTATE_CLIENT_KEY")
    if not (cert and key):
        raise SystemExit(
            "unhealthy: the server requires client certificates (TASKSTATE_TLS_CLIENT_CA): "
            "set TASKSTATE_CLIENT_CERT and TASKSTATE_CLIENT_KEY"
        )
    return {"certificate_chain": _read(cert), "private_key": _read(key)}


def main() -> int:
    listen = (
        sys.argv[1] if len(sys.argv) > 1 else os.environ.get("TASKSTATE_LISTEN", "127.0.0.1:50051")
    )
    host, _, port = listen.rpartition(":")
    if host in ("0.0.0.0", "[::]", "::", ""):
        host = "127.0.0.1"
    target = f"{host}:{port}"
    cert = os.environ.get("TASKSTATE_TLS_CERT")
    if cert:
        # Trust the server's own certificate; the name it was issued for may not be 127.0.0.1.
        creds = grpc.ssl_channel_credentials(
            root_certificates=_read(cert), **_client_identity(os.environ)
        )
        name = os.environ.get("TASKSTATE_HEALTHCHECK_SERVER_NAME", "localhost")
        channel = grpc.secure_channel(target, creds, (("grpc.ssl_target_name_override", name),))
    else:
        channel = grpc.insecure_channel(target)
    try:
        with channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=3
            )
    except grpc.RpcError as exc:
        print(f"unhealthy: {exc.code().name}", file=sys.stderr)
        return 1
    serving = reply.status == health_pb2.HealthCheckResponse.SERVING
    print("SERVING" if serving else health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))
    return 0 if serving else 1


if __name__ == "__main__":
    sys.exit(main())
