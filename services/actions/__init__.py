"""Writes, one module per program area (programs, batches, stations, relief...)."""
