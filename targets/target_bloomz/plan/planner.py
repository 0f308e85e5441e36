"""Plan: what the run would change in the store, per entity and why, computed in SQL and saved with the run.

Input: the staged streams (stage/staging.py) and the mapping's answers (mapping/answers.py) as temp
tables, plus the store. Output, only the run's own tables: ``p_<entity>`` (one row per wanted entity, with
``action`` NULL when nothing changes) that apply/transaction.py executes, the run's ``p_plan_rows`` (every
row with an action: create, update, reactivate or skip, the source record and the rule) and ``p_issues``;
saved_plan.py records rows and issues with the run. Ids of new rows are assigned here, after the
store's highest id, so the plan names exactly what apply will write (one import runs at a time).

Rules (DESIGN.md 1 to 3): one class per selected section; class names are judged against the classes as
they will be after the run (a class that keeps its name holds it; a free name goes to the claim with the
lowest section id, as in a first import), and sections whose name is taken are skipped and reported;
students carry the chosen id field; contacts become parents only when their contact field value is
included; parents join their students' classes and communities; staff get the mapping's role; a role set
by hand is never changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb

from target_bloomz import store
from target_bloomz.mapping import Mapping
from target_bloomz.plan import accounting, churned_contacts, removals

# Staff first, then students, then parents: a class member appearing in several roles keeps the first.
_CLASS_ROLE_ORDER = "CASE w.role WHEN 'teacher' THEN 1 WHEN 'aide' THEN 2 WHEN 'student' THEN 3 ELSE 4 END"

_PEOPLE_FIELDS = (
    "first_name",
    "middle_name",
    "last_name",
    "preferred_first_name",
    "grade",
    "title",
    "email",
    "phone",
    "student_id",
    "student_id_field",
)


def _new_id(table: str, is_new: str, order: str, *, also_taken: str = "SELECT 0") -> str:
    """Ids for new rows: after the store's highest id (and ``also_taken``'s), in a deterministic order."""
    return (
        f"greatest((SELECT coalesce(max(id), 0) FROM {table}), ({also_taken})) + "
        f"sum(CASE WHEN {is_new} THEN 1 ELSE 0 END) OVER (ORDER BY {order} ROWS UNBOUNDED PRECEDING)"
    )


_COMMUNITIES = f"""
CREATE OR REPLACE TEMP TABLE p_communities AS
WITH wanted AS (
    SELECT community_key AS key, min(community_name) AS name, list(school_id ORDER BY school_id) AS school_ids
    FROM map_schools GROUP BY community_key
), joined AS (
    SELECT w.*, c.id AS existing_id, c.name AS old_name,
        EXISTS (SELECT 1 FROM unnest(w.school_ids) u(s) WHERE NOT EXISTS (
            SELECT 1 FROM community_sources cs WHERE cs.source = $source AND cs.school_id = u.s)) AS
                new_school
    FROM wanted w LEFT JOIN communities c ON c.key = w.key
)
SELECT *,
    CASE WHEN existing_id IS NULL THEN {_new_id("communities", "existing_id IS NULL", "key")}
         ELSE existing_id END AS community_id,
    CASE WHEN existing_id IS NULL THEN 'create'
         WHEN old_name IS DISTINCT FROM name OR new_school THEN 'update' END AS action
FROM joined
"""

_SECTIONS = """
CREATE OR REPLACE TEMP TABLE p_sections AS
SELECT s.id AS section_id, s.name AS section_name, s.primary_teacher_id, ms.selected, ms.rule, ms.class_name,
    ms.problem, pc.community_id, pc.key AS community_key
