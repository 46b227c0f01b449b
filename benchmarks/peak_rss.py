"""Peak resident memory of a stretch of code, on Linux: reset the process's high-water mark
(VmHWM) to its current RSS, run the code, read how far the mark rose.

    base = reset_peak()
    ...            # the code to measure
    mb = peak_growth_mb(base)
"""
from __future__ import annotations


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def reset_peak() -> int:
    """Reset the peak-RSS mark to the current RSS; returns that RSS in kB."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return _status_kb("VmRSS")


def peak_growth_mb(base_kb: int) -> float:
    """How far the peak RSS rose above ``base_kb`` (from :func:`reset_peak`), in MB."""
    return (_status_kb("VmHWM") - base_kb) / 1024
