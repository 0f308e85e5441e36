"""The Meltano project the console edits: one folder per district, and Meltano's own CLI for secrets.

A district lives in ``districts/<slug>/``: ``meltano.yml`` is a Meltano include file (the root meltano.yml's
``include_paths``) with the district's extractor and loader, one extractor and loader per linked school,
and each school's nightly job and schedule; ``mapping.yml`` is its mapping file. These files are the truth:
the console reads them on every page (an edit by hand shows at once) and writes them with ruamel.yaml's
round trip, which keeps comments and order. Secrets never go into them: ``meltano config set`` puts them
where Meltano keeps them (``.env``).

Names follow the project's convention (meltano.yml's Lincoln example): ``tap-clever-<district>``,
``tap-clever-<district>-<school>``, ``target-bloomz-<district>``, ``target-bloomz-<district>-<school>``,
and ``nightly-<district>-<school>`` for the job and its schedule.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

DISTRICTS = "districts"
INCLUDE = "meltano.yml"
MAPPING = "mapping.yml"
NIGHTLY = "0 2 * * *"


@dataclass(frozen=True)
class Field:
    name: str  # the tap setting
    label: str  # the seed's words
    secret: bool = False
    help: str = ""


@dataclass(frozen=True)
class Kind:
    """A kind of source link, as the seeds' forms ask for it."""

    name: str
    label: str
    plugin: str  # the base extractor in meltano.yml
    executable: str
    source: str  # the mapping source: clever | oneroster
    fields: tuple[Field, ...]


KINDS = {
    kind.name: kind
    for kind in (
        Kind(
            "clever",
            "Clever",
            "tap-clever",
            "tap-clever",
            "clever",
            (
                Field(
                    "district_token",
                    "District Auth Token",
                    True,
                    "From your Bloomz Customer Success contact.",
                ),
                Field(
                    "admin_email",
                    "Your e-mail (the admin linking the schools)",
                    help="Clever must list it as a district admin, or as staff of every linked school.",
                ),
            ),
        ),
        Kind(
            "skyward",
            "Skyward",
            "tap-skyward",
            "tap-oneroster",
            "oneroster",
            (
                Field(
                    "client_id",
                    "Client ID",
                    help="Product Setup > Skyward Contact Access > Secured User > API.",
                ),
                Field(
                    "client_secret", "Secret Key", True, "Shown with the Client ID on the user's API button."
                ),
                Field(
                    "base_url",
                    "Server URL",
                    help="The OneRoster API URL of District Setup > API Configuration.",
                ),
                Field("token_url", "Authentication URL", help="The Authentication URL of the same page."),
            ),
        ),
        Kind(
            "classlink",
            "ClassLink",
            "tap-classlink",
            "tap-oneroster",
            "oneroster",
            (
                Field("client_id", "Client ID"),
                Field("client_secret", "Client Secret", True),
                Field("base_url", "Roster Server URL"),
            ),
        ),
        Kind("csv", "OneRoster CSV bundle", "tap-oneroster", "tap-oneroster", "oneroster", ()),
    )
}


class ProjectError(ValueError):
    """A file of the project cannot be read or written as asked; the message says which and why."""


@dataclass
class School:
    slug: str
    school_id: str
    extractor: str
    loader: str
    job: str
    loader_config: dict[str, Any]
    schedule: dict[str, Any] | None  # the Meltano schedule of its nightly job, when there is one

    @property
    def scheduled(self) -> bool:
        return self.schedule is not None


@dataclass
class District:
    slug: str
    folder: Path
    kind: Kind | None = None
    extractor: str | None = None
    extractor_config: dict[str, Any] = field(default_factory=dict)
    loader: str | None = None
    schools: list[School] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what is wrong with the files, in plain words

    @property
    def include_file(self) -> Path:
        return self.folder / INCLUDE

    @property
    def mapping_file(self) -> Path:
        return self.folder / MAPPING

    def school(self, slug: str) -> School | None:
        return next((s for s in self.schools if s.slug == slug), None)

    def school_of(self, school_id: str) -> School | None:
        return next((s for s in self.schools if s.school_id == school_id), None)


