"""Evaluation cycles (测评周期): archive/cycles/cycles.py; their packages: packages.py."""
