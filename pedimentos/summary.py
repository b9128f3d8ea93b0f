"""The end-of-run summary: Spanish text for operators and a JSON form."""

from __future__ import annotations

from .models import ServiceOutcome
from .runner import THREADS_PER_WORKER, RunResult

MAX_ERRORS_SHOWN = 10


def summary_dict(result: RunResult) -> dict:
    """Return the run's results as a JSON-able dict (the ``--json`` output)."""
    run = result.run
    rate = run.success_rate
    return {
        "run_id": run.pk,
        "status": run.status,
        "start_page": run.start_page,
        "end_page": run.end_page,
        "service_type": run.service_type,
        "workers": run.workers,
        "pages_processed": run.pages_processed,
        "processed": run.processed,
        "succeeded": run.succeeded,
        "failed": run.failed,
        "skipped": run.skipped,
        "success_rate": round(rate, 2) if rate is not None else None,
        "duration_seconds": round(run.duration_seconds or 0.0, 3),
        "errors_by_kind": result.errors_by_kind,
        "message": run.message,
    }


def format_summary(result: RunResult) -> str:
    """Return the Spanish summary block printed at the end of a run."""
    run = result.run
    rate = run.success_rate
    if run.start_page is not None:
        pages = f"{run.pages_processed} (de la {run.start_page} a la {run.end_page})"
    else:
        pages = f"{run.pages_processed} (reintento)"
    lines = [
        "",
        "=== RESUMEN DEL PROCESAMIENTO MULTIHILO ===",
        f"Ejecución: #{run.pk} ({_status_es(run.status)})",
        f"Tiempo total: {run.duration_seconds or 0.0:.2f} segundos",
        f"Páginas procesadas: {pages}",
        f"Solicitudes simultáneas a VUCEM: {run.workers} (hilos: {run.workers * THREADS_PER_WORKER})",
        f"Total servicios procesados: {run.processed}",
        f"Total servicios exitosos: {run.succeeded}",
        f"Total servicios fallidos: {run.failed}",
        f"Tasa de éxito: {rate:.2f}%" if rate is not None else "Tasa de éxito: sin servicios",
    ]
    if run.skipped:
        lines.append(f"Servicios omitidos: {run.skipped}")
    if result.errors_by_kind:
        kinds = ", ".join(
            f"{_kind_label(kind)}: {count}" for kind, count in result.errors_by_kind.items()
        )
        lines.append(f"Fallos por tipo: {kinds}")
    if result.errors:
        lines.append(f"Primeros {min(MAX_ERRORS_SHOWN, len(result.errors))} errores:")
        for outcome in result.errors[:MAX_ERRORS_SHOWN]:
            lines.append(
                f"  - Servicio {outcome.service_id} (pedimento {outcome.pedimento_number or '?'}): "
                f"[{outcome.error_kind}] {outcome.error_message}"
            )
    if run.message:
        lines.append(f"Aviso: {run.message}")
    return "\n".join(lines)


def _kind_label(kind: str) -> str:
    """Return the error kind's label in the active language, with its code."""
    try:
        return f"{ServiceOutcome.ErrorKind(kind).label} ({kind})"
    except ValueError:
        return kind


def _status_es(status: str) -> str:
    return {
        "running": "en curso",
        "completed": "terminada",
        "interrupted": "interrumpida",
        "aborted": "abortada",
        "abandoned": "abandonada",
    }.get(status, status)
