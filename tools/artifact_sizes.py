"""Print the unzipped size of each `sam build` artifact and of each function with its layers.

Usage: python tools/artifact_sizes.py .aws-sam/build template.yaml

Lambda's hard limit is 250 MB (262,144,000 bytes) for a function plus all its layers,
unzipped; our own budget is 200 MiB. Exits 1 when a function is over the budget.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from aiaas_dev.cfn import load_yaml

MIB = 1024 * 1024
LAMBDA_LIMIT = 262_144_000
BUDGET = 200 * MIB


def tree_size(path: Path) -> int:
    """Bytes of every file below ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def report(build_dir: Path, template: Path) -> dict[str, object]:
    """Sizes of every artifact, and per function: itself plus its layers."""
    resources = load_yaml(template)["Resources"]
    artifacts = {p.name: tree_size(p) for p in sorted(build_dir.iterdir()) if p.is_dir()}
    functions = {}
    for name, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function" or name not in artifacts:
            continue
        layers = [ref["Ref"] for ref in resource["Properties"].get("Layers", [])]
        total = artifacts[name] + sum(artifacts.get(layer, 0) for layer in layers)
        functions[name] = {"layers": layers, "bytes": total, "mib": round(total / MIB, 1)}
    return {
        "artifacts_mib": {name: round(size / MIB, 1) for name, size in artifacts.items()},
        "functions": functions,
        "lambda_limit_bytes": LAMBDA_LIMIT,
        "budget_mib": BUDGET // MIB,
    }


def main() -> int:
    """Print the table and the JSON; fail when a function is over budget."""
    result = report(Path(sys.argv[1]), Path(sys.argv[2]))
    for name, mib in result["artifacts_mib"].items():  # type: ignore[attr-defined]
        print(f"  {name:<20} {mib:>7.1f} MiB")
    over = []
    for name, info in result["functions"].items():  # type: ignore[attr-defined]
        print(f"  {name} + layers = {info['mib']:.1f} MiB (budget {BUDGET // MIB} MiB, "
              f"Lambda limit {LAMBDA_LIMIT / MIB:.1f} MiB)")  # fmt: skip
        if info["bytes"] > BUDGET:
            over.append(name)
    print(json.dumps(result))
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
