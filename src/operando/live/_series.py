"""A series store that grows one measurement at a time, and survives being killed.

``RESULTS_DIR/<store>`` is the store ``series`` would write from the same measurements
(same variables, the ``frame`` dimension in acquisition order, a ``key`` coordinate). It
is rewritten atomically after each measurement, so a reader never sees half a store. The
measurements themselves live in ``RESULTS_DIR/.operando-watch/<kind>/frames/NNNNNN.zarr``,
each written atomically, with an index (``index.json``) of their keys and the signature of
the input files they were computed from, and the options they were computed with. A
restarted watch keeps every frame whose inputs and options are unchanged and computes the
rest, so a run killed mid-measurement and restarted ends with the same store as an
uninterrupted one.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xarray as xr

from operando.store import store_status, write_frame

__all__ = ["LiveSeries"]


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


@dataclass
class LiveSeries:
    """The measurements of one kind seen so far, and the store made of them.

    Parameters
    ----------
    results : pathlib.Path
        The results folder.
    kind : str
        Short name (``sxdm``, ``tomo``); the working folder is ``.operando-watch/<kind>``.
    store_name : str
        The store's file name in ``results`` (e.g. ``sxdm_maps.zarr``).
    options : dict
        The processing options; frames computed with other options are discarded.
    """

    results: Path
    kind: str
    store_name: str
    options: dict[str, Any]
    entries: list[dict[str, Any]] = field(default_factory=list)

    @property
    def work(self) -> Path:
        return self.results / ".operando-watch" / self.kind

    @property
    def target(self) -> Path:
        return self.results / self.store_name

    @property
    def keys(self) -> list[str]:
        return [e["key"] for e in self.entries]

    def _index(self) -> Path:
        return self.work / "index.json"

    def load(self) -> None:
        """Read the index a previous watch left; start afresh where the options differ."""
        try:
            index = json.loads(self._index().read_text())
        except FileNotFoundError:
            index = None
        except (OSError, ValueError):
            index = None
        if index is None or index.get("options") != json.loads(_json(self.options)):
            if self.work.exists():
                shutil.rmtree(self.work)
            self.entries = []
            return
        self.entries = [e for e in index.get("entries", []) if store_status(self.work / "frames" / e["frame"]).complete]

    def _save(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        tmp = self._index().with_suffix(".tmp")
        tmp.write_text(_json({"options": self.options, "entries": self.entries}))
        tmp.replace(self._index())

    def signature_of(self, key: str) -> Any:
        """The input signature a frame was computed from, or None when not computed."""
        for e in self.entries:
            if e["key"] == key:
                return e["signature"]
        return None

    def reference_of(self, key: str) -> str | None:
        """The reference measurement a frame was computed against (None: not recorded)."""
        for e in self.entries:
            if e["key"] == key:
                return e.get("reference")
        return None

    def add(
        self, key: str, signature: Any, compute: Callable[[str, Path], xr.Dataset], *, reference: str | None = None
    ) -> None:
        """Compute one measurement and write its frame (atomically); replaces a stale one.

        Parameters
        ----------
        key : str
            The measurement (its path).
        signature : object
            JSON-able signature of its input files (sizes, modification times).
        compute : callable
            ``compute(key, side) -> Dataset`` of one measurement (no ``frame`` dimension);
            ``side`` is the frame's own folder for what the store needs beside it.
        reference : str, optional
            The measurement it was computed against (a K-map's reference map), recorded so
            that it is computed again when another becomes the reference.
        """
        old = [e for e in self.entries if e["key"] == key]
        name = old[0]["frame"] if old else self._free_name()
        side = self.side_of(name)
        if side.exists():
            shutil.rmtree(side)  # left by a run killed while computing this frame
        write_frame(compute(key, side), self.work / "frames" / name)  # atomic; the store's own frame writer
        entry = {"key": key, "signature": json.loads(_json(signature)), "frame": name}
        if reference is not None:
            entry["reference"] = reference
        self.entries = [entry if e["key"] == key else e for e in self.entries] if old else [*self.entries, entry]
        self._save()

    def remove(self, key: str) -> None:
        """Forget a measurement (its frame and side folder are removed)."""
        for e in [e for e in self.entries if e["key"] == key]:
            shutil.rmtree(self.work / "frames" / e["frame"], ignore_errors=True)
            shutil.rmtree(self.side_of(e["frame"]), ignore_errors=True)
        self.entries = [e for e in self.entries if e["key"] != key]
        self._save()

    def _free_name(self) -> str:
        used = {e["frame"] for e in self.entries}
        n = len(self.entries)
        while f"{n:06d}.zarr" in used:
            n += 1
        return f"{n:06d}.zarr"

    def side_of(self, frame: str) -> Path:
        """The side folder of a frame (e.g. a tomography scan's kept volume)."""
        return self.work / "side" / Path(frame).stem

    def sides(self) -> list[Path]:
        """Each stored measurement's side folder, in acquisition order."""
        return [self.side_of(e["frame"]) for e in self.entries]

    def frames(self) -> list[xr.Dataset]:
        """The stored measurements in acquisition order (lazy)."""
        return [
            xr.open_zarr(self.work / "frames" / e["frame"], consolidated=False, zarr_format=3) for e in self.entries
        ]

    def order(self, sort_key: Callable[[xr.Dataset], Any]) -> None:
        """Put the entries in acquisition order (e.g. by the first scan's start time)."""
        frames = self.frames()
        ranked = sorted(zip(frames, self.entries, strict=True), key=lambda fe: (sort_key(fe[0]), fe[1]["key"]))
        self.entries = [e for _, e in ranked]
        self._save()
