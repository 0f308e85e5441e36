"""Which step writes and reads which table: the one place that says how the steps of an import connect.

A run's working tables are DuckDB temp tables of the import's connection, named by the step that makes
them: ``stg_`` staging, ``mirror_`` the source mirror's merge, ``map_`` the mapping's answers, ``norm_``
normalised contact details, ``p_`` the plan (with ``w_`` and ``k_``, the plan's working sets). Store
tables have no prefix. ``<stream>`` stands for each standard roster stream, ``<field>`` for email and
phone, ``<table>`` for each table the journal covers.

The code uses it: a held run's saved plan keeps the tables ``kept_by_a_saved_plan`` names, and approve
applies that saved plan only when it holds every table apply reads (``read_by_apply``). A test checks that
the SQL of each step's modules names only the tables declared here for it (tests/unit/target/test_tables.py);
``python -m target_bloomz.tables`` prints the table docs/architecture.md shows.
"""

from __future__ import annotations

from dataclasses import dataclass

from roster_streams.contract import STREAMS

RUN_PREFIXES = (
    "stg_",
    "mirror_",
    "map_",
    "norm_",
    "p_",
    "w_",
    "k_",
    "chk_",
    "distinct_",
    "checked_",
    "python_",
)


@dataclass(frozen=True)
class Step:
    name: str
    modules: tuple[str, ...]  # where the step's SQL lives (paths under target_bloomz/)
    writes: tuple[str, ...] = ()  # run tables it makes or changes
    reads: tuple[str, ...] = ()  # run tables it reads
    scratch: tuple[str, ...] = ()  # its own working tables, gone when it ends
    store: tuple[str, ...] = ()  # store tables it reads or writes
    what: str = ""


_PRODUCT = (
    "communities",
    "community_sources",
    "classes",
    "people",
    "person_sources",
    "community_members",
    "class_members",
    "student_contacts",
    "class_member_tombstones",
)

