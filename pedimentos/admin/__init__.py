"""Admin of runs and service outcomes: review runs, group failures, retry.

Records are written by runs only, so both lists are read-only; superusers
may delete. The retry action needs the ``pedimentos.retry_failed_services``
permission.
"""

from .outcomes import ServiceOutcomeAdmin
from .runs import RunAdmin

__all__ = ["RunAdmin", "ServiceOutcomeAdmin"]
