"""``python -m trio_gemini_live``: the command line (see :mod:`trio_gemini_live._cli`)."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
