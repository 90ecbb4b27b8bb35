"""``python -m bot`` runs the transcript-bot command line."""

import sys

from .cli import main

sys.exit(main())