def slugify(text: str) -> str:
    """A name for files and Meltano plugins: lower case letters, digits and single dashes."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40].strip("-")


def _yaml() -> YAML:
    yaml = YAML()  # round trip: comments, order and quoting survive a rewrite
    yaml.indent(mapping=2, sequence=2, offset=0)
    yaml.width = 110
    return yaml


def load_yaml(path: Path) -> Any:
    try:
        return _yaml().load(path.read_text(encoding="utf-8"))
    except YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise ProjectError(f"{path.name}{line}: not valid YAML: {getattr(err, 'problem', err)}") from None


def write_yaml(path: Path, document: Any) -> None:
    """Write through a temporary file, so a reader never sees half a file."""
    buffer = io.StringIO()
    _yaml().dump(document, buffer)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(buffer.getvalue(), encoding="utf-8")
    os.replace(temporary, path)


@dataclass
class Project:
    """The Meltano project at ``root`` and the Bloomz store the console reads."""

    root: Path
    database: Path
    environment: str | None = None

    @property
    def state_dir(self) -> Path:
        """The console's own files (users, session key, source snapshots): the owner's alone."""
        folder = self.root / ".bloomz-console"
        folder.mkdir(mode=0o700, exist_ok=True)
        folder.chmod(0o700)
        return folder

    # -- reading the districts ---------------------------------------------------------------------------

    def districts(self) -> list[District]:
        folder = self.root / DISTRICTS
        if not folder.is_dir():
            return []
        return [self._read(path.parent) for path in sorted(folder.glob(f"*/{INCLUDE}"))]

    def district(self, slug: str) -> District | None:
        if slug != slugify(slug) or not (self.root / DISTRICTS / slug / INCLUDE).is_file():
            return None
        return self._read(self.root / DISTRICTS / slug)

    def _read(self, folder: Path) -> District:
        district = District(slug=folder.name, folder=folder)
        try:
            document = load_yaml(folder / INCLUDE) or {}
        except ProjectError as err:
            district.problems.append(str(err))
            return district
        plugins = document.get("plugins") or {}
        extractors = {p["name"]: p for p in plugins.get("extractors") or [] if isinstance(p, dict)}
        loaders = {p["name"]: p for p in plugins.get("loaders") or [] if isinstance(p, dict)}
        bases = {kind.plugin: kind for kind in KINDS.values()}
        for name, plugin in extractors.items():
            kind = bases.get(plugin.get("inherit_from", ""))
            if kind is not None:
                district.kind, district.extractor = kind, name
                district.extractor_config = dict(plugin.get("config") or {})
        district.loader = next(
            (n for n, p in loaders.items() if p.get("inherit_from") == "target-bloomz"), None
        )
        if district.extractor is None or district.loader is None:
            district.problems.append(
                f"{DISTRICTS}/{folder.name}/{INCLUDE} has no extractor inheriting from "
                f"{', '.join(sorted(bases))}, or no loader inheriting from target-bloomz"
            )
            return district
        schedules = {s.get("job"): s for s in document.get("schedules") or [] if isinstance(s, dict)}
        jobs = {  # "<extractor> <loader>" -> the job running it (a file written by hand names its own)
            " ".join(str(task).split()): job["name"]
            for job in document.get("jobs") or []
            if isinstance(job, dict)
            for task in job.get("tasks") or []
        }
        for name, plugin in extractors.items():
            if plugin.get("inherit_from") != district.extractor:
                continue
            slug = name.removeprefix(district.extractor + "-")
            ids = (plugin.get("config") or {}).get("schools") or []
            loader = f"{district.loader}-{slug}"
            if len(ids) != 1 or loader not in loaders:
                district.problems.append(
                    f"{name}: a school's extractor names exactly one school and has a loader named {loader}"
                )
                continue
            job = jobs.get(f"{name} {loader}", f"nightly-{district.slug}-{slug}")
            district.schools.append(
                School(
                    slug=slug,
                    school_id=str(ids[0]),
                    extractor=name,
                    loader=loader,
                    job=job,
                    loader_config=dict(loaders[loader].get("config") or {}),
                    schedule=dict(schedules[job]) if job in schedules else None,
                )
            )
        return district

    # -- writing -----------------------------------------------------------------------------------------

    def create_district(self, name: str, kind: Kind, settings: dict[str, Any]) -> District:
        """The district's folder: its include file and a mapping file extending the source's default."""
        slug = slugify(name)
        if not slug:
            raise ProjectError("give the district a name (letters or digits)")
        folder = self.root / DISTRICTS / slug
        if folder.exists():
            raise ProjectError(f"a district named {slug} is linked already ({DISTRICTS}/{slug})")
        extractor = f"{kind.plugin}-{slug}"
        loader = f"target-bloomz-{slug}"
        taken = self.taken_names() & {extractor, loader}
        if taken:
            raise ProjectError(
                f"{', '.join(sorted(taken))} is already a Meltano plugin of this project: give the district "
                "another name"
            )
        folder.mkdir(parents=True)
        document = CommentedMap(
            plugins=CommentedMap(
                extractors=CommentedSeq(
                    [CommentedMap(name=extractor, inherit_from=kind.plugin, config=CommentedMap(settings))]
                ),
                loaders=CommentedSeq(
                    [
                        CommentedMap(
                            name=loader,
                            inherit_from="target-bloomz",
                            config=CommentedMap(mapping=f"{DISTRICTS}/{slug}/{MAPPING}"),
                        )
                    ]
                ),
            ),
            jobs=CommentedSeq(),
            schedules=CommentedSeq(),
        )
        document.yaml_set_start_comment(
            f"{name}: linked with the bloomz-sync console. Meltano reads this file through include_paths;\n"
            "edit it by hand freely (the console reads it back). Secrets are in .env (meltano config set)."
        )
        write_yaml(folder / INCLUDE, document)
        mapping = CommentedMap(
            extends=kind.source, description=name, communities=CommentedMap(schools=CommentedSeq())
        )
        mapping.yaml_set_start_comment(
            f"{name}: the district's mapping file (mappings/README.md), over the {kind.source} defaults."
        )
        write_yaml(folder / MAPPING, mapping)
        district = self.district(slug)
        assert district is not None
        return district

    def add_school(self, district: District, school_id: str, name: str) -> School:
        """A school's own extractor and loader (its own feed, state id and lock) and its nightly job."""
        if (found := district.school_of(school_id)) is not None:
            return found
        assert district.extractor
        assert district.loader
        assert district.kind
        names = self.taken_names()
        slug = base = slugify(name) or slugify(school_id)
        number = 2
        while {
            f"{district.extractor}-{slug}",
            f"{district.loader}-{slug}",
            f"nightly-{district.slug}-{slug}",
        } & names:
            slug, number = f"{base}-{number}", number + 1
        document = load_yaml(district.include_file)
        plugins = document.setdefault("plugins", CommentedMap())
        plugins.setdefault("extractors", CommentedSeq()).append(
            CommentedMap(
                name=f"{district.extractor}-{slug}",
                inherit_from=district.extractor,
                config=CommentedMap(schools=CommentedSeq([school_id])),
            )
        )
        plugins.setdefault("loaders", CommentedSeq()).append(
            CommentedMap(
                name=f"{district.loader}-{slug}",
                inherit_from=district.loader,
                config=CommentedMap(feed=f"{district.kind.source}:{district.slug}-{slug}"),
            )
        )
        task = f"{district.extractor}-{slug} {district.loader}-{slug}"
        job = f"nightly-{district.slug}-{slug}"
        document.setdefault("jobs", CommentedSeq()).append(CommentedMap(name=job, tasks=CommentedSeq([task])))
        write_yaml(district.include_file, document)
        school = self.district(district.slug).school(slug)  # type: ignore[union-attr]
        assert school is not None
        return school

    def set_extractor_config(self, district: District, config: dict[str, Any]) -> None:
        """Non-secret settings of the district's extractor (a secret goes through :meth:`set_secret`)."""
        document = load_yaml(district.include_file)
        plugin = next(p for p in document["plugins"]["extractors"] if p.get("name") == district.extractor)
        settings = plugin.setdefault("config", CommentedMap())
        for name, value in config.items():
            if value in (None, ""):
                settings.pop(name, None)
            else:
                settings[name] = value
        write_yaml(district.include_file, document)

    def set_school_settings(
        self, district: District, school: School, config: dict[str, Any], scheduled: bool
    ) -> None:
        """The school's loader settings (None removes one) and whether its nightly schedule exists."""
        document = load_yaml(district.include_file)
        loader = next(p for p in document["plugins"]["loaders"] if p.get("name") == school.loader)
        settings = loader.setdefault("config", CommentedMap())
        for name, value in config.items():
            if value is None:
                settings.pop(name, None)
            else:
                settings[name] = CommentedSeq(value) if isinstance(value, list) else value
        if scheduled:
            settings["scheduled"] = True  # "This is the nightly scheduled import" for the job's runs
        else:
            settings.pop("scheduled", None)
        jobs = document.setdefault("jobs", CommentedSeq())
        if scheduled and not any(j.get("name") == school.job for j in jobs):
            jobs.append(
                CommentedMap(name=school.job, tasks=CommentedSeq([f"{school.extractor} {school.loader}"]))
            )
        schedules = document.setdefault("schedules", CommentedSeq())
        existing = [i for i, s in enumerate(schedules) if s.get("job") == school.job]
        if scheduled and not existing:
            schedules.append(CommentedMap(name=school.job, interval=NIGHTLY, job=school.job))
        if not scheduled:
            for index in reversed(existing):
                del schedules[index]
        write_yaml(district.include_file, document)

    def taken_names(self) -> set[str]:
        """Every plugin, job and schedule name of the project (meltano.yml and the district files)."""
        names: set[str] = set()
        for path in [self.root / "meltano.yml", *sorted((self.root / DISTRICTS).glob(f"*/{INCLUDE}"))]:
            try:
                document = load_yaml(path) or {}
            except ProjectError:
                continue
            for plugins in (document.get("plugins") or {}).values():
                names.update(str(p.get("name")) for p in plugins or [] if isinstance(p, dict))
            for group in ("jobs", "schedules"):
                names.update(str(j.get("name")) for j in document.get(group) or [] if isinstance(j, dict))
        return names

    # -- Meltano -----------------------------------------------------------------------------------------

    def meltano_command(self, *args: str) -> list[str]:
        environment = [f"--environment={self.environment}"] if self.environment else []
        return [meltano_executable(), *environment, *args]

    def meltano(
        self, *args: str, stdin: str | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.meltano_command(*args),
            cwd=self.root,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=os.environ.copy(),
        )

    def set_secret(self, plugin: str, name: str, value: str) -> None:
        """``meltano config set`` from standard input: the secret goes to .env and never on a command line."""
        done = self.meltano("config", "set", plugin, name, "--from-file", "-", stdin=value)
        if done.returncode != 0:
            raise ProjectError(f"meltano config set {plugin} {name} failed: {last_line(done.stderr)}")

    def plugin_config(self, plugin: str) -> dict[str, Any]:
        """The plugin's whole configuration as Meltano resolves it (secrets included: keep it in memory)."""
        done = self.meltano("invoke", "--dump=config", plugin)
        if done.returncode != 0:
            raise ProjectError(
                f"meltano could not resolve the settings of {plugin}: {last_line(done.stderr)}"
            )
        config: dict[str, Any] = json.loads(done.stdout)
        return config


def meltano_executable() -> str:
    """Meltano installed beside this Python (the project's environment), else the one on PATH."""
    beside = Path(sys.executable).with_name("meltano")
    return str(beside) if beside.exists() else shutil.which("meltano") or "meltano"


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][-500:] if lines else "(no message)"
