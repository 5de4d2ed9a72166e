"""``ipnsim`` and ``python -m ipnsim``: the command line.

``ipnsim serve ROLE …``, what every service process runs, starts the service without loading the
rest of the command line (typer, rich, the population generator, every other command's
modules: some 14 MiB of each service's memory) when its arguments are well formed. Anything
else, ``serve --help`` and a malformed ``serve`` included, goes to the full command line.
"""

import sys


def main() -> None:
    if sys.argv[1:2] == ["serve"]:
        from ipnsim.serve import parse_serve_arguments, serve

        parsed = parse_serve_arguments(sys.argv[2:])
        if parsed is not None:
            sys.exit(serve(*parsed))
    from ipnsim.cli import main as command_line

    command_line()


if __name__ == "__main__":
    main()
