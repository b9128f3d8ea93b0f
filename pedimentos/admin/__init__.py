"""Admin of runs and service outcomes: review runs, group failures, retry.

Records are written by runs only, so both lists are read-only; superusers
may delete. The retry action needs the ``pedimentos.retry_failed_services``
permission.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .outcomes import ServiceOutcomeAdmin
from .runs import RunAdmin

admin.site.site_header = _("Pedimentos · VUCEM")
admin.site.site_title = _("Pedimentos · VUCEM")
admin.site.index_title = _("Runs and service outcomes")
# The app has two models, reachable from the breadcrumbs and the index. Without
# the navigation sidebar the changelists get about 300 px more at 1366 px wide
# (717 px to 1016 px in Chromium), enough to show them without scrolling.
admin.site.enable_nav_sidebar = False

__all__ = ["RunAdmin", "ServiceOutcomeAdmin"]
