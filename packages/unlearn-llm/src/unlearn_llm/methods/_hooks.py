"""Hooks that inference-time methods (kif-runtime, test-time steering) put on a model,
found by the object that owns them and taken off again."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import torch

OwnerT = TypeVar("OwnerT")


def owned_hooks(
    model: torch.nn.Module, owner_type: type[OwnerT]
) -> list[tuple[dict[int, Any], int, OwnerT]]:
    """Every forward and forward-pre hook of ``model`` that is a bound method of an
    ``owner_type`` object, as (the module's hook dict, its key, the owner). Hooks are
    found by their owner, not by handles, so this works on a deep copy as well."""
    found: list[tuple[dict[int, Any], int, OwnerT]] = []
    for module in model.modules():
        for hooks in (module._forward_hooks, module._forward_pre_hooks):
            for key, hook in hooks.items():
                owner = getattr(hook, "__self__", None)
                if isinstance(owner, owner_type):
                    found.append((hooks, key, owner))
    return found


def remove_owned_hooks(model: torch.nn.Module, owner_type: type[Any], layer_attribute: str) -> bool:
    """Take every `owned_hooks` hook of ``owner_type`` off ``model`` and delete the
    ``layer_attribute`` its installer set on the hooked layers; ``True`` if there were
    any hooks."""
    found = owned_hooks(model, owner_type)
    for hooks, key, _ in found:
        del hooks[key]
    for module in model.modules():
        if hasattr(module, layer_attribute):
            delattr(module, layer_attribute)
    return bool(found)
