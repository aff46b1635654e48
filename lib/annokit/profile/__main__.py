"""``python -m annokit.profile check|show NAME_OR_PATH``: validate a profile, or print its resolved settings."""

from __future__ import annotations

import argparse

from annokit.cli import add_debug_flag, run_cli
from annokit.profile.load import available_profiles, load_profile


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m annokit.profile", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="validate a profile: exit 0 when valid, 1 with the problem when not")
    check.add_argument("profile", help=f"a shipped profile ({', '.join(available_profiles())}) or a path to a TOML file")
    show = commands.add_parser("show", help="print every resolved setting, defaults included")
    show.add_argument("profile", help="a shipped profile name or a path to a TOML file")
    show.add_argument("--json", action="store_true", help="as JSON (sections as objects, keys as in the TOML)")
    for command in (check, show):
        add_debug_flag(command)
    args = parser.parse_args(argv)
    profile = load_profile(args.profile)  # a ProfileError is the one line run_cli prints
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


if __name__ == "__main__":
    run_cli(main, prog="python -m annokit.profile")
