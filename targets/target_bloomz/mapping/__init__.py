"""The mapping language: how a district's roster becomes Bloomz communities, classes and people.

model.py (the Mapping and its options), yaml_file.py (a file, validated with file:line errors),
templates.py (sandboxed Jinja2), check.py (`mapping validate`), answers.py (the map step: the mapping's
answers for every school, section and staff member of a run).
"""

from target_bloomz.mapping.model import (
    CommunityTarget,
    ImportOptions,
    Limit,
    Mapping,
    MappingError,
    load_mapping,
    packaged_defaults,
)

__all__ = [
    "CommunityTarget",
    "ImportOptions",
    "Limit",
    "Mapping",
    "MappingError",
    "load_mapping",
    "packaged_defaults",
]
