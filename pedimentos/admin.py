"""Read-only admin lists of runs and service outcomes."""

from django.contrib import admin

from .models import Run, ServiceOutcome


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records are written by runs only; the admin shows them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(Run)
class RunAdmin(ReadOnlyAdmin):
    list_display = ["id", "started_at", "finished_at", "status", "kind", "start_page", "end_page",
                    "service_type", "workers", "processed", "succeeded", "failed", "started_by"]
    list_filter = ["status", "kind", "started_at"]
    date_hierarchy = "started_at"


@admin.register(ServiceOutcome)
class ServiceOutcomeAdmin(ReadOnlyAdmin):
    list_display = ["id", "run", "service_id", "pedimento_number", "aduana", "patente", "rfc",
                    "status", "error_kind", "attempts", "finished_at"]
    list_filter = ["status", "error_kind", "run"]
    search_fields = ["pedimento_number", "rfc", "=service_id", "aduana", "patente"]
    exclude = []
