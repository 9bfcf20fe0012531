"""Open-loop workloads: request send offsets fixed in advance from a pattern and a seed."""
