"""Writes to appraisals. Views, the API, tasks, commands and seed_demo all come here.

* ``cycles``: settings, launch, adding and withdrawing appraisals, reassigning the
  reviewer, advancing the cycle's phase;
* ``reviews``: saving and submitting reviews, returning and approving them, scores;
* ``calibration``: sessions, moving ratings, finalising, releasing results;
* ``results``: the employee's acknowledgement and comment, appeals;
* ``packets``: batches of PDF review packets rendered into a ZIP.
"""

from .calibration import (
    calibration_move,
    calibration_session_close,
    calibration_session_open,
    calibration_session_set_participants,
    results_release,
)
from .cycles import (
    appraisal_add,
    appraisal_reassign,
    appraisal_withdraw,
    competency_create,
    cycle_advance,
    cycle_create_from,
    cycle_launch_request,
    cycle_launch_run,
    cycle_settings_update,
    settings_for,
)
from .packets import (
    packet_batch_request,
    packet_batch_run,
    packet_batch_zip,
    packet_batches_expire,
    packet_chunk_run,
    packet_scope,
)
from .results import appeal_file, appeal_resolve, appraisal_acknowledge
from .reviews import appraisal_rescore, review_approve, review_return, review_save

__all__ = [
    "appeal_file",
    "appeal_resolve",
    "appraisal_acknowledge",
    "appraisal_add",
    "appraisal_reassign",
    "appraisal_rescore",
    "appraisal_withdraw",
    "calibration_move",
    "calibration_session_close",
    "calibration_session_open",
    "calibration_session_set_participants",
    "competency_create",
    "cycle_advance",
    "cycle_create_from",
    "cycle_launch_request",
    "cycle_launch_run",
    "cycle_settings_update",
    "packet_batch_request",
    "packet_batch_run",
    "packet_batch_zip",
    "packet_batches_expire",
    "packet_chunk_run",
    "packet_scope",
    "results_release",
    "review_approve",
    "review_return",
    "review_save",
    "settings_for",
]
