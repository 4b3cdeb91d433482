"""Writes (style.md §4.2), one module per area: import from the module itself,
e.g. `from members.actions.orgs import union_org_create`."""
