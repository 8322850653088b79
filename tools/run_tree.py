"""Run one stack of *another* tree offline: `python -m tools.run_tree --project-dir <tree> --stack stg ...`.

The base of a pull request must be built from its own code, not the head's. This process puts the
tree first on `sys.path` and drops the head's root before anything of the program is imported, so
`components`, `__main__.py` and the stack files all come from the tree; only the runner (`tools`, already
imported as a package) is the head's, so both snapshots have the same format. `tools.preview` therefore
imports no module of the program (nor the pure library) at its top. Arguments after
`--project-dir` are those of `tools.preview`.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    tree = Path(argv[argv.index("--project-dir") + 1]).resolve()
    head_root = Path(__file__).resolve().parent.parent
    sys.path[:] = [str(tree)] + [p for p in sys.path if Path(p or ".").resolve() != head_root]
    from tools import preview  # the head's runner; the program it imports resolves in `tree`

    return preview.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
