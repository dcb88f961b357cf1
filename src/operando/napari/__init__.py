"""napari plugin: open any operando result store as image and labels layers.

The reader contribution is declared in ``napari.yaml`` (npe2 manifest, registered through
the ``napari.manifest`` entry point). ``napari results/tomo_series.zarr`` or File > Open
then shows SXDM maps (``frame, y, x``), tomography volumes, labels and contact maps, and
MRI profiles and images with their physical scale and units.
"""

from operando.napari._reader import get_reader, store_layers

__all__ = ["get_reader", "store_layers"]
