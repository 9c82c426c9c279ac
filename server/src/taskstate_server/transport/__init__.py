"""The gRPC transport: proto <-> domain, auth, status codes, streams."""
