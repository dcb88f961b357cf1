"""Readers of sxdm files: raw instrument files in, data and metadata out (no kernels, no store)."""
