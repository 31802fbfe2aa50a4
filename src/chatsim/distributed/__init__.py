"""Scale-out on Ray: one run's episodes spread over Ray async actors (``chatsim[ray]``).

The driver plans the episodes exactly as in one process and is the run directory's only
writer; episode workers (``EpisodeWorker``) pull chunks of plans and return records in
batches. ``ray`` is imported lazily: importing this package does not load it.
"""

from chatsim.distributed._driver import ActorNotPlaced, WorkersLost, execute_run_on_ray
from chatsim.distributed._ray import (
    INSTALL_HINT,
    LOCAL,
    SCHEDULE_TIMEOUT_VARIABLE,
    check_address,
    schedule_timeout,
)

__all__ = [
    "INSTALL_HINT",
    "LOCAL",
    "SCHEDULE_TIMEOUT_VARIABLE",
    "ActorNotPlaced",
    "WorkersLost",
    "check_address",
    "execute_run_on_ray",
    "schedule_timeout",
]
