"""`greentune ledger sync`: write the records that finished while the ledger could not take them."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

ledger_app = typer.Typer(help="Look after the ledger (sync records kept in run folders).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add `ledger sync`."""
    app.add_typer(ledger_app, name="ledger")


@ledger_app.command("sync")
def sync_command(
    tracking_uri: str | None = typer.Option(
        None, "--tracking-uri", help="MLflow store; default greentune-runs/mlflow.db"
    ),
) -> None:
    """Write every run record marked PENDING_SYNC (beside the ledger) to the ledger; exit 1 if any is left."""
    from greentune.ledger import default_tracking_uri, pending_runs, sync_pending

    uri = tracking_uri or default_tracking_uri()
    console = Console(soft_wrap=True, highlight=False)
    if not pending_runs(uri):
        console.print(f"nothing to sync: no run folder beside {uri} waits for the ledger")
        return
    result = sync_pending(uri)
    for record in result.synced:
        console.print(f"synced {escape(record.run_name)} ({record.status}) as {record.run_id}")
    for pending in result.failed:
        console.print(f"[red]not synced[/red] {escape(str(pending.folder))}: {escape(pending.reason)}")
    console.print(f"{len(result.synced)} synced, {len(result.failed)} left")
    if result.failed:
        raise typer.Exit(1)
