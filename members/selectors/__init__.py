"""Reads (style.md §4.2), one module per area: import from the module itself,
e.g. `from members.selectors.people import members_visible_to`."""
