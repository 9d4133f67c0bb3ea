"""Extraction: one module per kind behind one interface (placeholder until the extract work lands)."""
