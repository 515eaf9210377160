"""`towline-field serve`: the driver's screen, on this machine only."""

from __future__ import annotations

import click

from fieldclient.cli.common import (
    Env,
    command,
)

COMMANDS: list[click.Command] = []


def _loopback(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    """Only an address of this machine: the screen has no protection but the PIN, so it
    must never be reachable from the network."""
    import ipaddress

    if value == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        address = None
    if address is None or address.version != 4 or not address.is_loopback:
        raise click.BadParameter(
            f"« {value} » : l'écran ne sert que cette machine (127.0.0.1), jamais le réseau."
            f" / “{value}”: the screen serves this machine only (127.0.0.1), never the network."
        )
    return value


@command(COMMANDS)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=8765,
    show_default=True,
    help="The port on 127.0.0.1.",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    callback=_loopback,
    help="A loopback address (127.x.x.x); any other address is refused (exit 2).",
)
def serve(env: Env, port: int, host: str) -> None:
    """The driver's screen: the tablet's missions, the gate, collections, the register and
    the sync, in the tablet's browser. Served on this machine only (127.0.0.1); drivers
    sign in with their PIN. Ctrl-C stops it.

    \b
    Example:
      towline-field serve
      towline-field serve --port 8800
    then open http://127.0.0.1:8765/ in the tablet's browser.

    Exit codes: 2 bad option or port in use, 3 tablet not enrolled.
    """
    import socket

    from werkzeug.serving import make_server  # the web stack, only for this command

    from fieldclient.screen import create_app

    env.tablet.device_id  # noqa: B018 - refuses a tablet that is not enrolled, saying how
    env.tablet.close()
    app = create_app(env.home, host=host)
    try:
        # Bound here, so a busy port is an error in words (werkzeug would exit by itself).
        listening = socket.create_server((host, port))
    except OSError as error:
        raise click.UsageError(
            env.t(
                f"Port {port} indisponible ({error.strerror}) : choisissez-en un autre"
                " avec --port.",
                f"Port {port} unavailable ({error.strerror}): choose another with --port.",
            )
        ) from None
    with listening:
        server = make_server(host, port, app, threaded=True, fd=listening.fileno())
    url = f"http://{host}:{port}/"
    click.echo(
        env.t(
            f"Écran du chauffeur : {url}  (Ctrl-C pour arrêter)",
            f"Driver's screen: {url}  (Ctrl-C to stop)",
        )
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