FROM stg_sections s
JOIN map_sections ms ON ms.section_id = s.id
JOIN map_schools sch ON sch.school_id = s.school_id
JOIN p_communities pc ON pc.key = sch.community_key
"""

# Class names (DESIGN.md rule 1), judged against the classes as they will be after this run, so the same input
# applied twice changes nothing the second time and a name freed tonight is taken tonight. Who wants which
# name, per community:
# - keep: an active class that stays active and keeps its name (renamed by hand, its section not in this
#   run or not selected, or the section's name gives the same name); it holds that name whatever happens;
# - move: an active synced class whose section now gives another name; if that name is not free it falls
#   back to its current name, which it then holds;
# - revive: an archived class that "recreate archived classes" brings back, under its section's name;
# - new: a selected section with no class yet.
# Classes archived by this run hold nothing. A free name goes to the claim with the lowest section id, as a
# first import would give it.
_NAME_CLAIMS = """
CREATE OR REPLACE TEMP TABLE p_name_claims AS
WITH existing AS (
    SELECT cl.id AS class_id, cl.community_id, cl.section_id, cl.name, cl.name_edited, cl.status,
        coalesce(ps.selected, false) AS selected, ps.class_name
    FROM classes cl
    LEFT JOIN p_sections ps ON cl.source = $source AND cl.section_id = ps.section_id
    WHERE cl.community_id IN (SELECT community_id FROM p_communities)
      AND cl.id NOT IN (SELECT class_id FROM p_class_archives)
), claims AS (
    SELECT community_id, section_id, class_id, name AS current_name,
        CASE WHEN selected AND NOT name_edited AND class_name <> '' THEN class_name ELSE name END AS wanted,
        CASE WHEN status = 'archived' THEN 'revive'
             WHEN NOT selected OR name_edited OR class_name = '' THEN 'keep'
             WHEN lower(trim(class_name)) = lower(trim(name)) THEN 'keep'
             ELSE 'move' END AS kind
    FROM existing
    WHERE status = 'active' OR ($recreate_archived AND selected)
    UNION ALL
    SELECT ps.community_id, ps.section_id, NULL, NULL, ps.class_name, 'new'
    FROM p_sections ps
    WHERE ps.selected AND ps.class_name <> '' AND NOT EXISTS (
        SELECT 1 FROM classes cl WHERE cl.source = $source AND cl.section_id = ps.section_id)
)
SELECT *, lower(trim(wanted)) AS slot FROM claims
"""

# One round: the names held (keepers, and moves that fell back to their current name in an earlier round),
# then each free name to its first claim. A move that lost falls back, which may take a name another claim
# won in this round: rounds repeat until no move falls back (each falls back at most once).
_NAME_ROUND = """
CREATE OR REPLACE TEMP TABLE p_name_round AS
WITH held AS (
    SELECT community_id, slot, min(struct_pack(class_id, section_id)) AS holder FROM (
        SELECT community_id, slot, class_id, section_id FROM p_name_claims WHERE kind = 'keep'
        UNION ALL
        SELECT community_id, lower(trim(current_name)), class_id, section_id FROM p_name_claims
        WHERE class_id IN (SELECT class_id FROM p_name_fallbacks)
    ) GROUP BY community_id, slot
), open AS (
    SELECT c.*, h.holder
    FROM p_name_claims c LEFT JOIN held h ON h.community_id = c.community_id AND h.slot = c.slot
    WHERE c.kind <> 'keep'
      AND NOT EXISTS (SELECT 1 FROM p_name_fallbacks f WHERE f.class_id = c.class_id)
)
SELECT * EXCLUDE (holder),
    holder IS NULL AND row_number() OVER w = 1 AS wins,
    CASE WHEN holder IS NULL THEN first_value(section_id) OVER w ELSE holder.section_id END AS holder_section,
    CASE WHEN holder IS NULL THEN first_value(class_id) OVER w ELSE holder.class_id END AS holder_class
