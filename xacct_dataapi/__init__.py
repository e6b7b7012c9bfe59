"""xacct: cross-account RDS Data API access over AWS PrivateLink."""

__version__ = "0.1.0"

# The cyclic garbage collector's thresholds for a command's process (CPython's default: 700, 10, 10), set by
# cli.main; here, beside the version, so that benchmarks/floor.py uses the same without importing the CLI. Parsing
# botocore's service models allocates millions of objects that live until exit; with the defaults, that triggered
# ~260 young and ~25 middle collections and 2 full ones of the whole heap before the first request, ~0.05-0.1 s of
# CPU. With these, ~20 young ones and 1 middle one: cycles are still collected, in long waits too (Instagram's
# "Dismissing Python Garbage Collection at Instagram" did the same for the same reason). Fresh setup at 100 ms:
# first write 0.77 s against 0.85 s, status 0.73 s against 0.79 s (means of 10 interleaved runs).
GC_THRESHOLDS = (50_000, 20, 100)
