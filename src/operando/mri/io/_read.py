"""Readers for MRI of battery cells: ParaVision 2dseq, NIfTI, TopSpin 1D profiles.

Every reader returns data with physical axes (mm) plus a typed :class:`MRIMeta`;
none of them computes anything beyond the scaling the format prescribes.

* Bruker ParaVision ``2dseq`` (+ ``visu_pars``): read with ``brukerapi``, which applies
  ``VisuCoreDataSlope``/``VisuCoreDataOffs`` per frame; the in-plane axes come from
  ``VisuCoreExtent``/``VisuCoreSize`` (voxel centres, centred on the field of view).
* NIfTI-1/2 (``.nii``, ``.nii.gz``): ``nibabel``; ``scl_slope``/``scl_inter`` applied, voxel
  size from the header zooms converted to mm (``xyzt_units``), the affine kept in attrs.
* TopSpin ``totxt`` exports of 1D profiles (``# LEFT = ... ppm. RIGHT = ... ppm.``,
  ``# SIZE = N``, then N values from left to right). A 1D profile is frequency encoded:
  its "ppm" axis is position under the read gradient, so depth needs the field of view,
  which the export does not record (``fov_mm``).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import xarray as xr

from operando._files import require_file
from operando._hashing import sha256_file
from operando.errors import CorruptFileError, MissingMetadataError, ParameterError, UnsupportedFormatError

__all__ = [
    "CSIScan",
    "MRIMeta",
    "TopSpinProfile",
    "acquisition_order",
    "is_topspin_profile",
    "read_image",
    "read_image_series",
    "read_nifti",
    "read_paravision",
    "read_paravision_csi",
    "read_profile_series",
    "read_topspin_csi",
    "read_topspin_profile",
]


@dataclass(frozen=True)
class MRIMeta:
    """What an MRI file says about the acquisition and the geometry.

    Attributes
    ----------
    source : str
        Path as given to the reader.
    sha256 : str
        SHA-256 of the data file.
    format : str
        ``"paravision-2dseq"``, ``"nifti"`` or ``"topspin-profile"``.
    voxel_size_mm : tuple of float
        Voxel size along each spatial dimension of the returned array, in mm.
    extent_mm : tuple of float
        Field of view along each spatial dimension, in mm.
    frequency_MHz : float or None
        Imaging (spectrometer) frequency.
    nucleus : str or None
    echo_time_ms, repetition_time_ms : float or None
    affine : (4, 4) tuple of tuples or None
        Voxel index to scanner/world coordinates (mm), as the file gives it.
    frame_time_s : float or None
        Time from one frame (repetition, volume) of a time series to the next, when the
        file records it (ParaVision: scan time / repetitions; NIfTI: the 4th zoom).
    acquired_at : datetime or None
        Start of the acquisition (ParaVision ``VisuAcqDate``), timezone-aware when the
        file gives the offset.
    scan_time_s : float or None
        Duration of the whole acquisition (ParaVision ``VisuAcqScanTime``).
    extra : dict of str to str
    """

    source: str = ""
    sha256: str = ""
    format: str = ""
    voxel_size_mm: tuple[float, ...] = ()
    extent_mm: tuple[float, ...] = ()
    frequency_MHz: float | None = None
    nucleus: str | None = None
    echo_time_ms: float | None = None
    repetition_time_ms: float | None = None
    affine: tuple[tuple[float, ...], ...] | None = None
    frame_time_s: float | None = None
    acquired_at: datetime | None = None
    scan_time_s: float | None = None
    extra: dict[str, str] = field(default_factory=dict)


def _centred_axis(n: int, step_mm: float) -> npt.NDArray[np.float64]:
    """Voxel centres of ``n`` voxels of ``step_mm``, centred on 0 (mm)."""
    return (np.arange(n, dtype=np.float64) - 0.5 * (n - 1)) * step_mm


def _scalar(value: Any) -> float | None:
    try:
        arr = np.atleast_1d(np.asarray(value, dtype=np.float64))
    except (TypeError, ValueError):
        return None
    return float(arr[0]) if arr.size else None


# -- ParaVision ------------------------------------------------------------------------------


def _brukerapi_errors() -> tuple[type[Exception], ...]:
    """brukerapi's own exception classes (they derive from Exception directly)."""
    import brukerapi.exceptions as bex

    return tuple(c for c in vars(bex).values() if isinstance(c, type) and issubclass(c, Exception))


class _PVParams:
    """A ParaVision JCAMP-DX parameter file whose every failure is one line naming the file and the key.

    brukerapi parses a value only when it is asked for (``get_value``), so a damaged value
    (``PVM_Matrix`` with a ``( NaN )`` size bracket, a value that does not fill its
    declared size) raises there, long after the file was opened; this wrapper turns its
    exceptions, and numbers that are not finite, into :class:`CorruptFileError`.
    """

    _parse_errors: tuple[type[Exception], ...] = (ValueError, TypeError, IndexError, KeyError, AttributeError)

    def __init__(self, path: Path) -> None:
        from brukerapi.jcampdx import JCAMPDX

        self.path = path
        self._errors: tuple[type[Exception], ...] = _brukerapi_errors() + self._parse_errors
        opening: tuple[type[Exception], ...] = (OSError, *self._errors)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # brukerapi warns about optional parameters it lacks
                self._jc = JCAMPDX(str(path))
        except opening as exc:
            raise CorruptFileError(f"cannot parse the ParaVision parameters: {_why(exc)}", path=path) from None

    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key`` (``default`` when absent); a damaged or non-finite number is refused."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                value = self._jc.get_value(key, default)
        except self._errors as exc:
            raise CorruptFileError(f"{key} cannot be parsed: {_why(exc)}", path=self.path) from None
        floating = isinstance(value, (float, np.floating, np.ndarray)) and np.asarray(value).dtype.kind == "f"
        if floating and not np.all(np.isfinite(value)):
            raise CorruptFileError(f"{key} holds a number that is not finite: {value!r}", path=self.path)
        return value

    def get_value(self, key: str, default: Any = None) -> Any:
        """Alias of :meth:`get` (brukerapi's name)."""
        return self.get(key, default)


