"""``--set key=value`` overrides of a spec, applied to its plain data before validation."""

from __future__ import annotations

import re
from typing import Any

_PART = re.compile(r"^(?P<key>[A-Za-z_][A-Za-z0-9_-]*)(?P<index>(\[\d+\])*)$")


class OverrideError(ValueError):
    """A ``--set`` that is not ``path=value`` or whose path does not fit the spec."""


def _path(text: str, override: str) -> list[str | int]:
    steps: list[str | int] = []
    for part in text.split("."):
        match = _PART.match(part)
        if match is None:
            raise OverrideError(
                f"--set {override!r}: {part!r} is not a field name (paths look like "
                "world.params.people or methods[0].params.steps)"
            )
        steps.append(match.group("key"))
        steps.extend(int(i) for i in re.findall(r"\[(\d+)\]", match.group("index")))
    return steps


def _value(text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        return text


def _methods(names: str, default: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``npo,rmu``: the default spec's configs of those names (all variants), else bare names."""
    chosen: list[dict[str, Any]] = []
    for name in (n.strip() for n in names.split(",")):
        if not name:
            raise OverrideError(f"--set methods={names!r}: an empty method name")
        matches = [dict(m) for m in default if m.get("name") == name]
        chosen.extend(matches or [{"name": name}])
    return chosen


def apply_overrides(
    data: dict[str, Any], overrides: list[str], default: dict[str, Any]
) -> dict[str, Any]:
    """``data`` with each ``path=value`` set; ``default`` fills parts left out of ``data``.

    Values are read as YAML scalars or flow collections (``5``, ``0.1``, ``true``,
    ``[0, 1]``, ``{steps: 3}``). ``methods=npo,rmu`` selects methods by name, keeping
    the parameters the default spec gives them; ``metrics=a,b`` and ``seeds=0,1`` take
    comma lists.
    """
    import copy

    result = copy.deepcopy(data)
    for override in overrides:
        key, sep, raw = override.partition("=")
        if not sep or not key.strip():
            raise OverrideError(f"--set {override!r}: expected path=value, e.g. seeds=[0,1]")
        steps = _path(key.strip(), override)
        head = steps[0]
        if steps == ["methods"] and not raw.lstrip().startswith("["):
            result["methods"] = _methods(raw, default.get("methods") or [])
            continue
        if steps in (["metrics"], ["seeds"]) and not raw.lstrip().startswith("["):
            items = [_value(item) for item in raw.split(",") if item.strip()]
            result[str(head)] = items
            continue
        _assign(result, steps, _value(raw), override, default)
    return result


def _assign(
    result: dict[str, Any],
    steps: list[str | int],
    value: Any,
    override: str,
    default: dict[str, Any],
) -> None:
    """Set ``value`` at ``steps`` inside ``result`` (in place); ``override`` names it in errors."""
    import copy

    head = steps[0]
    if isinstance(head, str) and head not in result and head in default:
        result[head] = copy.deepcopy(default[head])
    node: Any = result
    for position, step in enumerate(steps[:-1]):
        following = steps[position + 1]
        if isinstance(step, int):
            if not isinstance(node, list) or step >= len(node):
                raise OverrideError(f"--set {override!r}: no item [{step}] there")
            node = node[step]
            continue
        if not isinstance(node, dict):
            raise OverrideError(f"--set {override!r}: {step!r} is inside a value, not a field")
        if node.get(step) is None:
            node[step] = [] if isinstance(following, int) else {}
        node = node[step]
    last = steps[-1]
    if isinstance(last, int):
        if not isinstance(node, list) or last >= len(node):
            raise OverrideError(f"--set {override!r}: no item [{last}] there")
        node[last] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise OverrideError(f"--set {override!r}: {last!r} is inside a value, not a field")


def set_value(
    data: dict[str, Any], path: str, value: Any, default: dict[str, Any]
) -> dict[str, Any]:
    """``data`` with the field at ``path`` set to the already parsed ``value``, as ``--set``.

    The path rules are those of `apply_overrides`; a sweep's grid uses them. For
    ``methods`` a name takes the default spec's configs of that name (all variants)
    and a mapping is one method config; for ``seeds`` a number is one seed.
    """
    import copy

    result = copy.deepcopy(data)
    shown = f"{path}={value!r}"
    steps = _path(path, shown)
    if steps == ["methods"] and isinstance(value, str):
        result["methods"] = _methods(value, default.get("methods") or [])
    elif steps == ["methods"] and isinstance(value, dict):
        result["methods"] = [copy.deepcopy(value)]
    elif steps == ["seeds"] and isinstance(value, int) and not isinstance(value, bool):
        result["seeds"] = [value]
    else:
        _assign(result, steps, copy.deepcopy(value), shown, default)
    return result
