"""Wheeldesk shared package: the one owner of every cross-process contract."""

__version__ = "0.1.0"
