"""MCP tasks on taskstate: durable, multi-replica task support for MCP servers and clients."""
