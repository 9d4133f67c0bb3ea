"""The CLI's command groups, one module per area; cli.py registers them (thin shell over archive/)."""
