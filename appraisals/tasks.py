"""Background work for appraisals. Tasks take ids and call a service; safe to run twice."""

from celery import shared_task

from .services import cycle_launch_run


@shared_task(name="appraisals.launch_cycle")
def launch_cycle(launch_id: int) -> int | None:
    launch = cycle_launch_run(launch_id=launch_id)
    return None if launch is None else launch.created