def _why(exc: BaseException) -> str:
    """An exception as one short line (brukerapi's messages can hold a whole line of the file)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _count(value: Any, key: str, path: Path, *, minimum: int = 1) -> int:
    """A whole number of at least ``minimum`` from a parameter value, else one line naming the key.

    Examples
    --------
    >>> _count(np.array([3.0]), "NR", Path("acqp"))
    3
    """
    number = _scalar(value)
    if number is None or not np.isfinite(number) or number != int(number) or number < minimum:
        raise CorruptFileError(f"{key} = {value!r} is not a whole number >= {minimum}", path=path)
    return int(number)


def _find_2dseq(path: Path) -> Path:
    if path.is_file():
        return path
    for candidate in (path / "2dseq", path / "pdata" / "1" / "2dseq"):
        if candidate.is_file():
            return candidate
    if path.is_dir():
        raise MissingMetadataError("no 2dseq here (nor in pdata/1): headers alone carry no image", path=path)
    raise CorruptFileError("no such file or folder, expected a ParaVision 2dseq", path=path)


def read_paravision(path: str | PathLike[str]) -> tuple[xr.DataArray, MRIMeta]:
    """Read a Bruker ParaVision reconstructed image (``2dseq`` with its ``visu_pars``).

    Parameters
    ----------
    path : str or os.PathLike
        The ``2dseq`` file, its ``pdata/N`` folder or the scan folder (``pdata/1`` is used).

    Returns
    -------
    image : xarray.DataArray
        float64, slope and offset applied. Dims: the spatial core dims ``x``, ``y``
        (``z`` for 3D cores), then one dim per frame group, named after the group
        (``slice``, ``echo``, ``repetition``, ...). Spatial coordinates in mm (voxel
        centres about the centre of the field of view), ``attrs["units"] = "a.u."``.
    meta : MRIMeta

    Raises
    ------
    MissingMetadataError
        When the folder has headers but no ``2dseq``.
    CorruptFileError
        When brukerapi cannot read the pair (truncated data, missing ``visu_pars``).
    """
    from brukerapi.dataset import Dataset

    caught: tuple[type[Exception], ...] = (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError)

    seq = _find_2dseq(Path(path))
    require_file(seq, expected="a ParaVision 2dseq")
    visu_path = seq.parent / "visu_pars"
    if not visu_path.is_file():
        raise MissingMetadataError("visu_pars is missing beside 2dseq (slope, geometry)", path=seq)
    acqp = _paravision_acqp(seq)
    # every number of visu_pars the geometry needs is checked first, so that a damaged
    # value is refused naming visu_pars and its key (not as brukerapi's reshape error)
    visu = _PVParams(visu_path)
    n_frames = _count(visu.get("VisuCoreFrameCount", 1), "VisuCoreFrameCount", visu_path)
    size_raw = visu.get("VisuCoreSize")
    extent_raw = visu.get("VisuCoreExtent")
    if size_raw is None or extent_raw is None:
        raise MissingMetadataError("visu_pars lacks VisuCoreSize or VisuCoreExtent", path=visu_path)
    size = np.array([_count(v, "VisuCoreSize", visu_path) for v in np.atleast_1d(size_raw)], dtype=np.int64)
    try:
        extent = np.atleast_1d(np.asarray(extent_raw, dtype=np.float64))
    except (TypeError, ValueError):
        why = f"VisuCoreExtent = {extent_raw!r:.80} is not a list of numbers"
        raise CorruptFileError(why, path=visu_path) from None
    if extent.shape != size.shape or not np.all(extent > 0):
        raise CorruptFileError(
            f"VisuCoreExtent {extent.tolist()} does not give a positive length for each of VisuCoreSize "
            f"{size.tolist()}",
            path=visu_path,
        )
    for key in ("VisuCoreDataSlope", "VisuCoreDataOffs"):
        visu.get(key)  # non-finite scaling refused here, by name
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # brukerapi warns about optional parameters it lacks
            if n_frames > 1 and visu.get("VisuFGOrderDesc") is None:
                # brukerapi 0.4.6 shapes the frames only from VisuFGOrderDesc and fails
                # (reshape error) without it; the frames are then read here, plainly
                data, dims_extra = _undescribed_frames(seq, visu, n_frames, acqp)
                ds: Any = None
            else:
                ds = Dataset(str(seq))
                data = np.asarray(ds.data, dtype=np.float64)
                dims_extra = None
            dim_types = [str(t) for t in ds.dim_type] if ds is not None else []
            affine = np.asarray(ds.affine, dtype=np.float64) if ds is not None else None
    except (*caught, *_brukerapi_errors()) as exc:
        raise CorruptFileError(f"brukerapi cannot read this 2dseq with its visu_pars: {_why(exc)}", path=seq) from None
    if data.shape[: size.size] != tuple(int(s) for s in size):
        raise CorruptFileError(f"2dseq shape {data.shape} does not start with VisuCoreSize {size.tolist()}", path=seq)
    step = extent / size
    core = ["x", "y", "z"][: size.size]
    if dims_extra is not None:
        groups = dims_extra
    else:
        groups = [t.removeprefix("FG_").lower() for t in dim_types[size.size :]]
        # brukerapi puts a frame axis of length 1 in front of the frame groups of a
        # single-slice scan; it is no axis of the data
        if "frame" in groups and data.shape[size.size + groups.index("frame")] == 1 and len(groups) > 1:
            k = groups.index("frame")
            data = data.reshape(data.shape[: size.size + k] + data.shape[size.size + k + 1 :])
            groups.pop(k)
    dims = core + groups
    coords: dict[str, Any] = {
        d: (d, _centred_axis(int(n), float(s)), {"units": "mm"}) for d, n, s in zip(core, size, step, strict=True)
    }
    for d, n in zip(groups, data.shape[size.size :], strict=True):
        coords[d] = (d, np.arange(n))

    def get(name: str) -> Any:
        return visu.get_value(name)

    nucleus = get("VisuAcqImagedNucleus")
    n_rep = int(np.prod([data.shape[size.size + k] for k, g in enumerate(groups) if g in _REPETITION_DIMS] or [1]))
    scan_ms = _scalar(get("VisuAcqScanTime"))
    frame_time = scan_ms / 1e3 / n_rep if scan_ms and n_rep > 1 else None
    meta = MRIMeta(
        source=str(path),
        sha256=sha256_file(seq),
        format="paravision-2dseq",
        voxel_size_mm=tuple(float(s) for s in step),
        extent_mm=tuple(float(e) for e in extent),
        frequency_MHz=_scalar(get("VisuAcqImagingFrequency")),
        nucleus=None if nucleus is None else str(nucleus),
        echo_time_ms=_scalar(get("VisuAcqEchoTime")),
        repetition_time_ms=_scalar(get("VisuAcqRepetitionTime")),
        affine=None if affine is None else tuple(tuple(float(v) for v in row) for row in affine),
        frame_time_s=frame_time,
        acquired_at=_acq_datetime(get("VisuAcqDate")),
        scan_time_s=None if not scan_ms else scan_ms / 1e3,
        extra={
            "pv_version": str(getattr(ds, "pv_version", "")) if ds is not None else str(get("VisuCreatorVersion")),
            **{k: str(v) for k, v in acqp.items()},
        },
    )
    image = xr.DataArray(data, dims=dims, coords=coords, attrs={"units": "a.u.", "source": str(seq)})
    return image, meta


def _acq_datetime(value: Any) -> datetime | None:
    """A ParaVision date: ``<12:20:46 30 Nov 2011>`` (PV 5/6) or ``<2024-07-25T09:15:09,381+0200>`` (PV 7/360).

    Examples
    --------
    >>> _acq_datetime("<12:20:46 30 Nov 2011>").isoformat()
    '2011-11-30T12:20:46'
    >>> _acq_datetime("<2024-07-25T09:15:09,381+0200>").isoformat()
    '2024-07-25T09:15:09.381000+02:00'
    """
    if value is None:
        return None
    text = str(value).strip().strip("<>").strip()
    for fmt, t in (("%H:%M:%S %d %b %Y", text), ("%Y-%m-%dT%H:%M:%S.%f%z", text.replace(",", ".")),
                   ("%Y-%m-%dT%H:%M:%S%z", text)):  # fmt: skip
        try:
            return datetime.strptime(t, fmt)
        except ValueError:
            continue
    return None


_REPETITION_DIMS = ("cycle", "repetition", "movie")
"""ParaVision frame groups that are time (repetitions NR: ``FG_CYCLE``; ``FG_MOVIE``)."""


def _paravision_acqp(seq: Path) -> dict[str, int]:
    """NR, NI, NA, NECHOES of the scan's ``acqp`` (two folders up from pdata/N/2dseq), if there."""
    acqp = seq.parent.parent.parent / "acqp"
    if not acqp.is_file():
        return {}
    out: dict[str, int] = {}
    try:
        jc = _PVParams(acqp)
        for key in ("NR", "NI", "NA", "NECHOES", "ACQ_n_movie_frames"):
            v = jc.get(key)
            if v is not None:
                out[key] = _count(v, key, acqp, minimum=0 if key == "ACQ_n_movie_frames" else 1)
    except CorruptFileError as exc:
        # acqp only hints how to name an undescribed frame axis (the image is in 2dseq/visu_pars)
        warnings.warn(f"{exc}; the frame axis is named without acqp's counts", stacklevel=3)
        return {}
    return out


