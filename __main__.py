"""Pulumi entry point: everything lives in components/program.py (also run by `mirrors plan`)."""

from components.program import run

run()
