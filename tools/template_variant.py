"""Write a copy of template.yaml with parameter defaults changed (``make validate`` lints the
GPU variant switched on as well as off).

Usage: ``python tools/template_variant.py OUT NAME=VALUE...``. Only ``Default:`` lines of the
named parameters change, so comments and tags stay as written.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def with_defaults(text: str, defaults: dict[str, str]) -> str:
    """The template text with each named parameter's ``Default:`` replaced."""
    for name, value in defaults.items():
        pattern = re.compile(rf"(\n  {re.escape(name)}:\n(?:    .*\n)*?    Default: ).*\n")
        text, count = pattern.subn(lambda m, v=value: f"{m.group(1)}{v}\n", text)
        if count != 1:
            raise SystemExit(f"parameter {name} with a Default not found")
    return text


def main() -> None:
    """Write the variant next to the original (relative CodeUri paths keep working)."""
    out, pairs = Path(sys.argv[1]), sys.argv[2:]
    defaults = dict(pair.split("=", 1) for pair in pairs)
    out.write_text(with_defaults((ROOT / "template.yaml").read_text(), defaults))


if __name__ == "__main__":
    main()
