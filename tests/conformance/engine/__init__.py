"""The conformance engine: runs the JSON vectors through a language's driver (see ../README.md).

``vectors`` loads, validates and expands scenarios; ``matchers`` resolves paths and checks
expectations; ``driver`` speaks the line protocol to a driver process; ``scenario`` runs the
steps. The engine is the only place that knows the vector format: drivers only call clients.
"""
