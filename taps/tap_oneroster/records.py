"""The standard roster records, built in SQL from the run's OneRoster tables (tables.py).

One query per stream turns the collections into the contract's records (``schemas/roster/``), each as one
JSON text, in the source's order. REST and CSV give the same tables, so a district gives the same records
either way. The rules:

- Orgs of type school and department are the ``schools`` stream (a department with its ``parent_id``: the
  target's mapping decides where it goes); districts and other orgs above schools are not.
- Roles: 1.1 ``role`` in each of ``orgs``, or each 1.2 role (``roles.csv`` or ``roles[]``), names and
  enumerations compared without case. A user with a student role is a student; with a staff role
  (teacher, aide, administrator, proctor, counselor, the 1.2 admin roles) a staff member; with a parent,
  guardian or relative role a contact. A staff member can be a contact too (a teacher who is a guardian):
  then the user is in both streams. Several rows of one staff member (Skyward) are one record.
- ``student_contacts`` come from ``agents``: a contact's own list when it has one, else its students'; the
  relationship is the contact's first contact role.
- A section's primary teacher: the teacher enrolled with ``primary`` true, else the first teacher.
- With ``schools`` chosen: those schools and their departments, their sections, enrollments, students and
  staff, people attached only to orgs above schools who are enrolled in their classes, the contacts of
  their students, and terms of theirs or of no school. In a delta a record outside them is sent deleted.
- Every source field a record does not use goes to its ``extra`` (GUIDRefs as their sourcedIds; never a
  password).
"""

from __future__ import annotations

from dataclasses import dataclass

from roster_streams.pull import LeftOut
from tap_oneroster.tables import Collections

# OneRoster role (any case) → (its 1.2 spelling, the stream, the standard staff role)
ROLES: dict[str, tuple[str, str, str | None]] = {
    "student": ("student", "students", None),
    "teacher": ("teacher", "staff", "teacher"),
    "aide": ("aide", "staff", "aide"),
    "proctor": ("proctor", "staff", "staff"),
    "counselor": ("counselor", "staff", "staff"),
    "administrator": ("administrator", "staff", "school_admin"),
    "siteadministrator": ("siteAdministrator", "staff", "school_admin"),
    "principal": ("principal", "staff", "school_admin"),
    "districtadministrator": ("districtAdministrator", "staff", "district_admin"),
    "systemadministrator": ("systemAdministrator", "staff", "district_admin"),
    "parent": ("parent", "contacts", None),
    "guardian": ("guardian", "contacts", None),
    "relative": ("relative", "contacts", None),
}
ENROLLMENT_ROLES = {"student": "student", "teacher": "teacher", "aide": "aide", "proctor": "aide"}
DELETED = "coalesce(lower(trim({t}.status)), '') IN ('tobedeleted', 'inactive')"  # inactive: OneRoster 1.0

_MACROS = """
CREATE OR REPLACE MACRO dedupe(l) AS list_filter(l, lambda x, i: x IS NOT NULL AND list_position(l, x) = i);
CREATE OR REPLACE MACRO iso(m) AS strftime(m, '%Y-%m-%dT%H:%M:%S')
    || CASE WHEN epoch_us(m) % 1000000 <> 0 THEN strftime(m, '.%f') ELSE '' END || 'Z';
CREATE OR REPLACE MACRO id_of_type(ids, types) AS
    list_filter(ids, lambda x: regexp_replace(lower(x.type), '[^a-z]', '', 'g') IN types)[1].identifier;
CREATE OR REPLACE MACRO nonempty(l) AS CASE WHEN len(l) > 0 THEN l END;
CREATE OR REPLACE MACRO flag(t) AS CASE lower(trim(t)) WHEN 'true' THEN true WHEN 'false' THEN false
    WHEN '1' THEN true WHEN '0' THEN false WHEN 'yes' THEN true WHEN 'no' THEN false END;
"""


@dataclass(frozen=True)
class Query:
    """A stream's records: SQL yielding ``record`` (JSON text) and ``updated_at``, in source order."""

    sql: str
    params: dict[str, object]


