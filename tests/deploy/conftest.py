"""Deploy tests: deploy/, docker-compose.yml and docs/ checked offline, plus a live Prometheus scrape.

Shared helpers live in ``deploy_support`` beside this file; the folder is put on ``sys.path`` here so
they import the same way under any pytest import mode.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
