"""Towline's pricing-and-collection core.

Pure code: no I/O, no clock, no randomness. Callers pass time, ids and keys in, so the
tablet and the server compute the same bytes from the same inputs.
"""
