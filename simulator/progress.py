"""Progress bars for long steps: shown on an interactive terminal only, and only once a
step has lasted a couple of seconds, so output stays quiet by default."""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm

SHOW_AFTER_S = 2.0


def progress(total: int | None, desc: str, **kwargs: Any) -> tqdm:
    """Return a tqdm bar on stderr that appears after SHOW_AFTER_S seconds on a TTY."""
    return tqdm(
        total=total,
        desc=desc,
        file=sys.stderr,
        delay=SHOW_AFTER_S,
        disable=not sys.stderr.isatty(),
        leave=False,
        dynamic_ncols=True,
        **kwargs,
    )
