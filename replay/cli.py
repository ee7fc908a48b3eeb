"""``healthdex replay SOURCE``: serve saved pages or a WARC under their original URLs, in the foreground."""

from __future__ import annotations

import signal
import sys
import time

import click

from healthdex.errors import UserError


def _format(entry: object) -> str:
    from replay.server import RequestLogEntry

    if isinstance(entry, RequestLogEntry):
        stamp = time.strftime("%H:%M:%S", time.localtime(entry.time))
        fault = f" [fault {entry.fault}]" if entry.fault else ""
        return f"{stamp} {entry.client} {entry.method} {entry.url} {entry.status or 'reset'}{fault}"
    return str(entry)


@click.command("replay")
@click.argument("source", type=click.Path(path_type=str))
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port to listen on (0: any free port).")
@click.option("--host", default=None, help="Address to listen on [default: 127.0.0.1]; a non-loopback address "
              "is only used when given here explicitly.")
@click.option("--faults", "faults_file", type=click.Path(path_type=str), default=None,
              help="TOML file of [[fault]] tables (match = URL/glob/re:REGEX plus fault fields).")
@click.option("--idle-timeout", type=click.FloatRange(min=0.1), default=5.0, show_default=True,
              help="Seconds a connection may take to send its next whole request (then it is closed).")
@click.option("-v", "--verbose", is_flag=True, help="Print one line per request.")
def replay_command(source: str, port: int, host: str | None, faults_file: str | None, idle_timeout: float,
                   verbose: bool) -> None:
    """Serve SOURCE (a folder with MANIFEST.tsv, or a .warc/.warc.gz) as an HTTP/HTTPS proxy that answers for
    the pages' original URLs.  Point a crawler's proxy (for http and https) at the printed address."""
    from replay.faults import load_faults_toml
    from replay.server import ReplayServer

    faults = None
    if faults_file is not None:
        try:
            faults = load_faults_toml(faults_file)
        except ValueError as exc:
            raise UserError(str(exc)) from None

    def emit(entry: object) -> None:
        click.echo(_format(entry))
        sys.stdout.flush()

    server = ReplayServer(source, host=host or "127.0.0.1", port=port, faults=faults, allow_remote=host is not None,
                          idle_timeout=idle_timeout, on_request=emit if verbose else None, verbose=verbose)

    def on_signal(signum: int, frame: object) -> None:
        server._stopping.set()

    previous = signal.signal(signal.SIGTERM, on_signal)  # installed before the ready line is printed
    try:
        server.start()
    except BaseException:
        signal.signal(signal.SIGTERM, previous)
        raise
    for skipped in server.archive.skipped:  # damaged WARC stretches, unusable rows and records: one line each
        click.echo(f"replay: skipped {skipped}", err=True)
    fault_note = f", {len(server.faults)} fault rule(s)" if len(server.faults) else ""
    click.echo(f"replay: serving {len(server.archive)} pages from {server.archive.description} on "
               f"{server.proxy_url} (use it as the HTTP/HTTPS proxy){fault_note}")
    sys.stdout.flush()
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.stop()
    click.echo("replay: stopped")
