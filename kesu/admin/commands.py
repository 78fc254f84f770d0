"""``kesu admin``: tokens for the admin API and page (``[admin.tokens.<name>]``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

admin_app = typer.Typer(help="The admin API (/admin/api) and page (/admin): tokens.", no_args_is_help=True)
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", "-c", help="Path of kesu.toml")]


@admin_app.command("token")
def token(
    name: Annotated[str, typer.Argument(help="Who holds it; recorded as who decided (e.g. wang-li)")],
    scope: Annotated[Optional[list[str]], typer.Option(
        "--scope", help="read (see) and/or write (act); repeat for both (default: read and write)")] = None,
    config: ConfigOpt = None,
) -> None:
    """Create (or replace) an admin token in kesu.toml and print it once."""
    from kesu.admin.config_file import ConfigEditError, add_admin_token
    from kesu.cli import console
    from kesu.settings import find_config

    path = find_config(config) or Path.cwd() / "kesu.toml"
    try:
        secret = add_admin_token(path, name, scope or ["read", "write"])
    except ConfigEditError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print(f"[admin.tokens.{name}] written to {path} (scopes: {', '.join(scope or ['read', 'write'])}); "
                  "restart kesu to apply. The token (shown once):", markup=False)
    typer.echo(secret)


@admin_app.command("tokens")
def tokens(config: ConfigOpt = None) -> None:
    """List the configured token names and scopes (never the tokens)."""
    from rich.table import Table

    from kesu.cli import _settings, console

    table = Table("name", "scopes")
    for name, entry in sorted(_settings(config).admin.tokens.items()):
        table.add_row(name, ", ".join(entry.scopes))
    console.print(table)
