"""Plumbing under everything: atomic writes, folder locks, serialization, devices, distributed runs and every input check."""