class Roster:
    """The queries of one run over its ``Collections``."""

    def __init__(
        self, collections: Collections, schools: list[str], now: str, demographics: tuple[str, ...] = ()
    ) -> None:
        self.c = collections
        self.con = collections.con
        self.chosen = list(schools)
        self.demographics = demographics  # the demographics fields a student's extra carries
        self.now = now
        self._ready: set[str] = set()
        self.con.execute(_MACROS)

    # -- run-wide tables, built on first use

    def _once(self, name: str, sql: str, params: dict[str, object] | None = None) -> str:
        if name not in self._ready:
            self.con.execute(f"CREATE OR REPLACE TABLE {name} AS {sql}", params or {})
            self._ready.add(name)
        return name

    def orgs(self) -> str:
        """Every org: id, type in lower case, parent, and the district above it (if any)."""
        orgs = self.c.table("orgs")
        return self._once(
            "r_orgs",
            f"""WITH RECURSIVE up(id, ancestor, depth) AS (
                    SELECT "sourcedId", parent, 1 FROM {orgs} WHERE parent IS NOT NULL
                    UNION ALL
                    SELECT up.id, o.parent, up.depth + 1 FROM up JOIN {orgs} o ON o."sourcedId" = up.ancestor
                    WHERE o.parent IS NOT NULL AND up.depth < 20
                ), kinds AS (
                    SELECT "sourcedId" AS id, lower(trim(type)) AS type, parent FROM {orgs} QUALIFY
                        row_number() OVER (PARTITION BY "sourcedId" ORDER BY _ord DESC) = 1
                )
                SELECT k.*, (SELECT a.id FROM up JOIN kinds a ON a.id = up.ancestor
                             WHERE up.id = k.id AND a.type = 'district' ORDER BY up.depth LIMIT 1) AS district
                FROM kinds k""",
        )

    def scope(self) -> str | None:
        """The chosen schools and the departments under them; None when every school is chosen."""
        if not self.chosen:
            return None
        orgs = self.orgs()
        return self._once(
            "r_scope",
            f"""WITH RECURSIVE down(id, depth) AS (
                    SELECT unnest($schools::VARCHAR[]), 0
                    UNION ALL
                    SELECT o.id, down.depth + 1 FROM {orgs} o JOIN down ON o.parent = down.id
                    WHERE o.type = 'department' AND down.depth < 20
                ) SELECT DISTINCT id FROM down""",
            {"schools": self.chosen},
        )

    def roles(self) -> str:
        """Each user's known roles, in their order: user, role (1.2 spelling), stream, standard, org."""
        names = ", ".join(
            f"('{key}', '{name}', '{stream}', {_literal(std)})" for key, (name, stream, std) in ROLES.items()
        )
        return self._once(
            "r_roles",
            f"""SELECT r."user", n.name AS role, n.stream, n.standard, r.org, r._ord
                FROM {self.c.roles()} r
                JOIN (VALUES {names}) n(key, name, stream, standard) ON n.key = lower(trim(r.role))
                ORDER BY r._ord""",
        )

    def kinds(self) -> str:
        """Per user: student, staff and contact (a student is only a student), and the contact's
        relationship (its first contact role)."""
        return self._once(
            "r_kinds",
            f"""SELECT "user" AS id, bool_or(stream = 'students') AS student,
                    bool_or(stream = 'staff') AND NOT bool_or(stream = 'students') AS staff,
                    bool_or(stream = 'contacts') AND NOT bool_or(stream = 'students') AS contact,
                    first(role ORDER BY _ord) FILTER (WHERE stream = 'contacts') AS relationship
                FROM {self.roles()} GROUP BY 1""",
        )

    def schools_and_departments(self) -> str:
        """The orgs that are schools or departments: a person attached to none of them is above schools."""
        return self._once(
            "r_placeable", f"SELECT id FROM {self.orgs()} WHERE type IN ('school', 'department')"
        )

    def classes_in_scope(self) -> str:
        return self._once(
            "r_classes_in_scope",
            f'SELECT "sourcedId" AS id FROM {self.c.table("classes")} '
            f"WHERE school IN (SELECT id FROM {self.scope()})",
        )

    def users_in_scope(self) -> str:
        """With schools chosen: students and staff of them (or of none, enrolled in their classes), and the
        contacts of those students."""
        scope, roles, users = self.scope(), self.roles(), self.c.table("users")
        enrollments = self.c.table("enrollments")
        return self._once(
            "r_users_in_scope",
            f"""WITH orgs AS (
                    SELECT "sourcedId" AS id, primaryOrg AS org FROM {users}
                    UNION ALL SELECT "user", org FROM {roles}
                ), members AS (
                    SELECT id FROM orgs WHERE org IN (SELECT id FROM {scope})
                    UNION
                    SELECT e."user" FROM {enrollments} e
                    WHERE e.class IN (SELECT id FROM {self.classes_in_scope()})
                      AND e."user" NOT IN (
                          SELECT id FROM orgs WHERE org IN (SELECT id FROM {self.schools_and_departments()}))
                ), students AS (
                    SELECT m.id FROM members m JOIN {self.kinds()} k USING (id) WHERE k.student
                ), links AS (
                    SELECT "sourcedId" AS a, unnest(agents) AS b FROM {users}
                )
                SELECT id FROM members
                UNION SELECT b FROM links WHERE a IN (SELECT id FROM students)
                UNION SELECT a FROM links WHERE b IN (SELECT id FROM students)""",
        )

    def users_without_a_role(self) -> list[LeftOut]:
        """Active users with no role the tap imports: no stream carries them, so the pull's finished record
        names them (with schools chosen, those of the chosen schools, their classes, or of no org at all)."""
        users, kinds, roles = self.c.table("users"), self.kinds(), self.c.roles()
        scope = self.scope()
        in_scope = "true"
        if scope is not None:
            in_scope = f"""(len(orgs) = 0 OR list_has_any(orgs, (SELECT list(id) FROM {scope}))
                OR u."sourcedId" IN (SELECT "user" FROM {self.c.table("enrollments")}
                    WHERE class IN (SELECT id FROM {self.classes_in_scope()})))"""
        rows = self.con.execute(
            f"""SELECT _ord, "sourcedId", roles FROM (
                    SELECT u._ord, u."sourcedId",
                        coalesce(list_distinct(list(r.role) FILTER (WHERE r.role IS NOT NULL)), []) AS roles,
                        dedupe(flatten([[first(u."primaryOrg")], first(u.orgs), list(r.org)])) AS orgs
                    FROM {users} u LEFT JOIN {roles} r ON r."user" = u."sourcedId"
                    WHERE u."sourcedId" NOT IN (SELECT id FROM {kinds}) AND NOT ({DELETED.format(t="u")})
                    GROUP BY u._ord, u."sourcedId") u
                WHERE {in_scope} ORDER BY _ord"""
        ).fetchall()
        return [
            LeftOut("users", sourced_id, self.c.place("users", ordinal), _no_role(sorted(roles)))
            for ordinal, sourced_id, roles in rows
        ]

    # -- the streams: each a SELECT of (record, keep, _ord); ``_rows`` keeps the rows to send, in order

    def _rows(self, select: str) -> Query:
        return Query(f"SELECT record FROM ({select}) WHERE keep ORDER BY _ord", {"now": self.now})

    def _with_deletion(self, record: str, alias: str, deleted: str, since: str | None, in_scope: str) -> str:
        """SQL: ``record`` and ``keep``: with ``_sdc_deleted_at`` when the source deleted it; in a delta, a
        record out of the chosen schools is sent deleted (it left them, or went with them)."""
        gone = f"({deleted}) OR NOT ({in_scope})" if since is not None else deleted
        keep = "true" if since is not None else in_scope
        return (
            f"CASE WHEN {gone} THEN json_merge_patch({record}, json_object('_sdc_deleted_at', "
            f"coalesce(iso({alias}._modified), $now))) ELSE {record} END AS record, {keep} AS keep"
        )

    def _in(self, column: str, table: str | None) -> str:
        return "true" if table is None else f"{column} IN (SELECT id FROM {table})"

    def schools(self, since: str | None) -> Query:
        record = f"""json_object('id', o."sourcedId", 'name', o.name, 'school_number', o.identifier,
            'sis_id', o.identifier, 'state_id', NULL, 'district_id', coalesce(k.district, o.parent),
            'org_type', lower(trim(o.type)), 'parent_id', o.parent,
            'low_grade', NULL, 'high_grade', NULL, 'phone', NULL, 'updated_at', iso(o._modified),
            'extra', {_extra("o._vendor", {"type": "o.type"})})"""
        in_scope = self._in('o."sourcedId"', self.scope())
        return self._rows(
            f"""SELECT {self._with_deletion(record, "o", DELETED.format(t="o"), since, in_scope)}, o._ord
                FROM {self.c.table("orgs", since)} o LEFT JOIN {self.orgs()} k ON k.id = o."sourcedId"
                WHERE lower(trim(o.type)) IN ('school', 'department')"""
        )

    def terms(self, since: str | None) -> Query:
        scope = self.scope()
        in_scope = (
            "true"
            if scope is None
            else f"""(s.org IS NULL OR s.org IN (SELECT id FROM {scope})
                      OR s.org NOT IN (SELECT id FROM {self.schools_and_departments()}))"""
        )
        extra = _extra("s._vendor", {"type": "s.type", "parent": "s.parent", "schoolYear": 's."schoolYear"'})
        record = f"""json_object('id', s."sourcedId", 'name', s.title, 'start_date', s."_startDate",
            'end_date', s."_endDate", 'school_id', s.org, 'updated_at', iso(s._modified), 'extra', {extra})"""
        return self._rows(
            f"""SELECT {self._with_deletion(record, "s", DELETED.format(t="s"), since, in_scope)}, s._ord
                FROM {self.c.table("academicSessions", since)} s"""
        )

    def sections(self, since: str | None) -> Query:
        enrollments = self.c.table("enrollments")
        record = f"""json_object('id', c."sourcedId", 'school_id', c.school, 'name', c.title,
            'section_number', c."classCode", 'sis_id', NULL, 'course_name', co.title,
            'course_number', co."courseCode",
            'subject', nullif(array_to_string(dedupe(c.subjects), ', '), ''),
            'section_type', CASE lower(trim(c."classType")) WHEN 'homeroom' THEN 'homeroom'
                WHEN 'scheduled' THEN 'scheduled' END,
            'grades', dedupe(c.grades), 'period', nullif(array_to_string(dedupe(c.periods), ', '), ''),
            'term_ids', dedupe(c.terms), 'primary_teacher_id', t.teacher, 'updated_at', iso(c._modified),
            'extra', {_extra("c._vendor", {"location": "c.location", "subjectCodes": _SUBJECT_CODES})})"""
        in_scope = self._in("c.school", self.scope())
        return self._rows(
            f"""WITH teachers AS (
                    SELECT class,
                        first("user" ORDER BY coalesce(flag("primary"), false) DESC, _ord) AS teacher
                    FROM {enrollments} e
                    WHERE lower(trim(role)) = 'teacher' AND NOT ({DELETED.format(t="e")}) GROUP BY class
                ), course AS (
                    SELECT * FROM {self.c.table("courses")}
                    QUALIFY row_number() OVER (PARTITION BY "sourcedId" ORDER BY _ord) = 1
                )
                SELECT {self._with_deletion(record, "c", DELETED.format(t="c"), since, in_scope)}, c._ord
                FROM {self.c.table("classes", since)} c
                LEFT JOIN course co ON co."sourcedId" = c.course
                LEFT JOIN teachers t ON t.class = c."sourcedId" """
        )

    def students(self, since: str | None) -> Query:
        record = f"""json_object('id', u."sourcedId", 'school_ids', coalesce(o.orgs, []),
            'primary_school_id', coalesce(u."primaryOrg", o.orgs[1]),
            'sis_id', {_SIS_ID}, 'student_number',
            coalesce(id_of_type(u."userIds", ['studentnumber', 'studentid']), u.identifier),
            'state_id', id_of_type(u."userIds", ['stateid', 'state']),
            'first_name', u."givenName", 'middle_name', u."middleName", 'last_name', u."familyName",
            'preferred_first_name', u."preferredFirstName", 'grade', u.grades[1], 'email', u.email,
            'phone', coalesce(u.phone, u.sms), 'updated_at', iso(u._modified),
            'extra', {_user_extra("u", demographics="dm.fields")})"""
        in_scope = self._in('u."sourcedId"', self.users_in_scope() if self.chosen else None)
        return self._rows(
            f"""SELECT {self._with_deletion(record, "u", DELETED.format(t="u"), since, in_scope)}, u._ord
                FROM {self.c.table("users", since)} u
                JOIN {self.kinds()} k ON k.id = u."sourcedId" AND k.student
                LEFT JOIN {self._orgs_of("students")} o ON o.id = u."sourcedId" {self._user_joins("u")}
                LEFT JOIN {self._demographics()} dm ON dm.id = u."sourcedId" """
        )

    def staff(self, since: str | None) -> Query:
        """One record per staff member, however many rows the source sends for them (Skyward): the first
        row's values, the others' where it has none; deleted only when every row is."""
        firsts = ", ".join(
            f"first({c} ORDER BY _ord) FILTER (WHERE {c} IS NOT NULL) AS {c}"
            for c in (
                '"givenName"',
                '"familyName"',
                "identifier",
                "email",
                "phone",
                "sms",
                '"userIds"',
                "_modified",
            )
        )
        record = f"""json_object('id', m."sourcedId", 'school_ids', coalesce(o.orgs, []),
            'roles', coalesce(r.roles, []), 'title', NULL, 'sis_id', {_SIS_ID.replace("u.", "m.")},
            'teacher_number', m.identifier, 'first_name', m."givenName", 'last_name', m."familyName",
            'email', m.email, 'phone', coalesce(m.phone, m.sms), 'updated_at', iso(m._modified),
            'extra', json_merge_patch(m.extra, json_object('source_roles', coalesce(r.source_roles, []))))"""
        in_scope = self._in('m."sourcedId"', self.users_in_scope() if self.chosen else None)
        return self._rows(
            f"""WITH rows AS (
                    SELECT u.*, {_user_extra("u")} AS extra, {DELETED.format(t="u")} AS deleted
                    FROM {self.c.table("users", since)} u
                    JOIN {self.kinds()} k ON k.id = u."sourcedId" AND k.staff {self._user_joins("u")}
                ), m AS (
                    SELECT "sourcedId", {firsts}, min(_ord) AS _ord, bool_and(deleted) AS deleted,
                        list_reduce(list(extra ORDER BY _ord DESC), lambda a, b: json_merge_patch(a, b))
                            AS extra
                    FROM rows GROUP BY 1
                ), at_district AS (  -- a 1.1 administrator whose orgs are all districts: a district admin
                    SELECT o.id, bool_and(coalesce(k.type = 'district', false)) AS yes
                    FROM (SELECT id, unnest(orgs) AS org FROM {self._orgs_of("staff")}) o
                    LEFT JOIN {self.orgs()} k ON k.id = o.org GROUP BY 1
                ), r AS (
                    SELECT r."user", dedupe(list(CASE WHEN r.role = 'administrator' AND d.yes
                            THEN 'district_admin' ELSE r.standard END ORDER BY r._ord)) AS roles,
                        dedupe(list(r.role ORDER BY r._ord)) AS source_roles
                    FROM {self.roles()} r LEFT JOIN at_district d ON d.id = r."user"
                    WHERE r.stream = 'staff' GROUP BY 1
                )
                SELECT {self._with_deletion(record, "m", "m.deleted", since, in_scope)}, m._ord
                FROM m LEFT JOIN {self._orgs_of("staff")} o ON o.id = m."sourcedId"
                LEFT JOIN r ON r."user" = m."sourcedId" """
        )

    def contacts(self, since: str | None) -> Query:
        record = f"""json_object('id', u."sourcedId", 'sis_id', {_SIS_ID}, 'first_name', u."givenName",
            'last_name', u."familyName", 'email', u.email, 'phone', coalesce(u.phone, u.sms),
            'phone_type', CASE WHEN u.sms IS NOT NULL AND u.phone IS NULL THEN 'Cell' END,
            'updated_at', iso(u._modified), 'extra', {_user_extra("u")})"""
        in_scope = self._in('u."sourcedId"', self.users_in_scope() if self.chosen else None)
        return self._rows(
            f"""SELECT {self._with_deletion(record, "u", DELETED.format(t="u"), since, in_scope)}, u._ord
                FROM {self.c.table("users", since)} u
                JOIN {self.kinds()} k ON k.id = u."sourcedId" AND k.contact {self._user_joins("u")}"""
        )

    def student_contacts(self, since: str | None) -> Query:
        """Links from ``agents``: a contact's own list when it has one; a student's list only for contacts
        that list no students. The link takes the declaring user's date and deletion."""
        kinds, users = self.kinds(), self.c.table("users", since)
        students = f"SELECT id FROM {kinds} WHERE student AND " + self._in(
            "id", self.users_in_scope() if self.chosen else None
        )
        record = """json_object('student_id', p.student_id, 'contact_id', p.contact_id,
            'relationship', p.relationship, 'type', NULL, 'updated_at', iso(p._modified),
            'extra', '{}'::JSON)"""
        return self._rows(
            f"""WITH contacts AS (SELECT id, relationship FROM {kinds} WHERE contact),
                listing AS (
                    SELECT DISTINCT u."sourcedId" AS id FROM {self.c.table("users")} u
                    WHERE len(u.agents) > 0 AND u."sourcedId" IN (SELECT id FROM contacts)
                ), agents AS (
                    SELECT "sourcedId" AS id, status, _modified, unnest(agents) AS agent,
                        _ord * 100000 + unnest(range(1, len(agents) + 1)) AS _ord
                    FROM {users} WHERE len(agents) > 0
                ), p AS (
                    SELECT a.agent AS student_id, a.id AS contact_id, c.relationship, a._modified, a.status,
                        a._ord
                    FROM agents a JOIN contacts c ON c.id = a.id
                    WHERE a.agent IN ({students})
                    UNION ALL
                    SELECT a.id, a.agent, c.relationship, a._modified, a.status, a._ord
                    FROM agents a JOIN contacts c ON c.id = a.agent
                    WHERE a.id IN ({students}) AND a.agent NOT IN (SELECT id FROM listing)
                )
                SELECT {self._with_deletion(record, "p", DELETED.format(t="p"), None, "true")}, p._ord
                FROM p"""
        )

    def enrollments(self, since: str | None) -> Query:
        roles = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in ENROLLMENT_ROLES.items())
        record = f"""json_object('section_id', e.class, 'user_id', e."user",
            'role', CASE lower(trim(e.role)) {roles} END, 'primary', flag(e."primary"),
            'updated_at', iso(e._modified), 'extra', {_extra("e._vendor", _ENROLLMENT_EXTRA)})"""
        in_scope = (
            "true" if self.scope() is None else f"(e.school IS NULL OR {self._in('e.school', self.scope())})"
        )
        return self._rows(
            f"""SELECT {self._with_deletion(record, "e", DELETED.format(t="e"), since, in_scope)}, e._ord
                FROM {self.c.table("enrollments", since)} e
                WHERE e.class IS NOT NULL AND e."user" IS NOT NULL
                  AND lower(trim(e.role)) IN ({", ".join(f"'{k}'" for k in ENROLLMENT_ROLES)})"""
        )

    # -- what several streams join

    def _orgs_of(self, stream: str) -> str:
        """Per user: the orgs of their roles of ``stream``, primary org first."""
        return self._once(
            f"r_orgs_{stream}",
            f"""SELECT u."sourcedId" AS id, dedupe(list_prepend(first(u."primaryOrg"),
                    coalesce(list(r.org ORDER BY r._ord) FILTER (WHERE r.stream = '{stream}'), []))) AS orgs
                FROM {self.c.table("users")} u LEFT JOIN {self.roles()} r ON r."user" = u."sourcedId"
                GROUP BY 1""",
        )

    def _user_joins(self, alias: str) -> str:
        """A user's 1.2 roles as it carried them, and its userProfiles from a CSV bundle."""
        roles = self._once(
            "r_roles_json",
            f"""SELECT "user", to_json(list(json_merge_patch('{{}}', json_object('roleType', "roleType",
                    'role', role, 'org', org, 'beginDate', beginDate, 'endDate', endDate)) ORDER BY _ord))
                    AS roles
                FROM {self.c.explicit_roles()} GROUP BY 1""",
        )
        profiles = self._once("r_profiles", self._profiles_sql())
        return (
            f'LEFT JOIN {roles} rj ON rj."user" = {alias}."sourcedId" '
            f'LEFT JOIN {profiles} up ON up."user" = {alias}."sourcedId"'
        )

    def _demographics(self) -> str:
        """Per student, the demographics fields the tap is asked to carry (none by default: personal data
        Bloomz does not need), as a JSON object."""
        if not self.demographics or not self.c.has("demographics"):
            return self._once(
                "r_demographics", "SELECT NULL::VARCHAR AS id, NULL::JSON AS fields WHERE false"
            )
        pairs = ", ".join(f"'{_quote(f)}', _vendor -> '$.\"{_quote(f)}\"'" for f in self.demographics)
        return self._once(
            "r_demographics",
            f"""SELECT "sourcedId" AS id, json_merge_patch('{{}}', json_object({pairs})) AS fields
                FROM {self.c.table("demographics")}
                QUALIFY row_number() OVER (PARTITION BY "sourcedId" ORDER BY _ord DESC) = 1""",
        )

    def _profiles_sql(self) -> str:
        if not self.c.has("userProfiles"):
            return 'SELECT NULL::VARCHAR AS "user", NULL::JSON AS profiles WHERE false'
        return f"""SELECT "user", to_json(list(json_merge_patch(_vendor, json_object('sourcedId', "sourcedId",
                'profileType', "profileType", 'vendorId', "vendorId", 'applicationId', "applicationId",
                'description', description, 'credentialType', "credentialType", 'username', username))
                ORDER BY _ord)) AS profiles
            FROM {self.c.table("userProfiles")} GROUP BY 1"""