STEPS: tuple[Step, ...] = (
    Step(
        "stage",
        ("stage/staging.py",),
        writes=("stg_<stream>", "stg_rejects"),
        reads=("mirror_delta_sections",),
        scratch=("chk_<stream>",),
        store=("classes", "community_sources", "person_sources"),
        what="the spooled records into typed tables, checked; references checked against the mirror",
    ),
    Step(
        "merge mirror",
        ("stage/mirror.py",),
        writes=("stg_<stream>", "mirror_delta_<stream>", "mirror_run"),
        reads=("stg_rejects",),
        store=("src_<stream>", "src_streams"),
        what="a delta merged into the feed's source mirror: stg_<stream> becomes the whole picture",
    ),
    Step(
        "map",
        ("mapping/answers.py",),
        writes=("map_schools", "map_sections", "map_staff", "map_org_problems"),
        reads=("stg_schools", "stg_sections", "stg_staff", "stg_terms"),
        store=("communities", "community_sources"),
        what="the mapping's answers for each school, section and staff member",
    ),
    Step(
        "normalize contacts",
        ("contacts/normalize.py",),
        writes=("norm_email", "norm_phone", "norm_contact_checks"),
        reads=("stg_students", "stg_staff", "stg_contacts"),
        scratch=("distinct_<field>", "checked_<field>", "python_<field>"),
        store=("contact_checks",),
        what="e-mail addresses and phone numbers checked once per store",
    ),
    Step(
        "check source",
        ("guard/source_identity.py", "guard/pull_verdict.py"),
        writes=("stg_left_out",),  # the users the tap sent in no stream (plan/accounting.py keeps them)
        reads=("map_schools", "stg_schools", "stg_contacts", "stg_student_contacts"),
        store=(
            "runs",
            "feeds",
            "communities",
            "community_sources",
            "community_members",
            "classes",
            "person_sources",
            "plan_rows",
            "src_schools",
            "src_sections",
        ),
        what="the pull is complete and comes from the source and district the store knows",
    ),
    Step(
        "record run",
        ("runs/run_log.py", "runs/refusals.py"),
        reads=("map_schools", "stg_student_contacts"),
        store=("runs", "run_issues"),
        what="the run's record: options, counts, issues, status",
    ),
    Step(
        "plan",
        ("plan/planner.py", "plan/churned_contacts.py", "plan/removals.py", "plan/accounting.py"),
        writes=(
            "p_communities",
            "p_community_sources",
            "p_sections",
            "p_class_names",
            "p_classes",
            "p_class_archives",
            "w_student_schools",
            "w_staff_schools",
            "k_student_schools",
            "w_links",
            "w_people",
            "p_contact_matches",
            "p_people",
            "k_people",
            "p_community_members",
            "p_class_members",
            "p_student_contacts",
            "p_class_member_removals",
            "p_community_member_removals",
            "p_student_contact_removals",
            "p_tombstones_cleared",
            "p_plan_rows",
            "p_issues",
        ),
        reads=(
            "stg_<stream>",
            "stg_rejects",
            "map_schools",
            "map_sections",
            "map_staff",
            "map_org_problems",
            "norm_email",
            "norm_phone",
            "stg_left_out",
        ),
        scratch=("p_plan_candidates", "p_plan_order", "p_name_claims", "p_name_round", "p_name_fallbacks"),
        store=(*_PRODUCT, "runs", "run_issues", "outbox"),
        what="what the run would change, per entity and why; writes only the run's p_ tables",
    ),
    Step(
        "save plan",
        ("plan/saved_plan.py", "plan/issue_scope.py"),
        reads=(
            "p_plan_rows",
            "p_issues",
            "p_sections",
            "k_student_schools",
            "w_staff_schools",
            "map_schools",
            "stg_rejects",
            "stg_enrollments",
            "stg_student_contacts",
            "stg_terms",
        ),
        store=("plan_rows", "run_issues", "runs"),
        what="the plan's rows, issues (with their schools) and counts recorded with the run",
    ),
    Step(
        "check limits",
        ("guard/safety.py",),
        reads=(
            "map_schools",
            "p_communities",
            "p_classes",
            "p_class_archives",
            "p_people",
            "p_class_members",
            "p_class_member_removals",
            "p_community_member_removals",
        ),
        store=("runs", "classes", "class_members", "community_members"),
        what="the first-import rule and the mapping's safety limits",
    ),
    Step(
        "hold",
        ("guard/hold.py", "plan/artifact.py"),
        reads=("norm_contact_checks",),  # made empty for a run an older version held without it
        store=("runs",),
        what="a run over a limit keeps its plan and input beside the store and waits for a person",
    ),
    Step(
        "apply",
        (
            "apply/transaction.py",
            "apply/removals.py",
            "apply/mirror_commit.py",
            "apply/contact_checks.py",
            "apply/journal.py",
            "apply/family_codes.py",
            "outbox/invitations.py",
            "outbox/status_emails.py",
        ),
        reads=(
            "p_communities",
            "p_community_sources",
            "p_classes",
            "p_class_archives",
            "p_people",
            "p_contact_matches",
            "p_community_members",
            "p_class_members",
            "p_student_contacts",
            "p_class_member_removals",
            "p_community_member_removals",
            "p_student_contact_removals",
            "p_tombstones_cleared",
            "mirror_delta_<stream>",
            "mirror_run",
            "norm_contact_checks",
        ),
        scratch=("j_keys_<table>", "j_before_<table>"),
        store=(
            *_PRODUCT,
            "src_<stream>",
            "src_streams",
            "contact_checks",
            "feeds",
            "journal",
            "outbox",
            "plan_rows",
            "runs",
            "run_issues",
            "store_meta",
        ),
        what="the plan in one transaction, with its journal, invitations and status e-mails",
    ),
    Step(
        "deliver",
        ("outbox/deliver.py", "outbox/queue.py"),
        store=("outbox",),
        what="the outbox's pending messages sent",
    ),
)

# The product tables the undo journal covers (apply/journal.py: TABLES).
JOURNALED = _PRODUCT[:-1]

_PLACEHOLDERS = {"<stream>": STREAMS, "<field>": ("email", "phone"), "<table>": JOURNALED}


def step(name: str) -> Step:
    return next(s for s in STEPS if s.name == name)


def expand(pattern: str) -> list[str]:
    """The table names a declared name stands for."""
    for placeholder, values in _PLACEHOLDERS.items():
        if placeholder in pattern:
            return [name for value in values for name in expand(pattern.replace(placeholder, value))]
    return [pattern]


def matches(name: str, declared: tuple[str, ...]) -> bool:
    """Whether ``name`` is one of the ``declared`` names (a placeholder matches each of its values)."""
    return any(name in expand(pattern) for pattern in declared)


def kept_by_a_saved_plan(name: str) -> bool:
    """Whether a held run keeps this table: what every step up to the plan made, none of their scratch."""
    steps = STEPS[: STEPS.index(step("plan")) + 1]
    return any(matches(name, s.writes) for s in steps)


def read_by_apply() -> set[str]:
    """The plan's tables apply reads: a saved plan holds every one of them."""
    return {name for pattern in step("apply").reads if pattern.startswith("p_") for name in expand(pattern)}


def markdown() -> str:
    """The steps and their tables, as docs/architecture.md shows them."""
    lines = ["| step | modules | writes | reads (run) | store tables | what |", "|---|---|---|---|---|---|"]
    for s in STEPS:
        cells = [
            s.name,
            ", ".join(s.modules),
            ", ".join(s.writes),
            ", ".join(s.reads),
            ", ".join(s.store),
            s.what,
        ]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") or "-" for cell in cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
