"""The school a page is about, and the Bloomz community its runs, members and classes are under.

Every page finds a school's community one way, through the district's mapping file: a school of a group
(several schools, one community) is under the group's key, any other under ``<source>:<school id>``. The
home page's list and every page of a school call :func:`community_key`, so none builds a key of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import duckdb
from starlette.requests import Request
from starlette.responses import HTMLResponse

from bloomz_console import engine, links, options
from bloomz_console.project import District, Project, School
from bloomz_console.web import console, render, school_of


def community_key(district: District, school: School, mapping: engine.Mapping | None, name: str) -> str:
    """The Bloomz community the school goes to, as the mapping decides (a group, or <source>:<id>)."""
    if mapping is not None:
        target = mapping.community_for({"id": school.school_id, "name": name})
        if target is not None:
            return target.key
    source = district.kind.source if district.kind else "clever"
    return f"{source}:{school.school_id}"


def district_mapping(district: District) -> engine.Mapping | None:
    """The district's mapping, None when its file has errors (the Options screen shows them)."""
    try:
        return engine.load_mapping(district.mapping_file)
    except engine.MappingError:
        return None


def keys(project: Project, district: District) -> dict[str, str]:
    """Each linked school's community key, by the school's slug (the home page's list)."""
    mapping = district_mapping(district)
    return {
        school.slug: community_key(
            district, school, mapping, links.school_name(project, district, school.school_id)
        )
        for school in district.schools
    }


@dataclass(frozen=True)
class Here:
    """The school of a page's path: its district, its link, its name in the source and its community."""

    district: District
    school: School
    name: str
    key: str

    def render(self, request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        """A page about the school; its template gets district, school, name and key."""
        return render(
            request,
            template,
            status_code,
            district=self.district,
            school=self.school,
            name=self.name,
            key=self.key,
            **context,
        )

    @property
    def url(self) -> str:
        return f"/schools/{self.district.slug}/{self.school.slug}"


def here(request: Request, loaded: options.Loaded | None = None) -> Here:
    """The school of the request's path (404 when it is not linked); ``loaded``: the options the page has
    read already (a preview's are not saved yet), else the district's mapping file is read."""
    district, school = school_of(request)
    name = links.school_name(console(request).project, district, school.school_id)
    mapping = loaded.mapping if loaded is not None else district_mapping(district)
    return Here(district, school, name, community_key(district, school, mapping, name))


@contextmanager
def store(request: Request, *, write: bool = False) -> Iterator[duckdb.DuckDBPyConnection | None]:
    """The Bloomz store for one request (None before the first import)."""
    with engine.store(console(request).project.database, write=write) as con:
        yield con
