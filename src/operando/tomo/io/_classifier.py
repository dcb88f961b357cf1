"""Interphase classifier files: write and read a trained :class:`~operando.tomo.InterphaseClassifier`.

The file is a NumPy ``.npz`` archive of plain arrays (format tag, feature scales, and the
forest's nodes: :class:`~operando.tomo.ForestArrays`), read with ``allow_pickle=False``:
it holds numbers only, so reading it cannot run code, whoever wrote it.

Files of earlier versions are pickles. A pickle can run code when it is read, so one is read
only when the caller says it trusts the file (``trust_pickle=True``, ``--trust-pickle``), and
then by an unpickler that resolves only the few classes a random forest is made of (a file
naming any other callable is refused before anything in it is called; the pattern of
:ref:`pickle-restrict` in the Python documentation).
"""

from __future__ import annotations

import io
import pickle
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

from operando.errors import CorruptFileError

if TYPE_CHECKING:
    from operando.tomo._segment import InterphaseClassifier

__all__ = ["CLASSIFIER_FORMAT", "load_classifier", "save_classifier"]

CLASSIFIER_FORMAT = "operando-interphase-classifier/3"
_PICKLE_FORMAT = "operando-interphase-classifier/2"
_ARRAYS = ("classes", "offsets", "left", "right", "feature", "threshold", "value")

