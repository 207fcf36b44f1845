"""Test harness shared by every service's tests: real processes on free ports."""
