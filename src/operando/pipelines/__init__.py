"""Pipelines: the only layer that reads files, runs kernels, places results on the
electrochemistry timeline and writes result stores.

One module per modality (:mod:`operando.pipelines.sxdm`, :mod:`operando.pipelines.tomo`,
:mod:`operando.pipelines.mri`, ...). The CLI and the demo call these; kernels never do.
"""