# every global a pickled RandomForestClassifier refers to (protocols 2 to 5), and nothing else
_ALLOWED = frozenset(
    {
        ("sklearn.ensemble._forest", "RandomForestClassifier"),
        ("sklearn.tree._classes", "DecisionTreeClassifier"),
        ("sklearn.tree._tree", "Tree"),
        ("numpy", "dtype"),
        ("numpy", "ndarray"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy._core.numeric", "_frombuffer"),
        ("_codecs", "encode"),
    }
)


class _RefusedGlobalError(Exception):
    def __init__(self, module: str, name: str) -> None:
        super().__init__(f"{module}.{name}")
        self.module = module


class _ForestUnpickler(pickle.Unpickler):
    """Resolves only the globals in ``_ALLOWED`` (no other callable can be reached)."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise _RefusedGlobalError(module, name)
        return super().find_class(module, name)


def save_classifier(classifier: InterphaseClassifier, path: str | PathLike[str]) -> Path:
    """Write a trained interphase classifier to ``path`` as plain arrays (``.npz``; no code can be stored).

    Parameters
    ----------
    classifier : InterphaseClassifier
        From :func:`operando.tomo.train_interphase_classifier` (or read back by
        :func:`load_classifier`).
    path : path
        Target file (replaced if it exists); written exactly there (no suffix added).

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from operando.tomo import load_classifier, save_classifier, train_interphase_classifier
    >>> rng = np.random.default_rng(0)
    >>> vol = rng.normal(size=(6, 8, 8)).astype(np.float32)
    >>> clf = train_interphase_classifier(vol, rng.integers(0, 5, vol.shape), n_estimators=2)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     again = load_classifier(save_classifier(clf, f"{tmp}/rf.npz"))
    >>> bool(np.array_equal(again.predict(vol), clf.predict(vol)))
    True
    """
    import numpy as np

    from operando.tomo._segment import ForestArrays

    model = classifier.model
    forest = model if isinstance(model, ForestArrays) else ForestArrays.from_sklearn(model)
    p = Path(path)
    with p.open("wb") as fh:
        np.savez_compressed(
            fh,
            format=np.array(CLASSIFIER_FORMAT),
            sigma=np.array([classifier.sigma_min, classifier.sigma_max], dtype=np.float64),
            **{name: getattr(forest, name) for name in _ARRAYS},
        )
    return p


def _load_arrays(p: Path) -> InterphaseClassifier:
    import numpy as np

    from operando.tomo._segment import ForestArrays, InterphaseClassifier

    try:
        with p.open("rb") as fh, np.load(fh, allow_pickle=False) as npz:
            if "format" not in npz.files or str(npz["format"]) != CLASSIFIER_FORMAT:
                raise CorruptFileError("not an operando interphase classifier", path=p)
            missing = [n for n in (*_ARRAYS, "sigma") if n not in npz.files]
            if missing:
                raise CorruptFileError(f"the classifier file lacks {', '.join(missing)}", path=p)
            arrays = {n: np.asarray(npz[n]) for n in _ARRAYS}
            sigma = np.asarray(npz["sigma"], dtype=np.float64)
    except CorruptFileError:
        raise
    except Exception as exc:  # a damaged archive raises many kinds
        raise CorruptFileError(f"cannot be read as a classifier ({type(exc).__name__})", path=p) from None
    n = arrays["left"].size
    ok = (
        sigma.shape == (2,)
        and arrays["offsets"].ndim == 1
        and arrays["offsets"].size >= 2
        and int(arrays["offsets"][0]) == 0
        and int(arrays["offsets"][-1]) == n
        and all(arrays[k].shape == (n,) for k in ("right", "feature", "threshold"))
        and arrays["value"].shape == (n, arrays["classes"].size)
        and all(np.issubdtype(arrays[k].dtype, np.integer) for k in ("offsets", "left", "right", "feature"))
    )
    if ok:
        sizes = np.diff(arrays["offsets"])
        tree = np.repeat(np.arange(sizes.size), sizes)
        local_max = sizes[tree] - 1
        ok = bool(
            (sizes > 0).all()
            and np.all((arrays["left"] == -1) | ((arrays["left"] > 0) & (arrays["left"] <= local_max)))
            and np.all((arrays["right"] == -1) | ((arrays["right"] > 0) & (arrays["right"] <= local_max)))
        )
    if not ok:
        raise CorruptFileError("the classifier file's arrays are inconsistent (damaged?)", path=p)
    forest = ForestArrays(**arrays)
    return InterphaseClassifier(model=forest, sigma_min=float(sigma[0]), sigma_max=float(sigma[1]))


def load_classifier(path: str | PathLike[str], *, trust_pickle: bool = False) -> InterphaseClassifier:
    """Read a classifier written by :func:`save_classifier` (or, trusted, a pickle of an earlier version).

    Parameters
    ----------
    path : path
        A classifier file.
    trust_pickle : bool, default False
        Also read a pickle (written by operando before the array format). Reading a pickle
        can run code hidden in it; only the random forest's classes are resolved, but give
        this only for files you made yourself.

    Returns
    -------
    InterphaseClassifier

    Raises
    ------
    CorruptFileError
        Not a classifier of this package; a pickle without ``trust_pickle``; a pickle that
        names any class or function other than a random forest's (refused before it is
        called); a classifier written with joblib by an earlier version (train it again).
    """
    from operando.tomo._segment import InterphaseClassifier

    p = Path(path)
    try:
        with p.open("rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise CorruptFileError(f"cannot be read ({exc.strerror or type(exc).__name__})", path=p) from None
    if head.startswith(b"PK"):
        return _load_arrays(p)
    if not trust_pickle:
        raise CorruptFileError(
            "not an array classifier file; if it is a pickle from an earlier operando that you made yourself, give "
            "--trust-pickle (reading a pickle can run code), or train again",
            path=p,
        )
    try:
        payload = _ForestUnpickler(io.BytesIO(p.read_bytes())).load()
    except _RefusedGlobalError as exc:
        if exc.module.startswith("joblib"):
            raise CorruptFileError(
                "a classifier written with joblib by an earlier operando; train it again to write the current format",
                path=p,
            ) from None
        raise CorruptFileError(f"not an operando interphase classifier (it refers to {exc})", path=p) from None
    except Exception as exc:  # unpickling raises many kinds for a foreign file
        raise CorruptFileError(f"cannot be read as a classifier ({type(exc).__name__})", path=p) from None
    if not isinstance(payload, dict) or payload.get("format") != _PICKLE_FORMAT:
        raise CorruptFileError("not an operando interphase classifier", path=p)
    model = payload.get("model")
    if type(model).__name__ != "RandomForestClassifier":
        raise CorruptFileError("the classifier file holds no random forest", path=p)
    return InterphaseClassifier(
        model=model, sigma_min=float(payload["sigma_min"]), sigma_max=float(payload["sigma_max"])
    )
