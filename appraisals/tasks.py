"""Background work for appraisals. Tasks take ids and call a service; safe to run twice."""

from celery import shared_task

from .services import cycle_launch_run


@shared_task(bind=True, name="appraisals.launch_cycle")
def launch_cycle(self, launch_id: int) -> int | None:
    # Redelivered after its worker died (acks_late): take over the launch it had started;
    # the batches already written are skipped, so nothing is created twice.
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    launch = cycle_launch_run(launch_id=launch_id, resume=redelivered)
    return None if launch is None else launch.created