FROM open
WINDOW w AS (PARTITION BY community_id, slot ORDER BY section_id, class_id)
"""

# The outcome of every claim: keep, kept (a move that fell back), rename, revive, create or lost.
_NAME_OUTCOMES = """
CREATE OR REPLACE TEMP TABLE p_class_names AS
SELECT coalesce('class ' || class_id, 'section ' || section_id) AS claim, * FROM (
    SELECT section_id, class_id, kind, wanted, 'keep' AS outcome, wanted AS name,
        NULL::VARCHAR AS holder_section, NULL::BIGINT AS holder_class
    FROM p_name_claims WHERE kind = 'keep'
    UNION ALL
    SELECT c.section_id, c.class_id, c.kind, c.wanted, 'kept', c.current_name, f.holder_section,
        f.holder_class
    FROM p_name_claims c JOIN p_name_fallbacks f USING (class_id)
    UNION ALL
    SELECT section_id, class_id, kind, wanted,
        CASE WHEN NOT wins THEN 'lost' WHEN kind = 'move' THEN 'rename' WHEN kind = 'revive' THEN 'revive'
             ELSE 'create' END,
        CASE WHEN wins THEN wanted END, holder_section, holder_class
    FROM p_name_round
)
"""

_CLASSES = f"""
CREATE OR REPLACE TEMP TABLE p_classes AS
WITH joined AS (
    SELECT ps.*, cl.id AS existing_id, cl.name AS old_name, cl.status AS old_status, cl.name_edited,
        cl.section_name AS old_section_name, n.outcome, n.name AS won_name, n.holder_section, n.holder_class,
        'class name "' || n.wanted || '" is taken by ' ||
            coalesce('section ' || n.holder_section, 'class #' || n.holder_class) AS taken
    FROM p_sections ps
    LEFT JOIN classes cl ON cl.source = $source AND cl.section_id = ps.section_id
    LEFT JOIN p_class_names n ON n.claim = coalesce('class ' || cl.id, 'section ' || ps.section_id)
), decided AS (
    SELECT *,
        CASE
            WHEN NOT selected THEN 'skip'
            WHEN existing_id IS NULL AND class_name = '' THEN 'skip'
            WHEN existing_id IS NULL AND outcome = 'lost' THEN 'skip'
            WHEN existing_id IS NULL THEN 'create'
            WHEN old_status = 'archived' AND NOT $recreate_archived THEN 'skip'
            WHEN old_status = 'archived' AND outcome = 'lost' THEN 'skip'
            WHEN old_status = 'archived' THEN 'reactivate'
            WHEN outcome IN ('rename', 'keep') AND won_name IS DISTINCT FROM old_name THEN 'update'
            WHEN old_section_name IS DISTINCT FROM section_name THEN 'update'
        END AS action,
        CASE
            WHEN NOT selected AND problem IS NOT NULL THEN problem
            WHEN NOT selected THEN 'not selected by the mapping rule ' || rule
            WHEN existing_id IS NULL AND class_name = '' THEN 'the class name template gave an empty name'
            WHEN existing_id IS NULL AND outcome = 'lost' THEN taken
            WHEN existing_id IS NULL THEN 'selected section'
            WHEN old_status = 'archived' AND NOT $recreate_archived THEN
                'the class is archived in Bloomz (recreate archived classes is off)'
            WHEN old_status = 'archived' AND outcome = 'lost' THEN
                taken || ': the archived class stays archived'
            WHEN old_status = 'archived' THEN 'recreate archived classes is on'
            WHEN outcome = 'rename' OR (outcome = 'keep' AND won_name IS DISTINCT FROM old_name) THEN
                'the class name template gives a new name'
            WHEN outcome = 'kept' THEN 'kept the name "' || old_name || '": ' || taken
            WHEN old_section_name IS DISTINCT FROM section_name THEN 'the section name changed in the source'
        END AS reason
    FROM joined
)
SELECT *,
    CASE WHEN existing_id IS NULL AND action = 'create' THEN
            {_new_id("classes", "existing_id IS NULL AND action = 'create'", "section_id")}
         ELSE existing_id END AS class_id,
    CASE WHEN existing_id IS NULL THEN class_name ELSE coalesce(won_name, old_name) END AS name,
    action IN ('create', 'update', 'reactivate') OR (action IS NULL AND old_status = 'active') AS live
FROM decided
"""


# A person's communities are those of their schools. One attached to no school or department of the source
# (only to a district, say) belongs to the communities of the classes they are enrolled in.
def _person_schools(table: str, people: str, orgs: str, roles: str) -> str:
    return f"""
CREATE OR REPLACE TEMP TABLE {table} AS
WITH orgs AS (SELECT id, unnest({orgs}) AS school_id FROM {people} WHERE _deleted_at IS NULL)
SELECT DISTINCT o.id AS source_id, ms.community_key FROM orgs o JOIN map_schools ms USING (school_id)
UNION
SELECT DISTINCT e.user_id, pc.community_key
FROM stg_enrollments e JOIN p_classes pc ON pc.section_id = e.section_id AND pc.live
WHERE e._deleted_at IS NULL AND e.role IN ({roles})
  AND e.user_id IN (SELECT id FROM {people} WHERE _deleted_at IS NULL)
  AND e.user_id NOT IN (SELECT id FROM orgs WHERE school_id IN (
      SELECT id FROM stg_schools UNION ALL SELECT school_id FROM community_sources WHERE source = $source))
