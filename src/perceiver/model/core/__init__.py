"""Building blocks of the Perceiver family: attention, layers, encoder/decoder, Perceiver AR, adapters, positions.

As in perceiver-io 0.11, the package exports the names of its ``adapter``, ``config``, ``modules`` and ``position``
modules (and ``freeze`` and ``init_parameters``)."""

from perceiver.model.core import adapter, config, modules, position
from perceiver.model.core.adapter import *  # noqa: F403
from perceiver.model.core.config import *  # noqa: F403
from perceiver.model.core.modules import *  # noqa: F403
from perceiver.model.core.position import *  # noqa: F403
from perceiver.model.core.utils import freeze, init_parameters  # noqa: F401 (in __all__)

__all__ = sorted({*adapter.__all__, *config.__all__, *modules.__all__, *position.__all__, "freeze", "init_parameters"})
