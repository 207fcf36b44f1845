"""Wheeldesk benchmarks: `make bench` runs every module here and writes docs/benchmarks.md."""
