"""Entry point of ``python -m annokit.demo --root DIR``: generate (or reuse) the demo and describe it."""

from annokit.demo.cli import main

if __name__ == "__main__":
    main()
