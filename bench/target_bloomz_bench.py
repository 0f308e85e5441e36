"""Time target-bloomz on a synthetic district: records per second and peak memory, first run and re-run.

    .venv/bin/python bench/target_bloomz_bench.py --students 50000

Prints figures; asserts nothing (speed is not a test). Each student has 4 enrollments and 1.5 contacts.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from _measure import pull_message

from roster_streams import contract

TARGET = str(Path(sys.executable).with_name("target-bloomz"))


def records(students: int) -> Iterator[tuple[str, dict]]:
    schools = max(1, students // 500)
    sections = max(1, students * 4 // 25)
    teachers = max(1, sections // 5)
    for s in range(schools):
        yield "schools", {"id": f"sch{s}", "name": f"School {s}", "high_grade": "8"}
    for t in range(teachers):
        yield (
            "staff",
            {
                "id": f"tea{t}",
                "school_ids": [f"sch{t % schools}"],
                "roles": ["teacher"],
                "first_name": "T",
                "last_name": f"Teacher{t}",
                "email": f"t{t}@example.org",
            },
        )
    for c in range(sections):
        yield (
            "sections",
            {
                "id": f"sec{c}",
                "school_id": f"sch{c % schools}",
                "name": f"Section {c}",
                "primary_teacher_id": f"tea{c % teachers}",
            },
        )
    for i in range(students):
        school = f"sch{i % schools}"
        yield (
            "students",
            {
                "id": f"stu{i}",
                "school_ids": [school],
                "sis_id": f"S{i}",
                "first_name": "S",
                "last_name": f"Student{i}",
                "grade": "5",
                "phone": f"312555{i % 10000:04d}",
            },
        )
        for k in range(4):
            yield (
                "enrollments",
                {"section_id": f"sec{(i + k * 7) % sections}", "user_id": f"stu{i}", "role": "student"},
            )
        for k in range(1 if i % 2 else 2):
            contact = f"con{i}-{k}"
            yield "contacts", {"id": contact, "last_name": f"Parent {i}", "email": f"p{i}.{k}@example.org"}
            yield (
                "student_contacts",
                {
                    "student_id": f"stu{i}",
                    "contact_id": contact,
                    "relationship": "Parent",
                    "type": "Parent/Guardian",
                },
            )


def write_messages(path: Path, students: int) -> int:
    count = 0
    sent: dict[str, int] = dict.fromkeys(contract.STREAMS, 0)
    with path.open("w") as out:
        schema = contract.load_schema(contract.PULL)
        out.write(json.dumps({"type": "SCHEMA", "stream": contract.PULL, "schema": schema}) + "\n")
        out.write(pull_message("started", source="clever", tenant="bench", mode="full", tap="bench"))
        for stream in contract.STREAMS:
            out.write(
                json.dumps(
                    {
                        "type": "SCHEMA",
                        "stream": stream,
                        "schema": contract.load_schema(stream),
                        "key_properties": contract.key_properties(stream),
                    }
                )
                + "\n"
            )
        for stream, record in records(students):
            out.write(json.dumps({"type": "RECORD", "stream": stream, "record": record}) + "\n")
            count += 1
            sent[stream] += 1
        for stream in contract.STREAMS:
            out.write(json.dumps({"type": "ACTIVATE_VERSION", "stream": stream, "version": 1}) + "\n")
        out.write(json.dumps({"type": "STATE", "value": {"bench": students}}) + "\n")
        streams = {stream: {"records": n, "complete": True} for stream, n in sent.items()}
        out.write(pull_message("finished", streams=streams, unreadable=[], failed={}, not_provided=[]))
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=20000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        messages, config = Path(tmp) / "input.singer", Path(tmp) / "config.json"
        count = write_messages(messages, args.students)
        config.write_text(json.dumps({"database": str(Path(tmp) / "bloomz.duckdb")}))
        for label in ("first run", "same input again"):
            started = time.perf_counter()
            with messages.open() as stdin:
                done = subprocess.run(
                    [TARGET, "--config", str(config)],
                    stdin=stdin,
                    capture_output=True,
                    text=True,
                    check=False,
                )
            seconds = time.perf_counter() - started
            if done.returncode:
                sys.exit(done.stderr[-3000:])
            phases = [line.split("| ")[-1] for line in done.stderr.splitlines() if "phase " in line]
            print(f"{label}: {count} records in {seconds:.1f} s ({count / seconds:,.0f} records/s)")
            for phase in phases:
                print(f"    {phase}")
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"peak memory of target-bloomz: {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
