"""The people side of a run, as target.py calls it: in the apply transaction, and after the run.

In the transaction (:func:`in_apply`): family codes for students without a parent, the invitations of the
people the plan added, and the Bulk Import Status e-mails, so all of them commit with the run or not at
all. After the run, whatever its end but a dry run (:func:`after_run`): the status e-mails of a run that
was not applied (held, failed), then delivery of everything pending in the outbox, this run's and any
earlier run's left by a crash or a channel that was down.
"""

from __future__ import annotations

import logging

import duckdb

from target_bloomz.apply.family_codes import assign_family_codes
from target_bloomz.mapping import Mapping
from target_bloomz.outbox import DeliveryReport, DeliverySettings, deliver_pending
from target_bloomz.outbox.invitations import InvitationCounts, queue_invitations
from target_bloomz.outbox.status_emails import queue_status_emails

log = logging.getLogger(__name__)


def in_apply(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    mapping: Mapping,
    *,
    signup_url: str,
    family_codes: bool = True,
) -> None:
    """Family codes, invitations and status e-mails of an applied run, inside its transaction.

    ``family_codes`` False (an incomplete pull): who has no parent is known only from a complete pull.
    """
    codes = assign_family_codes(con) if family_codes else 0
    invited: InvitationCounts = queue_invitations(con, run_id, mapping.options, signup_url=signup_url)
    queue_status_emails(con, run_id)
    log.info(
        "run %s: %d family codes, %d invitation e-mails and %d text messages queued, "
        "%d registered people added without invitation",
        run_id,
        codes,
        invited.email,
        invited.sms,
        invited.registered,
    )


def after_run(con: duckdb.DuckDBPyConnection, run_id: int, settings: DeliverySettings) -> DeliveryReport:
    """Queue the status e-mails of a run that did not apply, then deliver the outbox (never for a dry run)."""
    queue_status_emails(con, run_id)
    report = deliver_pending(con, settings)
    log.info("outbox delivery: %s", report)
    return report
