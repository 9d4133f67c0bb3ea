"""One module per file kind (or family of kinds), each declaring `PARSERS = [...]`.

The registry (archive/extract/registry.py) imports every module here: a new kind is a new
module in this folder plus its tests. Top-level imports stay light (stdlib and core only):
sniffing loads them all; heavy libraries are imported inside `extract`."""
