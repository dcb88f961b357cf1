"""Live mode: follow an experiment while it runs (``operando watch``).

Each measurement an instrument writes into the watched folder is recognised by content,
processed with the batch pipeline as soon as it is complete, appended to the same series
store the batch command would write, placed on the potentiostat record as far as it has
grown, and shown on a local page that updates itself. ``operando demo --live DIR`` writes
a beamtime into a folder over time, to see it work on a laptop.
"""

from operando._lazy import lazy_exports

__all__ = [
    "EXPERIMENTS",
    "LIVE_KINDS",
    "SIMULATED_ECHEM_NAME",
    "SIMULATED_NMR_ECHEM_NAME",
    "SIMULATED_TOMO_ECHEM_NAME",
    "Completion",
    "LiveKind",
    "LiveServer",
    "LiveStatus",
    "Watch",
    "WatchEvent",
    "bliss_complete",
    "hdf5_complete",
    "lmno_kmap",
    "load_options",
    "parse_bind",
    "projections_written",
    "simulate_beamtime",
    "snapshot_growing_file",
    "topspin_complete",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "LIVE_KINDS": "operando.live._kinds",
        "LiveKind": "operando.live._kinds",
        "Completion": "operando.live._complete",
        "bliss_complete": "operando.live._complete",
        "hdf5_complete": "operando.live._complete",
        "projections_written": "operando.live._complete",
        "load_options": "operando.live._options",
        "topspin_complete": "operando.live._complete",
        "LiveServer": "operando.live._server",
        "LiveStatus": "operando.live._server",
        "parse_bind": "operando.live._server",
        "Watch": "operando.live._watch",
        "WatchEvent": "operando.live._watch",
        "snapshot_growing_file": "operando.live._watch",
        "simulate_beamtime": "operando.live._simulate",
        "lmno_kmap": "operando.live._simulate",
        "EXPERIMENTS": "operando.live._simulate",
        "SIMULATED_ECHEM_NAME": "operando.live._simulate",
        "SIMULATED_TOMO_ECHEM_NAME": "operando.live._simulate",
        "SIMULATED_NMR_ECHEM_NAME": "operando.live._simulate",
    },
    __all__,
)