"""


_STUDENT_SCHOOLS = _person_schools(
    "w_student_schools", "stg_students", "list_append(school_ids, primary_school_id)", "'student'"
)
_STAFF_SCHOOLS = _person_schools("w_staff_schools", "stg_staff", "school_ids", "'teacher', 'aide'")

# An incremental pull sends only what changed: students, people and classes the store already has count
# as known, so a new enrollment or contact link of an existing student still lands.
_KNOWN_STUDENTS = """
CREATE OR REPLACE TEMP TABLE k_student_schools AS
SELECT source_id, community_key FROM w_student_schools
UNION
SELECT ps.source_id, c.key
FROM person_sources ps
JOIN community_members m ON m.person_id = ps.person_id
JOIN communities c ON c.id = m.community_id
WHERE ps.source = $source AND ps.kind = 'student'
  AND ps.source_id NOT IN (SELECT source_id FROM w_student_schools)
  AND c.key IN (SELECT key FROM p_communities)
"""

_KNOWN_PEOPLE = """
CREATE OR REPLACE TEMP TABLE k_people AS
SELECT kind, source_id, person_id FROM p_people
UNION ALL
SELECT ps.kind, ps.source_id, ps.person_id FROM person_sources ps
WHERE ps.source = $source
  AND NOT EXISTS (SELECT 1 FROM p_people p WHERE p.kind = ps.kind AND p.source_id = ps.source_id)
"""

# Student-contact links whose contact field value the mapping includes: these contacts become parents.
_LINKS = """
CREATE OR REPLACE TEMP TABLE w_links AS
SELECT sc.student_id, sc.contact_id, sc.relationship, sc.type
FROM stg_student_contacts sc
WHERE sc._deleted_at IS NULL
  -- values match in any case, as Mapping.imports_contact says
  AND lower(CASE WHEN $contact_field = 'relationship' THEN sc.relationship ELSE sc.type END) IN (SELECT
      lower(unnest($include)))
  AND sc.student_id IN (SELECT source_id FROM k_student_schools)
  AND (sc.contact_id IN (SELECT id FROM stg_contacts WHERE _deleted_at IS NULL)
       OR sc.contact_id IN (SELECT source_id FROM person_sources WHERE source = $source AND kind = 'parent'))
"""

_WANTED_PEOPLE = """
CREATE OR REPLACE TEMP TABLE w_people AS
WITH raw AS (
    SELECT 'student' AS kind, id AS source_id, sis_id, first_name, middle_name, last_name,
        preferred_first_name,
        grade, NULL AS title, email, phone,
        CASE $id_field WHEN 'sis_id' THEN sis_id WHEN 'student_number' THEN student_number ELSE state_id END
            AS student_id,
        $id_field AS student_id_field
    FROM stg_students WHERE id IN (SELECT source_id FROM w_student_schools)
    UNION ALL
    SELECT 'staff', id, sis_id, first_name, NULL, last_name, NULL, NULL, title, email, phone, NULL, NULL
    FROM stg_staff WHERE id IN (SELECT source_id FROM w_staff_schools)
    UNION ALL
    SELECT 'parent', id, sis_id, first_name, NULL, last_name, NULL, NULL, NULL, email, phone, NULL, NULL
    FROM stg_contacts WHERE id IN (SELECT contact_id FROM w_links)
)
SELECT raw.* REPLACE (ne.value AS email, np.value AS phone),
    ne.warning AS email_warning, np.warning AS phone_warning
FROM raw
LEFT JOIN norm_email ne ON ne.raw = raw.email
LEFT JOIN norm_phone np ON np.raw = raw.phone
"""


# The id of a person undo deleted is not given again while messages name it: an invitation's key (and an
# SMS provider's idempotency key) is per person id, so a new person must not inherit it.
_MESSAGED_PEOPLE = "SELECT coalesce(max(person_id), 0) FROM outbox"


def _people_sql() -> str:
    changed = " OR ".join(f"w.{f} IS DISTINCT FROM p.{f}" for f in _PEOPLE_FIELDS)
    return f"""
CREATE OR REPLACE TEMP TABLE p_people AS
WITH joined AS (
    SELECT w.*, ps.person_id AS existing_id,
        CASE WHEN p.id IS NOT NULL THEN struct_pack({", ".join(f"{f} := p.{f}" for f in _PEOPLE_FIELDS)}) END
            AS old,
        CASE WHEN ps.person_id IS NULL THEN 'create' WHEN {changed} THEN 'update' END AS action
    FROM w_people w
    LEFT JOIN (
        SELECT source, kind, source_id, person_id FROM person_sources
        UNION ALL  -- a churned Clever contact id matched to its parent (churned_contacts.py)
        SELECT $source, 'parent', source_id, person_id FROM p_contact_matches
    ) ps ON ps.source = $source AND ps.kind = w.kind AND ps.source_id = w.source_id
    LEFT JOIN people p ON p.id = ps.person_id
)
SELECT *,
    CASE WHEN existing_id IS NULL THEN {
        _new_id("people", "existing_id IS NULL", "kind, source_id", also_taken=_MESSAGED_PEOPLE)
    }
         ELSE existing_id END AS person_id
