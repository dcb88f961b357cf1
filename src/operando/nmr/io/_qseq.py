"""Bruker sequential quadrature (``AQ_mod`` 2, "qseq", Redfield) FIDs as complex FIDs.

What the file holds
-------------------
In qseq mode the receiver's two channels are digitised one after the other, one real
point every ``DW = 1 / (2 SW_h)``; the ``TD`` stored points are real. After the
spectrometer's sign handling (the Redfield-Kunz trick: the receiver reference phase
advances by 90 degrees from one point to the next) the stored sequence is

    ``r[k] = Re(s(k DW) * i**k)``  (real points ``x0, -y1, -x2, y3, x4, ...``),

``s = x + i y`` the complex signal in TopSpin's sign convention (a line above the carrier
rotates as ``exp(+2i pi f t)``). This is the model under which NMRPipe's documented
processing of Bruker sequential data, ``FT -bruk`` (= ``FT -real -alt``: alternate the
sign of every second real point, complex FT of the real sequence, keep one half of the
spectrum; NMRPipe FT manual page; re-implemented in nmrglue's ``pipe_proc.ft(bruk=True)``),
yields a spectrum oriented and phased as the same pipeline's spectrum of simultaneous
(DQD/qsim) data; A. Keller, "Generalization of the Redfield-Kunz treatment of quadrature
phase time data", Hewlett-Packard Journal, Dec. 1988, gives the same sign pattern
(+1, -1, -1, +1, ...) for alternately sampled channels. Multiplying by ``i**k`` is a shift
of the spectrum by a quarter of the real sampling rate (``SW_h / 2``): the carrier, at
the centre of the ``SW_h`` window, lands at ``f_s / 4`` and the real spectrum from 0 to
``f_s / 2 = SW_h`` holds every line once, without folding. TopSpin processes such data
with a real FT to ``SI`` complex points from ``TD`` real points, as for DQD data
(``FT_mod`` "iqr"; the DQD sets here store ``FT_mod`` 6, "iqc" in the order no, isr, iqr,
fsr, fqr, isc, iqc, fsc, fqc, which would make qseq's 2: inferred, not seen in a file).

The conversion
--------------
From ``r``, the real part of ``s`` is known at the even points (``x[m] = (-1)**m r[2m]``,
time ``2m DW = m / SW_h``) and the imaginary part at the odd points (``y = -(-1)**m
r[2m+1]``, half a complex dwell later). ``y`` is moved back by half a complex dwell by a
band-limited (FFT) shift, on the sequence continued as odd in time before ``t = 0`` (an
FID of lines in absorption has ``y(-t) = -y(t)``; continued with zeros instead, the jump
at ``t = 0`` rings into the first points and moves 8 % of the area of a line near the band
edge) and zero padded after its end (as TopSpin's zero-filled real FT), giving ``TD // 2``
complex points at the complex dwell ``1 / SW_h``: an ordinary FID for
:func:`operando.nmr.process`. Measured on three lines spread over the window: window
integrals within 1e-5 of those of the NMRPipe-style real FT of the stored points, and the
spectrum correlates with it to better than 0.9999 (``tests/nmr/test_qseq.py``).

What is not known from documents here: whether a real qseq set's receiver phase advances
by +90 or -90 degrees (the other choice mirrors the spectrum about the carrier and flips
the phase sign). No real qseq set with its ``1r`` is in the corpus; the choice above is
the one NMRPipe's ``-bruk`` implies.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["qseq_to_complex"]


def _half_point_earlier(y: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Band-limited value of each real sequence half a sample earlier: ``out[m] = y(m - 1/2)``.

    Done on a buffer zero padded to twice the length (no wrap of the end onto the start);
    the Nyquist bin, whose half-sample shift is undefined for a real sequence, is dropped.
    """
    n = y.shape[-1]
    size = 2 * n
    spec = np.fft.rfft(y, n=size, axis=-1)
    j = np.arange(spec.shape[-1])
    factor = np.exp(-1j * np.pi * j / size)
    factor[-1] = 0.0  # Nyquist bin (size is even)
    return np.fft.irfft(spec * factor, n=size, axis=-1)[..., :n]


def qseq_to_complex(real: npt.ArrayLike) -> npt.NDArray[np.complex128]:
    """Complex FID at the complex dwell ``1 / SW_h`` from stored qseq real points.

    Parameters
    ----------
    real : (..., TD) array_like of float
        Stored real points, one every ``1 / (2 SW_h)`` (``r[k] = Re(s(k DW) i**k)``, see
        the module notes). An odd last point is dropped.

    Returns
    -------
    (..., TD // 2) ndarray of complex128
        ``s`` at ``t = m / SW_h``, TopSpin's sign convention.

    Examples
    --------
    >>> k = np.arange(64)
    >>> s = np.exp(2j * np.pi * 0.1 * k / 2)  # a line at +0.1 SW_h from the carrier
    >>> z = qseq_to_complex((s * 1j**k).real)
    >>> bool(np.allclose(z[8:24], s[0::2][8:24], atol=0.05))
    True
    """
    r = np.asarray(real, dtype=np.float64)
    n = r.shape[-1] // 2
    r = r[..., : 2 * n]
    sign = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    x = sign * r[..., 0::2]
    y_odd = -sign * r[..., 1::2]  # imaginary part at t = (m + 1/2) / SW_h
    # before t = 0 the imaginary part is continued as odd in time (y(-t) = -y(t), as for an
    # FID of lines in absorption): y(0) = 0 instead of the sinc ringing of a jump from zero
    mirrored = np.concatenate([-y_odd[..., ::-1], y_odd], axis=-1)
    return x + 1j * _half_point_earlier(mirrored)[..., n:]
