"""Differences between the ``transformers`` versions we support, in one place."""

from transformers.modeling_outputs import CausalLMOutputWithPast

# transformers renamed the cache argument and output field ``past_key_values`` to ``cache`` (between 5.17 and 5.24)
CACHE_NAME = "cache" if "cache" in CausalLMOutputWithPast.__dataclass_fields__ else "past_key_values"
