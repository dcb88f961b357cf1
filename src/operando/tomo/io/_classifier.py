"""Interphase classifier files: write and read a trained :class:`~operando.tomo.InterphaseClassifier`.

The file is a pickle (protocol 5) of a small dictionary: a format tag, the scikit-learn
version that trained it, the feature scales and the forest. It is read back by an
unpickler that resolves only the few classes a random forest is made of (scikit-learn's
forest and tree, NumPy's array and dtype reconstruction): a file naming any other
callable is refused before anything in it is called, so a foreign or tampered file cannot
run code (the pattern of :ref:`pickle-restrict` in the Python documentation).
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

CLASSIFIER_FORMAT = "operando-interphase-classifier/2"

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
    """Write a trained interphase classifier to ``path`` (read it back with :func:`load_classifier`).

    Parameters
    ----------
    classifier : InterphaseClassifier
        From :func:`operando.tomo.train_interphase_classifier`.
    path : path
        Target file (replaced if it exists); ``.pkl`` is a fitting suffix.

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
    ...     again = load_classifier(save_classifier(clf, f"{tmp}/rf.pkl"))
    >>> bool(np.array_equal(again.predict(vol), clf.predict(vol)))
    True
    """
    import sklearn

    p = Path(path)
    payload = {
        "format": CLASSIFIER_FORMAT,
        "sklearn": sklearn.__version__,
        "sigma_min": float(classifier.sigma_min),
        "sigma_max": float(classifier.sigma_max),
        "model": classifier.model,
    }
    p.write_bytes(pickle.dumps(payload, protocol=5))
    return p


def load_classifier(path: str | PathLike[str]) -> InterphaseClassifier:
    """Read a classifier written by :func:`save_classifier`, resolving only a random forest's classes.

    Parameters
    ----------
    path : path
        A file written by :func:`save_classifier`.

    Returns
    -------
    InterphaseClassifier

    Raises
    ------
    CorruptFileError
        Not a classifier written by this package: not a pickle, a pickle that names any
        class or function other than a random forest's (refused before it is called), or a
        classifier written with joblib by an earlier version (train it again).
    """
    from operando.tomo._segment import InterphaseClassifier

    p = Path(path)
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
    if not isinstance(payload, dict) or payload.get("format") != CLASSIFIER_FORMAT:
        raise CorruptFileError("not an operando interphase classifier", path=p)
    model = payload.get("model")
    if type(model).__name__ != "RandomForestClassifier":
        raise CorruptFileError("the classifier file holds no random forest", path=p)
    return InterphaseClassifier(
        model=model, sigma_min=float(payload["sigma_min"]), sigma_max=float(payload["sigma_max"])
    )
