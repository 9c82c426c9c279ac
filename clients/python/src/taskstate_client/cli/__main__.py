"""`python -m taskstate_client.cli`: the same as the `taskstate` command."""

import sys

from taskstate_client.cli import main

sys.exit(main())
