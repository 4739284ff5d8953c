"""Data-parallel training on several machines (or several ranks on one) through ``mlx.launch``.

- ``group.py``: the group of ranks and what they agree on (config, checkpoint files, control, start-up gate)
- ``hosts.py``: the hosts of the ``distributed:`` config section (its model is in ``core.config``)
- ``launch.py``: before ``mlx.launch`` starts the ranks: find it, check every host, choose ports, build the command
"""

from __future__ import annotations

from forgellm_tui.core.distributed.group import (SINGLE, NullRunFolder, RankRefused, SyncedControl, World, init_world,
                                                 share_checkpoint)
from forgellm_tui.core.distributed.hosts import HostError, configured_hosts, world_size
from forgellm_tui.core.distributed.launch import launch_command, launch_plan

__all__ = ["HostError", "NullRunFolder", "RankRefused", "SINGLE", "SyncedControl", "World", "configured_hosts",
           "init_world", "launch_command", "launch_plan", "share_checkpoint", "world_size"]
