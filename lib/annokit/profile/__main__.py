"""``python -m annokit.profile check|show|schema``: validate a profile, print its resolved
settings, or write the JSON schema of a profile file."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from annokit.cli import add_debug_flag, called_as, run_cli
from annokit.profile.load import available_profiles, load_profile
from annokit.profile.schema import profile_schema
from annokit.profile.strict import ProfileError

PROG = "python -m annokit.profile"
INVALID = 1


def main(argv: list[str] | None = None) -> int:
    """Run one command; an invalid profile prints every one of its errors and returns 1."""
    parser = argparse.ArgumentParser(prog=called_as(PROG), description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser(
        "check", help="validate a profile: exit 0 when valid, 1 with every problem when not"
    )
    check.add_argument(
        "profile",
        help=f"a shipped profile ({', '.join(available_profiles())}) or a path to a TOML file",
    )
    show = commands.add_parser("show", help="print every resolved setting, defaults included")
    show.add_argument("profile", help="a shipped profile name or a path to a TOML file")
    show.add_argument(
        "--json", action="store_true", help="as JSON (sections as objects, keys as in the TOML)"
    )
    schema = commands.add_parser("schema", help="the JSON schema of a profile file, for editors")
    schema.add_argument("--out", type=Path, help="write it to this file (default: print it)")
    for command in (check, show, schema):
        add_debug_flag(command)
    args = parser.parse_args(argv)
    if args.command == "schema":
        return write_schema(args.out)
    try:
        profile = load_profile(args.profile)
    except ProfileError as error:
        if args.debug:
            raise
        print(
            f"{called_as(PROG)}: error: {error}", file=sys.stderr
        )  # every line, as run_cli would join them
        return INVALID
    if args.command == "check":
        print(f"{args.profile}: valid ({profile.description})")
    elif args.json:
        print(profile.to_json())
    else:
        for key, value in profile.to_dict().items():
            if isinstance(value, dict):
                print(f"[{key}]")
                print("\n".join(f"  {k} = {v!r}" for k, v in value.items()))
            else:
                print(f"{key} = {value!r}")
    return 0


def write_schema(out: Path | None) -> int:
    """Print the schema, or write it to ``out``."""
    text = json.dumps(profile_schema(), indent=2) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
        print(f"{out}: the JSON schema of a profile file")
    return 0


if __name__ == "__main__":
    run_cli(main, prog=PROG)
