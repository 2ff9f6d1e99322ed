#!/usr/bin/env python3
"""Several dejunk proxies behind HAProxy, as one proxy: `python scripts/serve.py --workers N [--listen HOST:PORT] [mitmdump options]`.

The same as `dejunk serve`; addons/serve.py says what it starts and how the parts share their state.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from addons import serve  # noqa: E402

if __name__ == "__main__":
    sys.exit(serve.main(sys.argv[1:]))
