"""readiness."""
