"""Doctor's check of the deployment's own database user (--create-db-user, steps/db_user.py): the step's own
inspection, read as the cluster's admin through the Data API, says whether the user exists, whether the secret's
AWSCURRENT is the password it holds, and whether its grants are exactly the ones asked for."""
from __future__ import annotations

from xacct_dataapi.doctor.chain import Chain
from xacct_dataapi.doctor.model import FAIL, OK, Check


def db_user_checks(chain: Chain) -> list[Check]:
    config = chain.state.config if chain.mode == "state" and chain.state is not None else {}
    if not config.get("create_db_user"):
        return []  # the user is the operator's: nothing recorded to compare with
    user, problems = config.get("db_user"), chain.model_problems.get("db_user") or []
    if problems:
        return [Check("db.user", "cluster", "provider", FAIL, f"database user {user}: " + "; ".join(problems),
                      f"`xacct setup --name {chain.deployment}` grants and revokes to match, and finishes a rotation "
                      "that did not; the database is read and changed as the cluster's admin through the Data API.")]
    return [Check("db.user", "cluster", "provider", OK, f"database user {user} holds the secret's current password "
                  "and exactly the grants asked for")]
