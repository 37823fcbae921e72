"""``python -m lane_sad_core`` runs the ``lane-sad`` command line."""

import sys

from lane_sad_core.cli import main

sys.exit(main())
