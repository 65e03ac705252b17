"""Interchange with other neuromorphic tools (NIR: :mod:`neurotep.interop.nir`)."""

from neurotep.interop.nir import DT, NIRError, export_nir, fold_resistance, from_nir, import_nir, to_nir

__all__ = ["DT", "NIRError", "export_nir", "fold_resistance", "from_nir", "import_nir", "to_nir"]
