"""``python -m gateway`` is the ``helpdesk`` command."""

import sys

from gateway.cli import main

sys.exit(main())
