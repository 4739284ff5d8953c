"""Training configs: the ``TrainingConfig`` pydantic model, YAML reading and writing, and validation.

Modules: ``schema`` (the fields: type, default, range, aliases, description), ``fields`` (a plain
view of each key for messages, the form and ``--help``), ``values`` (how text and YAML values become
a field's type), ``rules`` (rules between fields), ``distributed_section`` (the ``distributed:``
section), ``model`` (normalize, validate, ``from_dict``/``load_config``) and ``io`` (YAML files,
``--set`` overrides, the commented YAML writer). ``core.distributed`` depends on this package,
never the other way round.
"""

from forgellm_tui.core.config.distributed_section import DEFAULT_PORT, host_problem, split_hosts
from forgellm_tui.core.config.fields import FIELDS, FieldInfo
from forgellm_tui.core.config.io import cli_command, config_to_yaml, merge_overrides, parse_overrides, read_yaml
from forgellm_tui.core.config.model import ConfigFieldError, field_errors, from_dict, load_config, normalize, validate
from forgellm_tui.core.config.schema import IGNORED_KEYS, MLX_SCHEDULE, SHAPE_FIELDS, TrainingConfig

__all__ = [
    "DEFAULT_PORT", "FIELDS", "IGNORED_KEYS", "MLX_SCHEDULE", "SHAPE_FIELDS", "ConfigFieldError", "FieldInfo",
    "TrainingConfig", "cli_command", "config_to_yaml", "field_errors", "from_dict", "host_problem", "load_config",
    "merge_overrides", "normalize", "parse_overrides", "read_yaml", "split_hosts", "validate",
]
