"""`mlops-levels levels`: print the maturity ladder from levels/."""

from __future__ import annotations

import argparse
import json

from mlops_levels.ladder import describe, load_ladder


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "levels",
        help="print the maturity ladder and each level's entry criteria",
        description="Print the maturity levels: what each adds, the tools and "
        "roles it assumes, and the entry criteria a repository must meet.",
    )
    parser.add_argument("--json", action="store_true", help="print the levels/ data as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    ladder = load_ladder()
    if args.json:
        print(json.dumps(list(ladder), indent=2))
        return 0
    for level in ladder:
        print(describe(level))
        print(f"    tools: {', '.join(level['tools'])}")
        print(f"    roles: {', '.join(level['roles'])}")
        for criterion in level["criteria"]:
            print(f"    [{criterion['id']}] {criterion['sentence']}")
        print()
    return 0
