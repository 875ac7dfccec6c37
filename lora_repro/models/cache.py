"""The KV cache's name at a model call, across transformers releases.

transformers up to 5.23 passes the cache to a decoder's ``forward`` as ``past_key_values`` and returns
it as ``output.past_key_values``; 5.24 renamed both to ``cache`` (``past_key_values`` is still accepted
by ``forward``, with a deprecation warning, and read back through a property until 6.0). Code that
looks at a call's keyword arguments (a forward pre-hook sees them before transformers' own renaming
runs) or that drives the decoding loop itself must therefore ask which name is in use, not assume one.
"""

from __future__ import annotations

import inspect

from torch import nn

# Newest first: a model's forward that accepts several of these (5.24's deprecation shims) takes the first.
CACHE_KWARGS = ("cache", "past_key_values")


def find_cache(kwargs: dict):
    """The cache passed in a call's keyword arguments (under any of its names), or None."""
    for name in CACHE_KWARGS:
        value = kwargs.get(name)
        if value is not None:
            return value
    return None


def cache_kwarg(model: nn.Module) -> str:
    """The keyword under which ``model.forward`` takes the KV cache."""
    params = inspect.signature(model.forward).parameters
    for name in CACHE_KWARGS:
        if name in params:
            return name
    raise ValueError(
        f"{type(model).__name__}.forward takes none of {', '.join(CACHE_KWARGS)}: it cannot decode with a KV cache"
    )


def output_cache(output):
    """The cache a model call returned (``output.cache`` from transformers 5.24, ``past_key_values`` before)."""
    for name in CACHE_KWARGS:
        value = getattr(output, name, None)
        if value is not None:
            return value
    return None
