"""`gateway demo`: the whole sign-in journey on one machine, with sample data."""

from __future__ import annotations

import os
from pathlib import Path

import click

from gateway.devidp.salesforce import DEMO_SYNC_INTERVAL_SECONDS
from gateway.devidp.servers import DemoPorts, RunningDemo, start_demo

DESTINATION_LABELS = {
    "legacy": "Legacy license center",
    "new": "New license center",
    "choose": "a choice of both license centers",
    "no-access": "'no access' page naming the org admins",
    "no-entitlements": "'no active entitlements' page",
    "it-console": "IT migration console (/it/)",
    "support-console": "vendor support's pages",
}


def _default_port() -> int:
    return int(os.environ.get("PORT", "8000"))


@click.command("demo")
@click.option(
    "--port",
    type=int,
    default=_default_port,
    show_default="$PORT or 8000",
    help="Gateway port; the stand-in license centers take the next two.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--instance",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("instance/demo"),
    show_default=True,
    help="Folder for the demo's database, keys and SAML settings.",
)
@click.option(
    "--reset",
    is_flag=True,
    help="Start from the sample data again: wipe the instance's database first "
    "(line states IT changed, remembered choices, audit log); the secret key stays.",
)
def demo_command(port: int, host: str, instance: Path, reset: bool) -> None:
    """Run the gateway with a development IdP, sample data, two stand-in license centers,
    which sign users in through the gateway's OpenID Connect provider, and a stand-in
    Salesforce that the gateway syncs from.

    Everything runs in this one process until Ctrl-C; it is never how production runs.
    """
    from gateway.core.settings import SettingsError
    from gateway.directory.service import ImportRejected

    try:
        running = start_demo(instance.resolve(), host, DemoPorts.consecutive(port), reset=reset)
    except OSError as error:
        raise click.ClickException(
            f"cannot listen on {host} ports {port}-{port + 2} ({error}); try --port"
        ) from None
    except (SettingsError, ImportRejected) as error:
        raise click.ClickException(str(error)) from None
    # From here on every way out stops the servers: a Ctrl-C that arrives while the
    # banner is printed (a script that waits for the banner sends it at once) included.
    try:
        if reset:
            click.echo(f"Reset: {instance} starts from the sample data again.")
        click.echo(_banner(running))
        running.wait()
    except KeyboardInterrupt:
        click.echo("stopping")
    finally:
        running.stop()


def _banner(running: RunningDemo) -> str:
    width = max(len(user.email) for user in running.users)
    lines = [
        "",
        f"Switchyard demo: open {running.gateway_url}/",
        f"  Legacy license center (relying party): {running.legacy_url}/",
        f"  New license center (relying party):    {running.new_url}/",
        f"  Mail the gateway sent (invitations):   {running.mailbox_url}",
        f"  Stand-in Salesforce (HTTPS):           {running.salesforce_url}/",
        f"  Its sync runs, every {DEMO_SYNC_INTERVAL_SECONDS} s (IT):        "
        f"{running.gateway_url}/it/salesforce/runs",
        "",
        "Sign in at the development IdP as any of these sample users:",
        f"  {'email'.ljust(width)}  {'organisation':<20} will see",
    ]
    for user in running.users:
        label = DESTINATION_LABELS[user.destination.key]
        lines.append(
            f"  {user.email.ljust(width)}  {user.account_name:<20} {label} ({user.destination.why})"
        )
    lines += ["", "Press Ctrl-C to stop."]
    return "\n".join(lines)
