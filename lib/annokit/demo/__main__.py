"""Entry point of ``python -m annokit.demo --root DIR``: generate (or
reuse) the demo and describe it."""

from annokit.cli import run_cli
from annokit.demo.command import main

if __name__ == "__main__":
    run_cli(main, prog="python -m annokit.demo")
