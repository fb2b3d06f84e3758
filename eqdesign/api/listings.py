"""What the listing commands show: the groups and their irreps (`eqdesign groups`) and the spec language's
JSON Schema for editors (`eqdesign schema`)."""

from __future__ import annotations

from ..spec.editor_schema import editor_schema
from ..theory.catalog import describe_group, group_list, lookup_group

__all__ = ["describe_group", "editor_schema", "group_list", "lookup_group"]
