"""A LightningCLI whose user mistakes end in one ``<program>: error: ...`` line, for every ganbench command.

Used by ``ganbench`` (:mod:`ganbench.cli`) and ``ganbench-classifier`` (:mod:`ganbench.classifier`). It imports
no network, model or callback, so any command can use it without importing the others' parts.
"""

import sys
from argparse import ArgumentError

from lightning.pytorch.cli import LightningCLI

from ganbench.errors import ConfigError, GanbenchError
from ganbench.help import EPILOG, ShortHelpFormatter
from ganbench.parser_errors import explain, parser_keys


class OneLineErrorsCLI(LightningCLI):
    """A LightningCLI whose config errors (unknown key, wrong type, class path that does not import) are one line.

    Abbreviated options are refused: argparse would take ``--model.schedul`` for ``--model.schedule``.
    """

    def __init__(self, *args, **kwargs) -> None:
        kwargs["parser_kwargs"] = {"exit_on_error": False, **(kwargs.get("parser_kwargs") or {})}
        super().__init__(*args, **kwargs)

    def init_parser(self, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        return super().init_parser(**kwargs)

    def parse_arguments(self, parser, args) -> None:
        try:
            super().parse_arguments(parser, args)
        except ArgumentError as error:
            words = sys.argv[1:] if args is None else [str(arg) for arg in args]
            subcommand = next((word for word in words if not word.startswith("-")), "fit")
            help_command = f"{parser.prog} {subcommand} --help"
            raise ConfigError(explain(str(error), parser_keys(parser), help_command)) from None


def run_cli(
    cli_class: type[LightningCLI], program: str, args: list[str] | None = None, description: str | None = None
) -> None:
    """Runs a LightningCLI so that a user's mistake ends in one ``<program>: error: ...`` line.

    Args:
        cli_class: the LightningCLI subclass to run.
        program: the command's name, starting the error line.
        args: command-line arguments (``sys.argv`` when ``None``).
        description: the first line of ``--help`` (instead of Lightning's "Lightning Trainer command line tool").
    """
    # Trainer options abridged and library classes counted, to fit a terminal (ganbench.help). jsonargparse gives
    # each subcommand's parser the main parser's formatter_class, so it is set there.
    parser_kwargs: dict = {"prog": program, "formatter_class": ShortHelpFormatter}
    if description:
        parser_kwargs["description"] = description
    # argparse's usage line would list every option again (~70 lines before the help proper): a short one instead.
    usage = "%(prog)s [-h] [-c CONFIG] [--print_config] [--SECTION.KEY VALUE ...]"
    parser_kwargs.update({subcommand: {"usage": usage, "epilog": EPILOG} for subcommand in cli_class.subcommands()})
    try:
        cli_class(args=args, parser_kwargs=parser_kwargs)
    except Exception as error:
        user_error = _find_user_error(error)
        if user_error is None:
            raise
        print(f"{program}: error: {user_error}", file=sys.stderr)
        raise SystemExit(2) from None


def _find_user_error(error: BaseException | None) -> GanbenchError | None:
    """The GanbenchError behind ``error``: jsonargparse wraps errors raised in constructors."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, GanbenchError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None
