"""Renders what people read: invitations, the Bulk Import Status e-mail, the report page, and the
family-code letters. Callers pass plain dicts (shapes below) and get text back; the Jinja2 templates
live in ``templates/`` and are our own (user templates go through the mapping's sandbox instead).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup


class Issue(TypedDict):
    """One error or warning, with the record it concerns."""

    severity: str  # "error" | "warning"
    stream: str  # "students", "sections", ...
    record: str  # the record's key, e.g. the source id
    message: str


class RunSummary(TypedDict):
    """One import run, as the status e-mail, ``bloomz-sync status`` and the report page show it."""

    run_id: int | str
    community: str  # the school community's name
    source: str  # "clever" | "oneroster" (or a preset name such as "skyward")
    status: str  # planned | dry_run | applied | held | discarded | failed | undone | refused (runs.status)
    started_at: datetime | str
    finished_at: NotRequired[datetime | str | None]
    options: NotRequired[Mapping[str, Any]]  # ImportOptions fields (and mapping choices) by name
    counts: NotRequired[Mapping[str, Mapping[str, int]]]  # {"classes": {"added": 3, "updated": 1, ...}}
    issues: NotRequired[Sequence[Issue]]
    held_reason: NotRequired[str | None]  # why a held run was held (which limit, by how much)
    notices: NotRequired[Sequence[str]]  # shown above everything else: "the status e-mail reached nobody"
    status_reason: NotRequired[str | None]  # what follows the status's name ("Failed: <reason>")
    incomplete: NotRequired[bool]  # applied, but its pull was incomplete (adds and updates only)
    invitations: NotRequired[Mapping[str, int]]  # messages queued by channel: {"email": 40, "sms": 31}
    mapping_file: NotRequired[str | None]


class Invitation(TypedDict):
    """One person's invitation to a school community."""

    recipient_name: str  # first name to greet
    role: str  # "staff" | "parent" | "student"
    school: str
    invite_from: str  # the "Invite from" admin's name
    classes: Sequence[str]  # names of the classes the person was added to
    link: str  # where to sign up
    students: NotRequired[Sequence[str]]  # for a parent: the children's first names


class FamilyCodeLetter(TypedDict):
    """One student's letter."""

    student_name: str
    code: str
    grade: NotRequired[str | None]


@dataclass(frozen=True)
class Email:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class InvitationMessages:
    subject: str
    text: str
    html: str
    sms: str


ENTITIES = ("classes", "students", "parents", "staff")  # shown first and always, in this order
ACTIONS = ("added", "updated", "removed", "archived")
STATUS_LABELS = {
    "applied": "Completed",
    "dry_run": "Dry run: nothing was changed",
    "held": "Held for approval: nothing was changed",
    "failed": "Failed",
    "incomplete": "Incomplete",
    "planned": "Planned",
    "discarded": "Discarded",
    "undone": "Undone",
    "refused": "Refused: nothing was changed",
}
SOURCE_LABELS = {"clever": "Clever", "oneroster": "OneRoster", "skyward": "Skyward", "classlink": "ClassLink"}
# The seed's words for the import options.
OPTION_LABELS = {
    "full_data": "Full Data",
    "archive": "Archive",
    "recreate_archived": "Recreate classes that have been archived",
    "keep_manual_staff": "Do not override staff assignments",
    "scheduled": "Scheduled import",
    "invite_teachers": "Send invitations to Teachers",
    "invite_parents": "Send invitations to Parents",
    "invite_students": "Send invitations to Students",
    "invite_from": "Invite from",
    "notify_to": "Notify to",
    "default_region": "Default phone region",
    "student_id_field": "Student ID field",
    "contact_field": "Contact field",
    "contact_include": "Contacts imported",
}
SMS_CLASSES = 3  # class names listed in a text message before "+N more"

