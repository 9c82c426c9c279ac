# syntax=docker/dockerfile:1
# taskstate server image.
#
#   docker build -t taskstate .
#
# The container listens on 0.0.0.0:50051, which is not loopback, so the server refuses to start
# unless callers must authenticate (a tokens file) or anonymous access is explicitly allowed:
#
#   # tokens.json: {"alice": ["token-a1"], "bob": ["token-b"]}
#   docker run -d --name taskstate -p 50051:50051 -v taskstate-data:/data \
#     -v "$PWD/tokens.json:/run/secrets/taskstate-tokens.json:ro" \
#     -e TASKSTATE_AUTH_TOKENS=/run/secrets/taskstate-tokens.json taskstate
#
#   # local experiments only: no authentication, every caller is owner "anonymous"
#   docker run --rm -p 127.0.0.1:50051:50051 -e TASKSTATE_ALLOW_ANONYMOUS=true taskstate
#
# Tasks are stored in SQLite at /data/taskstate.db (a volume, owned by uid 10001; a bind-mounted
# host directory must be writable by that uid).  Any server flag can be given as arguments
# (`docker run ... taskstate --max-ttl 12h`) or as TASKSTATE_<FLAG> environment variables, e.g. a
# shared store for several replicas: -e TASKSTATE_STORE=redis://redis:6379/0.  TLS: mount a
# certificate and key and set TASKSTATE_TLS_CERT / TASKSTATE_TLS_KEY.
# The HEALTHCHECK queries the gRPC health service (grpc.health.v1.Health) inside the container
# with `python -m taskstate_server.healthcheck`, which reads TASKSTATE_LISTEN.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- builder: wheels of the API package, the server with every store, and their dependencies -----
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1

WORKDIR /src
# The same dependency versions CI tests with (requirements-dev.txt pins them).  Each project's
# LICENSE is a link to the root one, so the root file comes too.
COPY requirements-dev.txt LICENSE ./
COPY api/python/ api/python/
COPY server/ server/
# [all]: the image serves every store (sqlite, redis, dynamodb); a pip user picks extras instead.
RUN pip wheel --no-cache-dir --wheel-dir /wheels --constraint requirements-dev.txt \
        ./api/python "./server[all]"

# --- runtime ---------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1 \
    TASKSTATE_STORE=sqlite:////data/taskstate.db \
    TASKSTATE_LISTEN=0.0.0.0:50051

# Every wheel the builder made: taskstate-api, the server and the dependencies of server[all]
# (the server needs only the generated API package, not the Python client).
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels /wheels/*.whl \
    && groupadd --system --gid 10001 taskstate \
    && useradd --system --uid 10001 --gid taskstate --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin taskstate \
    && mkdir -p /data \
    && chown taskstate:taskstate /data

USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 50051

HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-m", "taskstate_server.healthcheck"]

ENTRYPOINT ["taskstate-server"]