def _undescribed_frames(
    seq: Path, visu: Any, n_frames: int, acqp: dict[str, int]
) -> tuple[npt.NDArray[np.float64], list[str]]:
    """Frames of a 2dseq whose visu_pars has no VisuFGOrderDesc, scaled frame by frame.

    The frame axis is named from acqp: ``repetition`` when NR equals the frame count,
    ``slice`` when NI does, ``frame`` otherwise.
    """
    kinds = {
        ("_16BIT_SGN_INT", "littleEndian"): "<i2",
        ("_16BIT_SGN_INT", "bigEndian"): ">i2",
        ("_32BIT_SGN_INT", "littleEndian"): "<i4",
        ("_32BIT_SGN_INT", "bigEndian"): ">i4",
        ("_32BIT_FLOAT", "littleEndian"): "<f4",
        ("_32BIT_FLOAT", "bigEndian"): ">f4",
        ("_8BIT_UNSGN_INT", "littleEndian"): "u1",
        ("_8BIT_UNSGN_INT", "bigEndian"): "u1",
    }
    word = (str(visu.get_value("VisuCoreWordType")), str(visu.get_value("VisuCoreByteOrder", "littleEndian")))
    if word not in kinds:
        raise CorruptFileError(f"VisuCoreWordType/ByteOrder {word} is not a 2dseq word type", path=seq)
    size = tuple(int(v) for v in np.atleast_1d(visu.get_value("VisuCoreSize")))
    raw = np.fromfile(seq, dtype=kinds[word])
    need = int(np.prod(size)) * n_frames
    if raw.size != need:
        raise CorruptFileError(
            f"{raw.size} values, but VisuCoreSize {list(size)} x {n_frames} frames need {need}", path=seq
        )
    frames = raw.reshape(*size, n_frames, order="F").astype(np.float64)
    slope = np.broadcast_to(
        np.atleast_1d(np.asarray(visu.get_value("VisuCoreDataSlope", 1.0), dtype=float)), (n_frames,)
    )
    offs = np.broadcast_to(np.atleast_1d(np.asarray(visu.get_value("VisuCoreDataOffs", 0.0), dtype=float)), (n_frames,))
    frames = frames * slope + offs
    name = "repetition" if acqp.get("NR") == n_frames else "slice" if acqp.get("NI") == n_frames else "frame"
    return frames, [name]


@dataclass(frozen=True)
class CSIScan:
    """The raw k-space of a ParaVision chemical-shift-imaging scan, as :func:`read_paravision_csi` reads it.

    Attributes
    ----------
    kspace : (K1[, K2[, K3]], T) ndarray of complex128
        One FID per phase-encoding step, in ADC counts; k axes centred (``k = 0`` at
        ``K // 2``, as acquired in linear order from ``-K/2``).
    sw_hz, bf_MHz, o1_hz : float
        ``SW_h``, ``BF1``, ``O1`` of acqp.
    extent_mm : tuple of float
        Field of view of each phase-encoded axis (method ``PVM_Fov``, else acqp ``ACQ_fov``).
    nucleus : str or None
    source, sha256 : str
        The fid file and its SHA-256.
    """

    kspace: npt.NDArray[np.complex128]
    sw_hz: float
    bf_MHz: float
    o1_hz: float
    extent_mm: tuple[float, ...]
    nucleus: str | None
    source: str
    sha256: str


