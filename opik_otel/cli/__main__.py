"""`python -m opik_otel.cli …`: the same as the `opik-otel` command."""

import sys

from opik_otel.cli import main

sys.exit(main())
