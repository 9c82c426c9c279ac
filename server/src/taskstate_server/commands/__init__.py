"""Subcommands of `taskstate-server` other than serving (which needs no subcommand).

Each module has `NAME`, `add_parser(subparsers, env)` and `run(args) -> exit code`.
"""
