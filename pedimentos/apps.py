from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PedimentosConfig(AppConfig):
    name = "pedimentos"
    verbose_name = _("Pedimentos")
    default_auto_field = "django.db.models.BigAutoField"