_env = Environment(
    # Beside this module (they ship in the package): found the same way in a checkout, an editable
    # install or a wheel.
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(enabled_extensions=("html.j2",)),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def render_status_email(summary: RunSummary, *, max_issues: int = 50) -> Email:
    """The "Bulk Import Status" e-mail; lists the first ``max_issues`` issues and counts the rest."""
    context = _status_context(summary, max_issues=max_issues)
    return Email(
        subject=context["subject"],
        text=_env.get_template("status_email.txt.j2").render(context),
        html=_env.get_template("status_email.html.j2").render(context),
    )


def render_status_text(summary: RunSummary, *, max_issues: int | None = None) -> str:
    """The same as the e-mail's text ("Last Import Status" in a terminal); every issue unless capped."""
    return _env.get_template("status_email.txt.j2").render(_status_context(summary, max_issues=max_issues))


def render_report_page(*summaries: RunSummary) -> str:
    """A standalone HTML page with the e-mail's content and every issue, one section per school community
    (a run that imported several schools reports on each)."""
    body = _env.get_template("_status_body.html.j2")
    sections = [Markup(body.render(_status_context(s, max_issues=None))) for s in summaries]  # noqa: S704
    title = ", ".join(str(s["community"]) for s in summaries)
    return _env.get_template("report_page.html.j2").render(
        title=title, run_id=summaries[0]["run_id"], sections=sections
    )


def render_invitation(invitation: Invitation) -> InvitationMessages:
    """The invitation by e-mail (subject, text, HTML) and by text message."""
    context = {"students": [], **invitation}
    classes = list(invitation["classes"])
    shown = classes[:SMS_CLASSES]
    more = f" +{len(classes) - len(shown)} more" if len(classes) > len(shown) else ""
    context["sms_classes"] = ", ".join(shown) + more
    return InvitationMessages(
        subject=_one_line(f"{invitation['invite_from']} invited you to {invitation['school']} on Bloomz"),
        text=_env.get_template("invitation_email.txt.j2").render(context),
        html=_env.get_template("invitation_email.html.j2").render(context),
        sms=_env.get_template("invitation_sms.txt.j2").render(context).strip(),
    )


def render_family_code_letters(letters: Sequence[FamilyCodeLetter], *, school: str, signup_url: str) -> str:
    """Printable letters, one student per page, for teachers to hand out."""
    rows = [{"grade": None, **letter} for letter in letters]
    return _env.get_template("family_code_letters.html.j2").render(
        letters=rows, school=school, signup_url=signup_url
    )


def status_of(status: str, reason: str | None = None, *, incomplete: bool = False) -> tuple[str, str]:
    """(status, label) of a run as admins read it, in the e-mail, ``status`` and the console alike: an
    applied run whose pull was incomplete is "Incomplete", never "Completed"; a failed or incomplete run
    says why."""
    if incomplete:
        status = "incomplete"  # applied in part
    label = STATUS_LABELS.get(status, status)
    if status in ("failed", "incomplete") and reason:
        label = f"{label.partition(':')[0]}: {reason}"
    return status, label


def _status_context(summary: RunSummary, *, max_issues: int | None) -> dict[str, Any]:
    counts = summary.get("counts") or {}
    entities = [*ENTITIES, *(name for name in counts if name not in ENTITIES)]
    table = [
        {
            "entity": name.replace("_", " ").capitalize(),
            **{a: int(counts.get(name, {}).get(a, 0)) for a in ACTIONS},
        }
        for name in entities
    ]
    issues = list(summary.get("issues") or [])
    issues.sort(key=lambda issue: issue["severity"] != "error")  # errors first, otherwise in run order
    errors = sum(issue["severity"] == "error" for issue in issues)
    warnings = len(issues) - errors
    shown = issues if max_issues is None else issues[:max_issues]
    status = summary["status"]
    source = SOURCE_LABELS.get(summary["source"], summary["source"])
    tally = ", ".join(
        f"{n} {word}{'s' if n != 1 else ''}" for n, word in ((errors, "error"), (warnings, "warning")) if n
    )
    status, status_label = status_of(
        status, summary.get("status_reason"), incomplete=bool(summary.get("incomplete"))
    )
    headline = status_label.partition(":")[0]
    return {
        "run_id": summary["run_id"],
        "community": summary["community"],
        "source": source,
        "status": status,
        "status_label": status_label,
        "subject": _one_line(
            f"Bulk Import Status: {summary['community']} ({source}): {headline}"
            + (f", {tally}" if tally else "")
        ),
        "started_at": _when(summary["started_at"]),
        "finished_at": _when(summary.get("finished_at")),
        "counts": table,
        "actions": ACTIONS,
        "issues": shown,
        "issues_left_out": len(issues) - len(shown),
        "errors": errors,
        "warnings": warnings,
        "held_reason": summary.get("held_reason"),
        "notices": list(summary.get("notices") or []),
        "invitations": dict(summary.get("invitations") or {}),
        "options": [
            (OPTION_LABELS.get(name, name.replace("_", " ").capitalize()), _option_value(value))
            for name, value in (summary.get("options") or {}).items()
        ],
        "mapping_file": summary.get("mapping_file"),
    }


def _one_line(text: str) -> str:
    # A subject is one header line; a school name with a line break must not break the e-mail.
    return " ".join(text.split())


def _option_value(value: Any) -> str:
    if isinstance(value, bool):
        return "On" if value else "Off"
    if value is None or value == "":
        return "not set"
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(str(item) for item in value) or "none"
    return str(value)


def _when(value: datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # the store keeps UTC timestamps without a zone
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