_FID_WORDS = {"GO_32BIT_SGN_INT": "i4", "GO_16BIT_SGN_INT": "i2", "GO_32BIT_FLOAT": "f4"}


def read_paravision_csi(path: str | PathLike[str]) -> CSIScan:
    """Read the raw ``fid`` of a ParaVision CSI scan (spectroscopic + 1-3 phase-encoded axes).

    The parameters come from ``acqp`` and ``method`` (JCAMP-DX, read with brukerapi). The
    binary layout is read here: brukerapi 0.4.6 shapes CSI fids with two phase-encoded
    axes only (its block count is ``ACQ_size[1] * ACQ_size[2]``), and a 3D CSI has three.
    Each FID holds ``ACQ_size[0]`` interleaved real/imaginary words, padded to 1 KiB
    blocks when ``GO_block_size`` is ``Standard_KBlock_Format``; phase axis 1 varies
    fastest.

    Parameters
    ----------
    path : str or os.PathLike
        The scan folder (with ``fid``, ``acqp``, ``method``) or its ``fid``.

    Returns
    -------
    CSIScan

    Raises
    ------
    MissingMetadataError
        When acqp is missing or lacks ``ACQ_size``, ``SW_h`` or ``BF1``.
    UnsupportedFormatError
        When acqp does not describe a spectroscopic acquisition with phase-encoded axes.
    CorruptFileError
        When the fid's size does not match acqp.
    """
    p = Path(path)
    if not p.exists():
        raise CorruptFileError("no such file or folder, expected a ParaVision CSI scan (fid, acqp, method)", path=p)
    folder = p if p.is_dir() else p.parent
    fid_path = folder / "fid"
    require_file(fid_path, expected="a ParaVision raw fid")
    if not (folder / "acqp").is_file():
        raise MissingMetadataError("acqp is missing beside fid (sizes, spectral width)", path=fid_path)
    acqp = _PVParams(folder / "acqp")
    method = _PVParams(folder / "method") if (folder / "method").is_file() else None

    def value(jc: _PVParams | None, key: str) -> Any:
        return None if jc is None else jc.get(key)

    size_raw = value(acqp, "ACQ_size")
    sw, bf = _scalar(value(acqp, "SW_h")), _scalar(value(acqp, "BF1"))
    if size_raw is None or sw is None or bf is None:
        raise MissingMetadataError("acqp lacks ACQ_size, SW_h or BF1", path=folder / "acqp")
    if not (sw > 0 and bf > 0):
        raise CorruptFileError(f"SW_h = {sw} Hz and BF1 = {bf} MHz must be positive", path=folder / "acqp")
    size = [_count(v, "ACQ_size", folder / "acqp") for v in np.atleast_1d(size_raw)]
    if size[0] % 2:
        why = f"ACQ_size[0] = {size[0]} is odd: a FID holds real/imaginary pairs"
        raise CorruptFileError(why, path=folder / "acqp")
    desc_raw = value(acqp, "ACQ_dim_desc")
    desc = [str(d).lower() for d in np.atleast_1d(desc_raw)] if desc_raw is not None else []
    if len(size) < 2 or (desc and (desc[0] != "spectroscopic" or any(d != "spatial" for d in desc[1:]))):
        raise UnsupportedFormatError(
            f"not a CSI acquisition (ACQ_dim_desc {desc or '?'}, ACQ_size {size}): need spectroscopic + spatial axes",
            path=folder / "acqp",
        )
    word = _FID_WORDS.get(str(value(acqp, "GO_raw_data_format") or "GO_32BIT_SGN_INT"))
    if word is None:
        raise UnsupportedFormatError(
            f"GO_raw_data_format {value(acqp, 'GO_raw_data_format')} is not known", path=folder
        )
    order = "<" if str(value(acqp, "BYTORDA") or "little").lower().startswith("little") else ">"
    dtype = np.dtype(order + word)
    n_words = size[0]
    block = n_words
    if str(value(acqp, "GO_block_size") or "") == "Standard_KBlock_Format":
        block = int(np.ceil(n_words * dtype.itemsize / 1024) * 1024 // dtype.itemsize)
    nr, ni = (_count(value(acqp, k) or 1, k, folder / "acqp") for k in ("NR", "NI"))
    n_fids = int(np.prod(size[1:])) * nr * ni
    raw = np.fromfile(fid_path, dtype=dtype)
    if raw.size != n_fids * block:
        raise CorruptFileError(
            f"{raw.size} words, but ACQ_size {size} (x NR x NI) in blocks of {block} need {n_fids * block}",
            path=fid_path,
        )
    if n_fids != int(np.prod(size[1:])):
        raise UnsupportedFormatError("CSI with several repetitions or objects (NR, NI > 1) is not read", path=folder)
    lines = raw.reshape(n_fids, block)[:, :n_words].astype(np.float64)
    fid = lines[:, 0::2] + 1j * lines[:, 1::2]  # (fids, T)
    kspace = fid.T.reshape(n_words // 2, *size[1:], order="F")
    kspace = np.moveaxis(kspace, 0, -1)
    fov = value(method, "PVM_Fov")
    if fov is not None:
        extent = tuple(float(v) for v in np.atleast_1d(fov))
    else:
        acq_fov = value(acqp, "ACQ_fov")
        extent = tuple(10.0 * float(v) for v in np.atleast_1d(acq_fov)) if acq_fov is not None else ()
    if len(extent) != len(size) - 1:
        raise MissingMetadataError(f"no field of view for the {len(size) - 1} phase-encoded axes", path=folder)
    if not all(e > 0 for e in extent):
        raise CorruptFileError(f"field of view {list(extent)} mm (PVM_Fov/ACQ_fov) is not positive", path=folder)
    nucleus = value(acqp, "NUC1")
    return CSIScan(
        kspace=np.asarray(kspace, dtype=np.complex128),
        sw_hz=float(sw),
        bf_MHz=float(bf),
        o1_hz=float(_scalar(value(acqp, "O1")) or 0.0),
        extent_mm=extent,
        nucleus=None if nucleus is None else str(nucleus),
        source=str(fid_path),
        sha256=sha256_file(fid_path),
    )


def read_topspin_csi(path: str | PathLike[str], *, extent_mm: Sequence[float]) -> CSIScan:
    """Read a TopSpin nD ``ser`` whose indirect dimensions are phase-encoded (k-space) axes.

    Read with :func:`nmrglue.bruker.read` (``acqus``, ``acqu2s``, ...); each indirect
    increment is one k-space step (no States pairs). The digital filter's group delay of
    DSP data is removed with :func:`nmrglue.bruker.rm_dig_filter` at its exact (not
    floored) ``GRPDLY`` (or the DECIM/DSPFVS table value of pre-TopSpin data), which
    drops the last points of each FID.

    Parameters
    ----------
    path : str or os.PathLike
        The experiment folder (with ``ser`` and ``acqus``) or its ``ser``.
    extent_mm : sequence of float
        Field of view of each phase-encoded axis, in the order ``acqu2s``, ``acqu3s``, ...
        (TopSpin parameter files do not record it).

    Returns
    -------
    CSIScan
        k axes in the order ``acqu2s``, ``acqu3s``, ... (the fastest indirect first).

    Raises
    ------
    MissingMetadataError
        When acqus lacks ``SW_h`` or ``BF1``.
    CorruptFileError
        When nmrglue cannot read the set.
    ParameterError
        When ``extent_mm`` does not give one positive length per phase-encoded axis.
    """
    import nmrglue as ng

    p = Path(path)
    if not p.exists():
        raise CorruptFileError("no such file or folder, expected a TopSpin experiment with ser and acqus", path=p)
    folder = p if p.is_dir() else p.parent
    ser = folder / "ser"
    require_file(ser, expected="a TopSpin ser file")
    if not (folder / "acqus").is_file():
        raise MissingMetadataError("acqus is missing beside ser", path=ser)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dic, data = ng.bruker.read(str(folder), read_pulseprogram=False)
    except (OSError, ValueError, KeyError, IndexError) as exc:
        raise CorruptFileError(f"nmrglue cannot read this set: {exc}", path=folder) from exc
    acqus = dic["acqus"]
    sw, bf = _scalar(acqus.get("SW_h")), _scalar(acqus.get("BF1"))
    if sw is None or bf is None:
        raise MissingMetadataError("acqus lacks SW_h or BF1", path=folder / "acqus")
    data = np.asarray(data)
    n_phase = data.ndim - 1
    if n_phase < 1 or not np.iscomplexobj(data):
        raise UnsupportedFormatError(f"a {data.ndim}D set of {data.dtype}: no phase-encoded axis", path=ser)
    extent = tuple(float(v) for v in extent_mm)
    if len(extent) != n_phase or not all(np.isfinite(v) and v > 0 for v in extent):
        raise ParameterError(f"--fov-mm: give {n_phase} positive lengths (one per phase-encoded axis), got {extent}")
    grpdly = float(_scalar(acqus.get("GRPDLY")) or 0.0)
    decim = _scalar(acqus.get("DECIM"))
    dspfvs = _scalar(acqus.get("DSPFVS"))
    if decim is not None and dspfvs is not None and (grpdly > 0 or 10 <= dspfvs < 14):
        data = ng.bruker.rm_dig_filter(data, int(decim), int(dspfvs), grpdly, truncate_grpdly=False)
    kspace = np.transpose(data, (*range(n_phase - 1, -1, -1), n_phase))  # acqu2s axis first
    nucleus = acqus.get("NUC1")
    return CSIScan(
        kspace=np.ascontiguousarray(kspace, dtype=np.complex128),
        sw_hz=float(sw),
        bf_MHz=float(bf),
        o1_hz=float(_scalar(acqus.get("O1")) or 0.0),
        extent_mm=extent,
        nucleus=None if nucleus is None else str(nucleus).strip("<>"),
        source=str(ser),
        sha256=sha256_file(ser),
    )


# -- NIfTI -----------------------------------------------------------------------------------

_NIFTI_TO_MM = {"mm": 1.0, "meter": 1e3, "micron": 1e-3, "unknown": 1.0}
_NIFTI_TO_MS = {"sec": 1e3, "msec": 1.0, "usec": 1e-3}


class _Float64Proxy:
    """nibabel's array proxy seen as float64 (it scales on slicing), for dask.array.from_array."""

    def __init__(self, proxy: Any) -> None:
        self.proxy = proxy
        self.shape = tuple(proxy.shape)
        self.ndim = len(self.shape)
        self.dtype = np.dtype(np.float64)

    def __getitem__(self, index: Any) -> npt.NDArray[np.float64]:
        return np.asarray(self.proxy[index], dtype=np.float64)


def read_nifti(path: str | PathLike[str], *, lazy: bool = True) -> tuple[xr.DataArray, MRIMeta]:
    """Read a NIfTI image with nibabel.

    Parameters
    ----------
    path : str or os.PathLike
        ``.nii`` or ``.nii.gz``.
    lazy : bool, default True
        Return a Dask-backed array read one 3D volume per chunk through nibabel's array
        proxy (a long time series never loads whole); False reads everything now.

    Returns
    -------
    image : xarray.DataArray
        float64 with ``scl_slope``/``scl_inter`` applied; dims ``x, y, z`` and ``frame`` for
        a 4th axis; spatial coordinates in mm from the zooms (voxel centres, index × size).
    meta : MRIMeta
        ``affine`` is the best affine nibabel finds (sform, else qform).

    Raises
    ------
    UnsupportedFormatError
        When nibabel does not recognise the file as NIfTI.
    """
    import nibabel as nib

    p = require_file(path, expected="a NIfTI image")
    try:
        img = nib.load(str(p))
    except (nib.filebasedimages.ImageFileError, OSError, ValueError) as exc:
        raise UnsupportedFormatError(f"not a NIfTI image nibabel can read: {exc}", path=p) from exc
    if not isinstance(img, nib.Nifti1Image | nib.Nifti2Image):
        raise UnsupportedFormatError(f"nibabel reads this as {type(img).__name__}, not NIfTI", path=p)
    header = img.header
    space_unit, time_unit = header.get_xyzt_units()
    scale = _NIFTI_TO_MM.get(space_unit, 1.0)
    digest = sha256_file(p)
    if not p.name.lower().endswith(".gz"):
        needed = int(header.get_data_offset()) + int(np.prod(img.shape)) * header.get_data_dtype().itemsize
        if p.stat().st_size < needed:
            raise CorruptFileError(f"truncated: {p.stat().st_size} bytes, the header needs {needed}", path=p)
    data: Any
    try:
        if lazy:
            import dask.array as da

            shape = tuple(img.shape)
            chunks = shape[:3] + (1,) * (len(shape) - 3)
            data = da.from_array(_Float64Proxy(img.dataobj), chunks=chunks, lock=True, name=f"nifti-{digest}")
            data[(0,) * data.ndim].compute()  # fail now, not at the first compute, on a damaged file
        else:
            data = np.asarray(img.get_fdata(dtype=np.float64))
    except (OSError, ValueError, EOFError) as exc:
        raise CorruptFileError(f"image data cannot be read: {exc}", path=p) from exc
    zooms = header.get_zooms()
    n_space = min(data.ndim, 3)
    voxel = tuple(float(z) * scale for z in zooms[:n_space])
    dims = ["x", "y", "z"][:n_space] + [f"frame{'' if k == 0 else k}" for k in range(data.ndim - n_space)]
    coords: dict[str, Any] = {
        d: (d, np.arange(n) * v, {"units": "mm"}) for d, n, v in zip(dims, data.shape, voxel, strict=False)
    }
    meta = MRIMeta(
        source=str(path),
        sha256=digest,
        format="nifti",
        voxel_size_mm=voxel,
        extent_mm=tuple(v * n for v, n in zip(voxel, data.shape, strict=False)),
        affine=tuple(tuple(float(v) for v in row) for row in img.affine),
        repetition_time_ms=float(zooms[3]) * _NIFTI_TO_MS[time_unit]
        if len(zooms) > 3 and time_unit in _NIFTI_TO_MS
        else None,
        frame_time_s=float(zooms[3]) * _NIFTI_TO_MS[time_unit] / 1e3
        if len(zooms) > 3 and time_unit in _NIFTI_TO_MS and float(zooms[3]) > 0
        else None,
        extra={"descrip": header["descrip"].item().decode("latin-1", "replace").strip("\x00 ")},
    )
    return xr.DataArray(data, dims=dims, coords=coords, attrs={"units": "a.u.", "source": str(p)}), meta


# -- TopSpin 1D profiles ---------------------------------------------------------------------

_LIMITS = re.compile(r"LEFT\s*=\s*([-+0-9.eE]+)\s*ppm\.?\s*RIGHT\s*=\s*([-+0-9.eE]+)\s*ppm")
_SIZE = re.compile(r"SIZE\s*=\s*(\d+)")
_DATASET = re.compile(r"Data set\s*=\s*(\S+)\s+(\d+)\s+(\d+)\s*(.*)")


@dataclass(frozen=True)
class TopSpinProfile:
    """One TopSpin ``totxt`` export.

    Attributes
    ----------
    values : (N,) ndarray of float64
        Points from the LEFT to the RIGHT limit, as written.
    left_ppm, right_ppm : float
        Limits of the exported region.
    name : str
        Data set name; ``expno``, ``procno`` its numbers (-1 when absent).
    created : str
        The export's "File created" line (the export time, not the acquisition time).
    source, sha256 : str
    """

    values: npt.NDArray[np.float64]
    left_ppm: float
    right_ppm: float
    name: str
    expno: int
    procno: int
    created: str
    source: str
    sha256: str

    @property
    def ppm(self) -> npt.NDArray[np.float64]:
        """(N,) ppm of each point, left to right."""
        return np.linspace(self.left_ppm, self.right_ppm, self.values.size)


def read_topspin_profile(path: str | PathLike[str]) -> TopSpinProfile:
    """Read a TopSpin ``totxt`` export of a 1D spectrum or profile.

    Raises
    ------
    UnsupportedFormatError
        When the header has no ``LEFT = ... ppm. RIGHT = ... ppm.`` line.
    CorruptFileError
        When the number of values differs from ``SIZE`` or a value is not a number.
    """
    p = require_file(path, expected="a TopSpin totxt export")
    text = p.read_text(encoding="latin-1")
    header = [line[1:].strip() for line in text.splitlines() if line.startswith("#")]
    limits = next((m for m in map(_LIMITS.search, header) if m), None)
    if limits is None:
        raise UnsupportedFormatError("no 'LEFT = ... ppm. RIGHT = ... ppm.' header: not a TopSpin totxt export", path=p)
    size = next((int(m.group(1)) for m in map(_SIZE.search, header) if m), None)
    body = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    try:
        values = np.array([float(v) for v in body], dtype=np.float64)
    except ValueError as exc:
        raise CorruptFileError(f"a data line is not a number ({exc})", path=p) from exc
    if size is not None and values.size != size:
        raise CorruptFileError(f"header says SIZE = {size} but {values.size} values follow", path=p)
    dataset = next((m for m in map(_DATASET.search, header) if m), None)
    created = next((h.split("=", 1)[1].strip() for h in header if h.startswith("File created")), "")
    return TopSpinProfile(
        values=values,
        left_ppm=float(limits.group(1)),
        right_ppm=float(limits.group(2)),
        name=dataset.group(1) if dataset else p.stem,
        expno=int(dataset.group(2)) if dataset else -1,
        procno=int(dataset.group(3)) if dataset else -1,
        created=created,
        source=str(path),
        sha256=sha256_file(p),
    )


def read_profile_series(
    paths: Sequence[str | PathLike[str]],
    *,
    fov_mm: float,
    seconds_per_profile: float | None = None,
    times_s: npt.ArrayLike | None = None,
    t0_s: float = 0.0,
) -> xr.DataArray:
    """Read a series of TopSpin 1D profiles into one ``(frame, depth)`` array.

    The files are sorted by experiment number (``expno``); a TopSpin export records no
    acquisition time, so frame times come from ``times_s`` or from a fixed duration per
    profile counted from ``t0_s`` (frame ``k`` spans ``[t0 + k·T, t0 + (k+1)·T]``).

    Parameters
    ----------
    paths : sequence of path
        One ``totxt`` file per profile; all must have the same size and limits.
    fov_mm : float
        Field of view of the read direction in mm (the export's ppm range spans it).
    seconds_per_profile : float, optional
        Acquisition time of one profile.
    times_s : (M,) array_like, optional
        Start time of each profile in s (after sorting by expno); overrides
        ``seconds_per_profile`` for the starts.
    t0_s : float, default 0
        Start of the first profile when counting with ``seconds_per_profile``.

    Returns
    -------
    xarray.DataArray
        Dims ``(frame, depth)``; coordinates ``depth`` (mm, voxel centres from 0 at the
        LEFT end), ``time_s`` and ``time_end_s`` (frame start/end, s), ``expno``, ``source``.

    Raises
    ------
    ParameterError
        When no path, no timing, or a non-positive FOV is given.
    CorruptFileError
        When the profiles differ in size or ppm limits.
    """
    if not paths:
        raise ParameterError("no profile files given")
    if fov_mm <= 0:
        raise ParameterError(f"fov_mm must be positive, got {fov_mm}")
    profiles = sorted((read_topspin_profile(p) for p in paths), key=lambda pr: (pr.expno, pr.source))
    first = profiles[0]
    for pr in profiles[1:]:
        if pr.values.size != first.values.size or (pr.left_ppm, pr.right_ppm) != (first.left_ppm, first.right_ppm):
            raise CorruptFileError(
                f"{pr.values.size} points over {pr.left_ppm}..{pr.right_ppm} ppm, but {first.source} has "
                f"{first.values.size} over {first.left_ppm}..{first.right_ppm} ppm",
                path=pr.source,
            )
    m = len(profiles)
    if times_s is not None:
        start = np.asarray(times_s, dtype=np.float64)
        if start.shape != (m,):
            raise ParameterError(f"{start.size} times for {m} profiles")
        step = float(np.median(np.diff(start))) if m > 1 else (seconds_per_profile or 0.0)
        end = start + (seconds_per_profile if seconds_per_profile is not None else step)
    elif seconds_per_profile is not None:
        if seconds_per_profile <= 0:
            raise ParameterError(f"seconds_per_profile must be positive, got {seconds_per_profile}")
        start = np.asarray(t0_s + np.arange(m) * seconds_per_profile, dtype=np.float64)
        end = start + seconds_per_profile
    else:
        raise ParameterError("TopSpin exports carry no acquisition time: give seconds_per_profile or times_s")
    n = first.values.size
    depth = (np.arange(n) + 0.5) * (fov_mm / n)
    return xr.DataArray(
        np.stack([pr.values for pr in profiles]),
        dims=("frame", "depth"),
        coords={
            "frame": np.arange(m),
            "depth": ("depth", depth, {"units": "mm"}),
            "time_s": ("frame", start, {"units": "s", "long_name": "profile start"}),
            "time_end_s": ("frame", end, {"units": "s", "long_name": "profile end"}),
            "expno": ("frame", np.array([pr.expno for pr in profiles])),
            "source": ("frame", np.array([pr.source for pr in profiles])),
        },
        attrs={
            "units": "a.u.",
            "fov_mm": float(fov_mm),
            "left_ppm": first.left_ppm,
            "right_ppm": first.right_ppm,
            "sha256": [pr.sha256 for pr in profiles],
        },
        name="profile",
    )


# -- image series ----------------------------------------------------------------------------

_FRAME_DIMS = ("frame", "repetition", "cycle", "movie")
"""Image dims that are time: NIfTI's 4th axis (``frame``), ParaVision repetitions and movies."""


def is_topspin_profile(path: str | PathLike[str]) -> bool:
    """Whether a file looks like a TopSpin ``totxt`` export (its header names LEFT/RIGHT ppm)."""
    p = Path(path)
    if not p.is_file():
        return False
    with p.open("rb") as fh:
        head = fh.read(2048).decode("latin-1")
    return _LIMITS.search(head) is not None


def read_image(path: str | PathLike[str]) -> tuple[xr.DataArray, MRIMeta]:
    """Read a ParaVision 2dseq (file or folder) or a NIfTI file, chosen by name."""
    name = Path(path).name.lower()
    if name.endswith((".nii", ".nii.gz")):
        return read_nifti(path)
    if Path(path).is_dir() or name == "2dseq":
        return read_paravision(path)
    raise UnsupportedFormatError("not a NIfTI (.nii, .nii.gz), a ParaVision 2dseq nor a TopSpin profile", path=path)


def read_image_series(
    paths: Sequence[str | PathLike[str]],
    *,
    depth_axis: str = "x",
    seconds_per_frame: float | None = None,
    t0_s: float = 0.0,
) -> xr.DataArray:
    """Read images (one per file, or the time axes inside a file) as ``(frame, depth, ...)``.

    A file's time axes are its repetitions and movie frames (ParaVision ``FG_CYCLE`` and
    ``FG_MOVIE`` frame groups, or acqp ``NR``; NIfTI's 4th axis): each of their entries is
    one frame, in acquisition order (outer axis slowest). Other frame groups (slices,
    echoes) stay image axes, lateral to depth.

    Parameters
    ----------
    paths : sequence of path
        NIfTI files or ParaVision 2dseq files/folders, in acquisition order; when every file
        records its acquisition time they are put in that order (with a warning if it is
        not the given one: ``study/*`` lists scan 10 before scan 9).
    depth_axis : str, default "x"
        Image dimension that runs across the cell (through the electrodes); renamed
        ``depth``, its coordinate shifted to start at half a voxel.
    seconds_per_frame : float, optional
        Time per frame. Default: the files' own clock: each file's acquisition start
        (:attr:`MRIMeta.acquired_at`) plus its frame time, a single-frame file lasting its
        scan time (frames need not be evenly spaced); else the one frame time all files
        record (:attr:`MRIMeta.frame_time_s`, e.g. NIfTI's 4th zoom); refused otherwise.
    t0_s : float, default 0

    Returns
    -------
    xarray.DataArray
        Dims ``(frame, depth, <other image dims>)``; coordinates ``time_s``, ``time_end_s``;
        ``attrs["sources"]``: the data file read for each path (a scan folder's 2dseq).
    """
    if not paths:
        raise ParameterError("no image files given")
    if seconds_per_frame is not None and not (np.isfinite(seconds_per_frame) and seconds_per_frame > 0):
        raise ParameterError(f"seconds_per_frame must be positive, got {seconds_per_frame}")
    frames: list[xr.DataArray] = []
    recorded: list[float | None] = []
    sources: list[str] = []
    metas: list[tuple[MRIMeta, int]] = []
    loaded = [(path, *read_image(path)) for path in paths]
    order = acquisition_order([meta.acquired_at for _, _, meta in loaded])
    if order != list(range(len(loaded))):
        # a shell glob lists study/10 before study/9: the frames would be out of time order
        names = ", ".join(str(loaded[k][0]) for k in order)
        warnings.warn(f"images taken in the order of their recorded acquisition times: {names}", stacklevel=2)
        loaded = [loaded[k] for k in order]
        paths = [path for path, _, _ in loaded]
    for path, image, meta in loaded:
        recorded.append(meta.frame_time_s)
        sources.append(str(image.attrs.get("source", path)))
        n_before = len(frames)
        if depth_axis not in image.dims:
            raise ParameterError(
                f"no depth axis {depth_axis!r} (--depth-axis) among the image dims {tuple(map(str, image.dims))}",
                path=path,
            )
        time_dims = [str(d) for d in image.dims if str(d).startswith(_FRAME_DIMS)]
        image = image.squeeze([d for d in time_dims if image.sizes[d] == 1], drop=True)
        time_dims = [d for d in time_dims if d in image.dims]
        if len(time_dims) > 1:  # listed innermost first: the outermost varies slowest in time
            image = image.stack(_time=time_dims[::-1])
            frame_dim: str | None = "_time"
        else:
            frame_dim = time_dims[0] if time_dims else None
        parts = [image] if frame_dim is None else [image.isel({frame_dim: k}) for k in range(image.sizes[frame_dim])]
        for part in parts:
            part = part.drop_vars([c for c in part.coords if c not in part.dims])
            frames.append(part.rename({depth_axis: "depth"}).transpose("depth", ...))
        metas.append((meta, len(frames) - n_before))
    clock = None if seconds_per_frame is not None else _clock_from_headers(metas)
    if seconds_per_frame is None and clock is None:
        known = {round(v, 9) for v in recorded if v is not None}
        if len(known) != 1 or None in recorded:
            raise ParameterError(
                "the files record no single frame time nor acquisition times"
                + (f" ({sorted(known)} s)" if known else "")
                + ": give seconds_per_frame (--seconds-per-frame)",
                path=str(paths[0]),
            )
        seconds_per_frame = float(known.pop())
    first = frames[0]
    for k, fr in enumerate(frames[1:], start=1):
        if fr.shape != first.shape:
            raise CorruptFileError(f"image {k} has shape {fr.shape}, the first {first.shape}", path=str(paths[0]))
    stack = xr.concat([f.drop_vars(list(f.coords)) for f in frames], dim="frame")
    depth = np.asarray(first["depth"].values, dtype=np.float64)
    step = float(abs(depth[1] - depth[0])) if depth.size > 1 else 1.0
    if clock is not None:
        t, t_end = t0_s + clock[0], t0_s + clock[1]
        per_frame = float(np.median(np.diff(t))) if t.size > 1 else float(t_end[0] - t[0])
        timing = "acquisition times in the headers"
    else:
        assert seconds_per_frame is not None
        t = np.asarray(t0_s + np.arange(len(frames)) * seconds_per_frame, dtype=np.float64)
        t_end, per_frame = t + seconds_per_frame, float(seconds_per_frame)
        timing = "fixed frame time"
    return stack.assign_coords(
        frame=np.arange(len(frames)),
        depth=("depth", (np.arange(depth.size) + 0.5) * step, {"units": "mm"}),
        time_s=("frame", t, {"units": "s"}),
        time_end_s=("frame", t_end, {"units": "s"}),
    ).assign_attrs(units="a.u.", seconds_per_frame=per_frame, sources=sources, timing=timing)


def acquisition_order(times: Sequence[datetime | None]) -> list[int]:
    """Indices that put files in the order of their acquisition times (stable); as given when any is missing.

    Naive and time-zone-aware times are not compared (the given order is kept).

    Examples
    --------
    >>> acquisition_order([datetime(2024, 7, 25, 10), datetime(2024, 7, 25, 9), datetime(2024, 7, 25, 11)])
    [1, 0, 2]
    >>> acquisition_order([datetime(2024, 7, 25, 10), None])
    [0, 1]
    """
    if any(t is None for t in times):
        return list(range(len(times)))
    known = [t for t in times if t is not None]
    if len({t.tzinfo is None for t in known}) > 1:
        return list(range(len(times)))
    return sorted(range(len(known)), key=lambda k: known[k])


def _clock_from_headers(
    metas: Sequence[tuple[MRIMeta, int]],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]] | None:
    """Frame starts and ends (s from the first acquisition) from the files' own clocks.

    Each file's frames start at its acquisition time plus ``k`` frame times; a file of one
    frame lasts its scan time. None unless every file records its start (and what its
    frames need), or when the starts do not increase.
    """
    if not metas or any(m.acquired_at is None for m, _ in metas):
        return None
    first = metas[0][0].acquired_at
    assert first is not None
    starts: list[float] = []
    ends: list[float] = []
    for meta, n in metas:
        assert meta.acquired_at is not None
        try:
            base = (meta.acquired_at - first).total_seconds()
        except TypeError:  # naive and aware times mixed
            return None
        step = meta.frame_time_s if n > 1 else meta.scan_time_s
        if step is None or step <= 0:
            return None
        starts += [base + k * step for k in range(n)]
        ends += [base + (k + 1) * step for k in range(n)]
    t = np.asarray(starts, dtype=np.float64)
    if t.size > 1 and np.any(np.diff(t) <= 0):
        return None
    return t, np.asarray(ends, dtype=np.float64)
