"""Maintenance tools of the bundled type library (not used at compile time)."""
