"""Base class of the read-only admins."""

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Show records that only runs write; superusers alone may delete them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser
