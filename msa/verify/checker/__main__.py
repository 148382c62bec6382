"""`python3 -m checker --spec spec.json`: how the verification Job runs the checker (job.py)."""

import sys

from .cli import main

sys.exit(main())
