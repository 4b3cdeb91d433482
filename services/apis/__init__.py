"""DRF APIs of the services app, one module per area (style.md 4.3)."""