def _quote(text: str) -> str:
    return text.replace("'", "''").replace('"', '\\"')


def _no_role(roles: list[str]) -> str:
    """Why a user is left out: the same words for everyone left out for the same roles (the target groups
    them)."""
    if not roles:
        return "no role"
    named = ", ".join(roles)
    return f"role{'s' if len(roles) > 1 else ''} {named}, which tap-oneroster does not import"


def _literal(text: str | None) -> str:
    return "NULL" if text is None else "'" + text.replace("'", "''") + "'"


_SUBJECT_CODES = 'nonempty(c."subjectCodes")'
_ENROLLMENT_EXTRA = {"school": "e.school", "beginDate": 'e."beginDate"', "endDate": 'e."endDate"'}
_SIS_ID = """coalesce(id_of_type(u."userIds", ['sisid', 'sis']), u.identifier)"""


def _extra(vendor: str, fields: dict[str, str]) -> str:
    """SQL: a record's ``extra``: the vendor's fields (JSON), and each of ``fields`` (name → SQL) that has a
    value. The object is written as text: ``concat_ws`` leaves out the fields with none, far cheaper than
    building it whole and patching the nulls away."""
    pairs = ", ".join(
        f"CASE WHEN ({sql}) IS NOT NULL THEN '\"{name}\":' || to_json({sql}) END"
        for name, sql in fields.items()
    )
    own = f"('{{' || concat_ws(',', {pairs}) || '}}')::JSON"
    return f"CASE WHEN {vendor}::VARCHAR = '{{}}' THEN {own} ELSE json_merge_patch({vendor}, {own}) END"


def _user_extra(alias: str, **more: str) -> str:
    """SQL: the fields of a user no user record reads, with its vendor fields, as ``extra``."""
    fields = {
        "enabledUser": f'{alias}."enabledUser"',
        "username": f"{alias}.username",
        "userIds": f'nonempty({alias}."userIds")',
        "sms": f"{alias}.sms",
        "agents": f"nonempty({alias}.agents)",
        "role": f"{alias}.role",
        "roles": "rj.roles",
        "preferredMiddleName": f'{alias}."preferredMiddleName"',
        "preferredLastName": f'{alias}."preferredLastName"',
        "userMasterIdentifier": f'{alias}."userMasterIdentifier"',
        "pronouns": f"{alias}.pronouns",
        "resources": f"nonempty({alias}.resources)",
        "userProfiles": "up.profiles",
    }
    return _extra(f"{alias}._vendor", fields | more)