FROM joined
"""


_COMMUNITY_MEMBERS = """
CREATE OR REPLACE TEMP TABLE p_community_members AS
WITH wanted AS (
    SELECT community_key, 'student' AS kind, source_id, 'Student' AS role, 'students' AS rule
    FROM w_student_schools
    UNION ALL
    SELECT ss.community_key, 'staff', ss.source_id, m.role, m.rule
    FROM w_staff_schools ss JOIN map_staff m ON m.staff_id = ss.source_id
    UNION ALL
    SELECT DISTINCT ss.community_key, 'parent', l.contact_id, 'Parent', 'contacts.include'
    FROM w_links l JOIN k_student_schools ss ON ss.source_id = l.student_id
), joined AS (
    SELECT w.*, pc.community_id, pp.person_id, cm.role AS old_role, cm.role_set_by_hand
    FROM wanted w
    JOIN p_communities pc ON pc.key = w.community_key
    JOIN k_people pp ON pp.kind = w.kind AND pp.source_id = w.source_id
    LEFT JOIN community_members cm ON cm.community_id = pc.community_id AND cm.person_id = pp.person_id
)
SELECT *,
    CASE WHEN old_role IS NULL THEN 'create'
         WHEN old_role <> role AND role_set_by_hand THEN 'skip'
         WHEN old_role <> role THEN 'update' END AS action,
    CASE WHEN old_role <> role AND role_set_by_hand THEN 'the role ' || old_role ||
        ' was set by hand in Bloomz'
    END AS reason
