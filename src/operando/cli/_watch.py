"""``operando watch``: follow an experiment while it runs.

The root app registers :func:`watch_command` as a single command::

    app.command("watch")(watch_command)
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated

import typer

from operando.cli._options import QuietOption, SchedulerOption, WorkersOption, run_on
from operando.errors import ParameterError
from operando.live import load_options

__all__ = ["load_options", "watch_command"]


def watch_command(
    folder: Annotated[Path, typer.Argument(help="The folder the instruments write into (followed recursively).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Results folder: series stores, report.html, state.")],
    echem: Annotated[
        Path | None, typer.Option("--echem", help="The potentiostat file that keeps growing (any known format).")
    ] = None,
    serve: Annotated[
        str | None,
        typer.Option("--serve", help="Serve the live page on HOST:PORT (e.g. 127.0.0.1:8765; local only by default)."),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="TOML file of pipeline options, one table per kind (sxdm, tomo, nmr), "
            "e.g. reflection = '400' in the sxdm table, center = 24.0 in the tomo table.",
        ),
    ] = None,
    reflection: Annotated[str | None, typer.Option("--reflection", help="SXDM: Miller indices, e.g. 400.")] = None,
    detector: Annotated[str | None, typer.Option("--detector", help="SXDM: the 2D detector's name.")] = None,
    voxel_size_um: Annotated[
        float | None, typer.Option("--voxel-size-um", help="Tomography: voxel size, um, when the scans record none.")
    ] = None,
    center: Annotated[
        float | None, typer.Option("--center", help="Tomography: rotation centre, px from the centre of pixel 0.")
    ] = None,
    settle_s: Annotated[
        float, typer.Option("--settle-s", help="Take a complete measurement once its files are unchanged this long.")
    ] = 2.0,
    poll: Annotated[bool, typer.Option("--poll", help="Poll instead of file events (network file systems).")] = False,
    once: Annotated[bool, typer.Option("--once", help="Process what is complete now and exit.")] = False,
    scheduler: SchedulerOption = None,
    workers: WorkersOption = None,
    quiet: QuietOption = False,
) -> None:
    """Follow FOLDER as instruments write into it: each measurement processed as it lands.

    Measurements are recognised by content and processed with the batch command's pipeline, into the store it writes:

    Bliss K-maps once every scan has ended, as `operando sxdm series` (OUT/sxdm_maps.zarr).

    DXchange/NeXus scans once every projection is written and the file stopped growing, as `tomo series`
    (OUT/tomo_series.zarr).

    TopSpin folders once the fid holds TD points and audita.txt the end, as `nmr process` (OUT/nmr_spectra.zarr).

    Each is placed on --echem as far as it has grown; OUT/report.html is rewritten atomically after each one.

    Failed measurements are listed there with their error; --serve shows the page live.

    Restarting on the same folders goes on where it stopped. Ctrl-C ends the watch.
    """
    from operando.live import LiveServer, LiveStatus, Watch, WatchEvent, parse_bind

    if not folder.is_dir():
        raise ParameterError("the folder to watch does not exist or is not a folder", path=folder)
    root, results = folder.resolve(), out.resolve()
    if results == root:
        raise ParameterError("-o must not be the watched folder itself (use a subfolder or another folder)", path=out)
    if results.exists() and not results.is_dir():
        raise ParameterError("-o must be a folder", path=out)
    if echem is not None and results in echem.resolve().parents:
        raise ParameterError("the potentiostat file lies inside the results folder", path=echem)
    if not settle_s >= 0:
        raise ParameterError(f"--settle-s must be >= 0, got {settle_s}")
    options = load_options(config, reflection=reflection, detector=detector, voxel_size_um=voxel_size_um, center=center)
    bind = parse_bind(serve) if serve else None

    status = LiveStatus()

    def show(event: WatchEvent) -> None:
        if event.what == "added":
            status.measurements += 1
            status.latest = Path(event.key).name
            status.errors.pop(event.key, None)
            typer.echo(f"{event.kind}: {event.key} added in {event.seconds:.1f} s")
        elif event.what == "failed":
            status.errors[event.key] = event.message
            typer.echo(f"{event.kind}: {event.key} failed: {event.message}", err=True)
        elif event.what == "report":
            status.errors.clear()  # errors that went away (a potentiostat file that now has rows)
            status.errors.update(watch.errors)
            status.version += 1
            if not quiet:
                typer.echo(f"report: {event.key}")

    watch = Watch(root, results, echem=echem, options=options, settle_s=0.0 if once else settle_s, on_event=show)
    status.measurements = watch.n_measurements
    status.errors.update(watch.errors)
    server = None
    if bind is not None:
        server = LiveServer(results, status, host=bind[0], port=bind[1])
        server.start()
        typer.echo(f"operando watch: live page at {server.url}")
    stop = threading.Event()
    typer.echo(f"operando watch: following {root} -> {results}" + (" (one pass)" if once else " (Ctrl-C to stop)"))
    try:
        with run_on(scheduler, workers, quiet=True, description="measurement"):
            if once:
                watch.step()
            else:
                watch.run(stop=stop, poll=poll)
    except KeyboardInterrupt:
        typer.echo("operando watch: stopped; a rerun goes on where this one stopped", err=True)
    finally:
        stop.set()
        if server is not None:
            server.stop()
