"""Readers of tomo files: raw instrument files in, data and metadata out (no kernels, no store)."""