FROM joined
"""

_CLASS_MEMBERS = f"""
CREATE OR REPLACE TEMP TABLE p_class_members AS
WITH classes_now AS (
    SELECT section_id, class_id FROM p_classes WHERE live
    UNION ALL
    SELECT section_id, id FROM classes
    WHERE source = $source AND status = 'active' AND section_id NOT IN (SELECT section_id FROM p_sections)
), from_enrollments AS (
    SELECT e.section_id, pp.kind, e.user_id AS source_id,
        CASE WHEN pp.kind = 'student' THEN 'student' ELSE e.role END AS role,
        'enrollments' AS rule
    FROM stg_enrollments e
    JOIN k_people pp ON pp.source_id = e.user_id AND pp.kind IN ('student', 'staff')
    -- a staff member enrolled as a student is not seated (a class's staff are its teachers and aides)
    WHERE e._deleted_at IS NULL AND NOT (pp.kind = 'staff' AND e.role = 'student')
), wanted AS (
    SELECT * FROM from_enrollments
    UNION ALL
    SELECT ps.section_id, 'staff', ps.primary_teacher_id, 'teacher', 'sections.primary_teacher_id'
    FROM p_sections ps JOIN k_people pp ON pp.kind = 'staff' AND pp.source_id = ps.primary_teacher_id
    UNION ALL
    SELECT fe.section_id, 'parent', l.contact_id, 'parent', 'contacts.include'
    FROM from_enrollments fe JOIN w_links l ON l.student_id = fe.source_id
    WHERE fe.kind = 'student'
), joined AS (
    SELECT w.*, cn.class_id, pp.person_id, m.role AS old_role, m.origin, t.class_id IS NOT NULL AS tombstoned
    FROM wanted w
    JOIN classes_now cn ON cn.section_id = w.section_id
    JOIN k_people pp ON pp.kind = w.kind AND pp.source_id = w.source_id
    LEFT JOIN class_members m ON m.class_id = cn.class_id AND m.person_id = pp.person_id
    -- removed from the class by hand in Bloomz (edits.remove_member): not added back
    LEFT JOIN class_member_tombstones t ON t.class_id = cn.class_id AND t.person_id = pp.person_id
    -- a tie (a teacher both enrolled and the section's primary teacher) goes to the first rule by name
    QUALIFY row_number() OVER (
        PARTITION BY cn.class_id, pp.person_id ORDER BY {_CLASS_ROLE_ORDER}, w.rule
    ) = 1
)
SELECT *,
    CASE WHEN old_role IS NULL AND tombstoned THEN 'skip'
         WHEN old_role IS NULL THEN 'create'
         WHEN old_role <> role AND origin = 'manual' THEN 'skip'
         WHEN old_role <> role THEN 'update' END AS action,
    CASE WHEN old_role IS NULL AND tombstoned THEN 'removed from the class by hand in Bloomz'
         WHEN old_role <> role AND origin = 'manual' THEN 'added by hand in Bloomz as ' || old_role END AS
        reason
FROM joined
"""

_STUDENT_CONTACTS = """
CREATE OR REPLACE TEMP TABLE p_student_contacts AS
SELECT l.*, s.person_id AS student_person_id, c.person_id AS contact_person_id,
    sc.relationship AS old_relationship, sc.type AS old_type,
    CASE WHEN sc.student_id IS NULL THEN 'create'
         WHEN sc.relationship IS DISTINCT FROM l.relationship OR sc.type IS DISTINCT FROM l.type THEN 'update'
    END AS action
FROM w_links l
JOIN k_people s ON s.kind = 'student' AND s.source_id = l.student_id
JOIN k_people c ON c.kind = 'parent' AND c.source_id = l.contact_id
LEFT JOIN student_contacts sc ON sc.student_id = s.person_id AND sc.contact_id = c.person_id
"""

# One SELECT per entity, each with ord (the entity's place in the plan) and the plan_rows columns after
# (run_id, seq).
_PLAN_ROWS = """
    SELECT 1 AS ord, 'community' AS entity, action, community_id AS target_id, key AS target,
        'schools' AS source_stream, array_to_string(school_ids, ',') AS source_id, 'communities' AS rule,
        CASE WHEN action = 'create' THEN 'selected school' WHEN new_school THEN 'adds a school'
             ELSE 'the school name changed' END AS reason,
        CASE WHEN existing_id IS NOT NULL THEN json_object('name', old_name) END AS before,
        json_object('name', name, 'school_ids', school_ids) AS after
    FROM p_communities WHERE action IS NOT NULL
    UNION ALL
    SELECT 2, 'class', action, class_id, community_key || ' / ' || coalesce(name, class_name, section_name),
        'sections', section_id, rule, reason,
        CASE WHEN existing_id IS NOT NULL THEN json_object('name', old_name, 'status', old_status) END,
        CASE WHEN action <> 'skip' THEN json_object('name', name, 'status', 'active') END
    FROM p_classes WHERE action IS NOT NULL
    UNION ALL
    SELECT 3, 'person', action, person_id, kind || ' ' || source_id,
        CASE kind WHEN 'student' THEN 'students' WHEN 'staff' THEN 'staff' ELSE 'contacts' END, source_id,
        CASE kind WHEN 'parent' THEN 'contacts.include' WHEN 'student' THEN 'students.id_field' ELSE
            'staff' END,
        CASE WHEN action = 'create' THEN 'new in the source' ELSE 'changed in the source' END,
        to_json(old), to_json(struct_pack(first_name, middle_name, last_name, preferred_first_name, grade,
            title,
            email, phone, student_id, student_id_field))
    FROM p_people WHERE action IS NOT NULL
    UNION ALL
    SELECT 4, 'community_member', action, person_id, community_key || ' / ' || kind || ' ' || source_id,
        CASE kind WHEN 'parent' THEN 'student_contacts' WHEN 'student' THEN 'students' ELSE 'staff' END,
        source_id, rule, reason,
        CASE WHEN old_role IS NOT NULL THEN json_object('role', old_role) END,
        json_object('role', role)
    FROM p_community_members WHERE action IS NOT NULL
    UNION ALL
    SELECT 5, 'class_member', action, person_id, 'class #' || class_id || ' / ' || kind || ' ' || source_id,
        CASE rule WHEN 'enrollments' THEN 'enrollments' WHEN 'contacts.include' THEN 'student_contacts'
             ELSE 'sections' END,
        section_id || '/' || source_id, rule, reason,
        CASE WHEN old_role IS NOT NULL THEN json_object('role', old_role) END,
        json_object('role', role, 'origin', 'sync')
    FROM p_class_members WHERE action IS NOT NULL
    UNION ALL
    SELECT 6, 'student_contact', action, student_person_id, 'student ' || student_id || ' / parent ' ||
        contact_id,
        'student_contacts', student_id || '/' || contact_id, 'contacts.include', NULL,
        CASE WHEN action = 'update' THEN json_object('relationship', old_relationship, 'type', old_type) END,
        json_object('relationship', relationship, 'type', type)
    FROM p_student_contacts WHERE action IS NOT NULL
"""

# The schools that feed each community of the run (apply links the new ones).
_COMMUNITY_SOURCES = """
CREATE OR REPLACE TEMP TABLE p_community_sources AS
SELECT pc.community_id, ms.school_id FROM map_schools ms JOIN p_communities pc ON pc.key = ms.community_key
"""

# The run's issues as planning finds them (saved_plan.save adds the school communities each concerns).
_ISSUE_COLUMNS = (
    "run_id BIGINT, severity VARCHAR, stream VARCHAR, record_key VARCHAR, message VARCHAR NOT NULL"
)

# Warnings the admin must see: every set-aside record, every section left out for its name or a template
# error, a class left without its primary teacher, a student without the chosen id, contact details that
# could not be used (by id only: never the value).
_ISSUES = """
INSERT INTO p_issues
SELECT $run, 'error', stream, record_key, problem FROM stg_rejects
UNION ALL
SELECT $run, 'warning', 'sections', section_id, 'section not imported: ' || reason
FROM p_classes WHERE action = 'skip' AND selected AND reason NOT LIKE 'the class is archived%'
UNION ALL
SELECT $run, 'warning', 'sections', section_id, reason FROM p_classes WHERE outcome = 'kept' AND selected
UNION ALL
SELECT $run, 'warning', CASE kind WHEN 'student' THEN 'students' WHEN 'staff' THEN 'staff' ELSE 'contacts'
    END,
    source_id, w
FROM p_people, unnest([email_warning, phone_warning]) AS u(w) WHERE w IS NOT NULL
UNION ALL
SELECT $run, 'error', 'sections', section_id, 'section not imported: ' || problem
FROM p_classes WHERE problem IS NOT NULL
UNION ALL
SELECT $run, 'warning', 'sections', section_id,
    'primary_teacher_id: staff member ' || primary_teacher_id ||
    ' is unknown or not in a selected school: the class has no teacher from the section'
FROM p_classes
WHERE live AND primary_teacher_id IS NOT NULL
  AND primary_teacher_id NOT IN (SELECT source_id FROM k_people WHERE kind = 'staff')
UNION ALL
SELECT $run, 'warning', 'students', source_id,
    'students.id_field: the student has no ' || student_id_field || ': imported without a student id'
FROM p_people WHERE kind = 'student' AND student_id IS NULL
UNION ALL
SELECT $run, 'warning', 'enrollments', e.section_id || '/' || e.user_id,
    'enrollment not imported: the user is not in a selected school'
FROM stg_enrollments e
WHERE e._deleted_at IS NULL AND e.section_id IN (SELECT section_id FROM p_classes WHERE live)
  AND e.user_id NOT IN (SELECT source_id FROM k_people WHERE kind IN ('student', 'staff'))
UNION ALL
SELECT $run, 'warning', 'enrollments', e.section_id || '/' || e.user_id,
    'enrollment not imported: staff member ' || e.user_id ||
    ' is enrolled as a student, and a class seats staff only as teachers or aides'
FROM stg_enrollments e
WHERE e._deleted_at IS NULL AND e.role = 'student'
  AND e.section_id IN (SELECT section_id FROM p_classes WHERE live)
  AND e.user_id IN (SELECT source_id FROM k_people WHERE kind = 'staff')
  AND e.user_id NOT IN (SELECT source_id FROM k_people WHERE kind = 'student')
UNION ALL
SELECT $run, 'warning', 'schools', org_id, problem FROM map_org_problems
"""


@dataclass(frozen=True)
class PlanSummary:
    """Plan rows per entity and action, e.g. {"class": {"create": 12, "skip": 3}}."""

    counts: dict[str, dict[str, int]]

    @classmethod
    def of(cls, con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> PlanSummary:
        """The counts an (entity, action, count) query gives."""
        counts: dict[str, dict[str, int]] = {}
        for entity, action, n in con.execute(sql, params or []).fetchall():
            counts.setdefault(entity, {})[action] = n
        return cls(counts)

    def changes(self) -> int:
        """How many rows would change the store."""
        return sum(n for actions in self.counts.values() for a, n in actions.items() if a != "skip")


def _number_plan_rows(con: duckdb.DuckDBPyConnection) -> None:
    """``p_plan_rows``: the plan rows numbered in plan order: entity, then target, then source record.

    Bounded memory at any size: the rows go to a temp table as they come and only their sort keys are
    sorted (a sort spills to disk, where a row_number() window holds every whole row in memory); a row's
    number is its place in that order.
    """
    con.execute(f"CREATE OR REPLACE TEMP TABLE p_plan_candidates AS {_PLAN_ROWS}")
    with store.in_insertion_order(con):  # the sorted row ids keep their order as rowid
        con.execute(
            "CREATE OR REPLACE TEMP TABLE p_plan_order AS "
            "SELECT rowid AS plan_row FROM p_plan_candidates ORDER BY ord, target, source_id"
        )
    # row ids of a new table count up from where its storage starts (inside a transaction, not from 0)
    con.execute(
        """CREATE OR REPLACE TEMP TABLE p_plan_rows AS
           SELECT o.rowid - (SELECT min(rowid) FROM p_plan_order) + 1 AS seq, r.* EXCLUDE (ord)
           FROM p_plan_order o JOIN p_plan_candidates r ON r.rowid = o.plan_row"""
    )
    con.execute("DROP TABLE p_plan_candidates")
    con.execute("DROP TABLE p_plan_order")


def _settle_class_names(con: duckdb.DuckDBPyConnection) -> None:
    """Play name rounds until no move falls back to its current name; keep the outcome in p_class_names."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE p_name_fallbacks (class_id BIGINT, holder_section VARCHAR, "
        "holder_class BIGINT)"
    )
    while True:
        con.execute(_NAME_ROUND)
        row = con.execute(
            "INSERT INTO p_name_fallbacks SELECT class_id, holder_section, holder_class FROM p_name_round "
            "WHERE kind = 'move' AND NOT wins"
        ).fetchone()
        if not row or not row[0]:
            break
    con.execute(_NAME_OUTCOMES)


def build(con: duckdb.DuckDBPyConnection, mapping: Mapping, run_id: int) -> PlanSummary:
    """Compute the plan of ``run_id`` into the p_* temp tables, its rows (``p_plan_rows``) and issues
    (``p_issues``) with it; the store is only read (saved_plan.save records the plan with the run)."""
    params: dict[str, Any] = {
        "source": mapping.source,
        "recreate_archived": mapping.options.recreate_archived,
        "contact_field": mapping.contact_field,
        "include": list(mapping.contact_include),
        "id_field": mapping.student_id_field,
    }

    def run(sql: str, *names: str) -> None:
        con.execute(sql, {n: params[n] for n in names})

    con.execute(f"CREATE OR REPLACE TEMP TABLE p_issues ({_ISSUE_COLUMNS})")
    # a run held before store version 10 has no department problems saved with it (plan/artifact.py)
    con.execute("CREATE TEMP TABLE IF NOT EXISTS map_org_problems (org_id VARCHAR, problem VARCHAR)")
    run(_COMMUNITIES, "source")
    con.execute(_COMMUNITY_SOURCES)
    run(_SECTIONS)
    blocked = removals.blocked_streams(con, mapping, run_id)
    removals.plan_archives(con, mapping, blocked)  # names of classes archived tonight are free tonight
    run(_NAME_CLAIMS, "source", "recreate_archived")
    _settle_class_names(con)
    run(_CLASSES, "source", "recreate_archived")
    run(_STUDENT_SCHOOLS, "source")
    run(_STAFF_SCHOOLS, "source")
    run(_KNOWN_STUDENTS, "source")
    run(_LINKS, "contact_field", "include", "source")
    run(_WANTED_PEOPLE, "id_field")
    churned_contacts.match_churned_contacts(con, mapping.source, run_id)
    run(_people_sql(), "source")
    run(_KNOWN_PEOPLE, "source")
    run(_COMMUNITY_MEMBERS)
    run(_CLASS_MEMBERS, "source")
    run(_STUDENT_CONTACTS)
    _number_plan_rows(con)
    con.execute(_ISSUES, {"run": run_id})
    churned_contacts.report_matches(con, run_id)
    removals.plan(con, mapping, run_id, blocked)  # re-sync (issue 7): removals, complete pulls only
    accounting.account_for_people(con, mapping, run_id)  # nobody vanishes (issue 18)
    return PlanSummary.of(con, "SELECT entity, action, count(*) FROM p_plan_rows GROUP BY ALL ORDER BY ALL")
