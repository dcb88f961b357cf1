"""The watch's options: per kind, the batch command's options, from a TOML file and the command line."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from operando.errors import ParameterError

__all__ = ["load_options"]

# the keyword options of each kind's pipeline that a TOML table may set, and how to read them
_SXDM_KEYS = {
    "reflection",
    "detector",
    "background",
    "intensity_threshold",
    "drift_correction",
    "median_filter",
    "scans",
}


_TABLES = ("sxdm", "tomo", "nmr")


def load_options(
    config: Path | None,
    *,
    reflection: str | None = None,
    detector: str | None = None,
    voxel_size_um: float | None = None,
    center: float | None = None,
) -> dict[str, dict[str, Any]]:
    """Per-kind pipeline options from a TOML file and the command line (which wins).

    Parameters
    ----------
    config : pathlib.Path, optional
        TOML with one table per kind, e.g. ``[sxdm]`` ``reflection = "400"``, ``[tomo]``
        ``voxel_size_um = 5.0``, ``[nmr]`` ``windows = [[240, 290]]`` (the batch command's
        option names, underscores for dashes).
    reflection, detector : str, optional
        ``--reflection`` and ``--detector`` of the command line (SXDM).
    voxel_size_um, center : float, optional
        ``--voxel-size-um`` and ``--center`` of the command line (tomography).

    Returns
    -------
    dict
        ``{"sxdm": {...}, "tomo": {...}, "nmr": {...}}``: keyword options of the SXDM
        pipeline, the ``[tomo]`` table (checked as ``tomo series`` checks its options) and
        the ``[nmr]`` table (``nmr process``'s options, and ``require_audit``).

    Raises
    ------
    ParameterError
        Unreadable TOML, an unknown table or key, a value out of range.
    """
    from operando.pipelines import nmr_process_options, tomo_series_options
    from operando.pipelines.sxdm import parse_reflection

    table: dict[str, Any] = {}
    if config is not None:
        try:
            table = tomllib.loads(config.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ParameterError(f"not a readable TOML file: {exc}", path=config) from None
        unknown = set(table) - set(_TABLES)
        if unknown:
            raise ParameterError(f"unknown tables {sorted(unknown)} (known: {', '.join(_TABLES)})", path=config)
        for name in _TABLES:
            if name in table and not isinstance(table[name], dict):
                raise ParameterError(f"[{name}] must be a table", path=config)
    sxdm = dict(table.get("sxdm", {}))
    bad = set(sxdm) - _SXDM_KEYS
    if bad:
        raise ParameterError(f"[sxdm]: unknown options {sorted(bad)} (known: {sorted(_SXDM_KEYS)})", path=config)
    if reflection is not None:
        sxdm["reflection"] = reflection
    if detector is not None:
        sxdm["detector"] = detector
    if isinstance(sxdm.get("reflection"), str | int):
        sxdm["reflection"] = parse_reflection(str(sxdm["reflection"]))
    if isinstance(sxdm.get("median_filter"), list):
        sxdm["median_filter"] = tuple(sxdm["median_filter"])
    tomo = dict(table.get("tomo", {}))
    if voxel_size_um is not None:
        tomo["voxel_size_um"] = voxel_size_um
    if center is not None:
        tomo["center"] = center
    try:
        tomo_series_options(tomo)  # refused here, before anything is watched
    except ParameterError as exc:
        if config is None:
            raise
        raise ParameterError(exc.problem, path=config) from None
    if tomo.get("classifier"):
        classifier = Path(tomo["classifier"]).expanduser()
        if config is not None and not classifier.is_absolute():
            classifier = config.parent / classifier
        if not classifier.is_file():
            raise ParameterError("[tomo] classifier: no such file", path=classifier)
        tomo["classifier"] = str(classifier.resolve())
    nmr = dict(table.get("nmr", {}))
    try:
        if not isinstance(nmr.get("require_audit", False), bool):
            raise ParameterError(f"[nmr] require_audit = {nmr['require_audit']!r}: give true or false")
        nmr_process_options({k: v for k, v in nmr.items() if k != "require_audit"})
    except ParameterError as exc:
        raise ParameterError(exc.problem, path=config) from None
    return {"sxdm": sxdm, "tomo": tomo, "nmr": nmr}
