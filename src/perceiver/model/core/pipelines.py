"""Empty batches in the ``transformers`` pipelines that serve this package's models.

``transformers``' pipelines look at the first input before anything else, so ``pipe([])`` raises an ``IndexError``
from inside ``transformers``. For the tasks our models serve through ``transformers``' own pipelines
(``text-classification``, ``fill-mask``, ``text-generation``, ``image-classification``) :func:`serve_empty_batches`
registers a subclass of the task's pipeline class that returns ``[]`` for an empty list when the model is one of
ours. With any other model the subclass does exactly what ``transformers``' class does.
"""

import importlib
from typing import Any

from transformers.pipelines import PIPELINE_REGISTRY

_SERVED: dict[str, type] = {}


def _is_empty_batch(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    inputs = args[0] if args else next(iter(kwargs.values()), None)
    return isinstance(inputs, list | tuple) and len(inputs) == 0


def serve_empty_batches(task: str) -> type:
    """Register (once) the empty-batch subclass of ``task``'s pipeline class; return it."""
    if task in _SERVED:
        return _SERVED[task]
    entry = PIPELINE_REGISTRY.check_task(task)[1]
    base = entry["impl"]
    if isinstance(base, str):  # transformers 5 names the classes by dotted path
        module, name = base.rsplit(".", 1)
        base = getattr(importlib.import_module(module), name)

    def __call__(self: Any, *args: Any, **kwargs: Any) -> Any:
        from perceiver.model.core.huggingface import PerceiverPreTrainedModel

        if isinstance(self.model, PerceiverPreTrainedModel) and _is_empty_batch(args, kwargs):
            return []
        return base.__call__(self, *args, **kwargs)

    served = type(base.__name__, (base,), {"__call__": __call__, "__module__": __name__, "__doc__": base.__doc__})
    entry["impl"] = served
    _SERVED[task] = served
    return served


__all__ = ["serve_empty_batches"]
