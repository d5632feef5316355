"""``python -m polartrace.cli``: the polartrace command line."""

from polartrace.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
