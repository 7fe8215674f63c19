"""Every installed benchmark honours the one benchmark contract, through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from unlearn_bench import cli
from unlearn_bench.discovery import benchmark_names, load_benchmark

NAMES = benchmark_names()
PACKAGES = ["erase-diffusion", "graph-algos", "train-infra", "unlearn-graph", "unlearn-llm"]


def _default(name: str) -> dict[str, Any]:
    benchmark, _ = load_benchmark(name)
    data: dict[str, Any] = benchmark.default_spec("quick").model_dump(mode="json")
    return data


def _validate(tmp_path: Path, data: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> str:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data))
    code = cli.main(["validate", str(path)])
    err = capsys.readouterr().err
    assert code == 2, f"validate accepted {data}"
    return err


def test_every_package_registers_benchmarks_methods_and_metrics() -> None:
    from unlearn_bench.discovery import installed_parts

    parts = {p.package: p for p in installed_parts()}
    assert set(PACKAGES) <= set(parts)
    for name in PACKAGES:
        assert parts[name].benchmarks, name
        assert any(b["kind"] == "speed" for b in parts[name].benchmarks), name
        assert parts[name].metrics, name


def test_list_json_gives_every_method_with_summary_and_paper(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["list", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    methods = [m for part in listing for m in part["methods"]]
    assert len(methods) >= 20
    for method in methods:
        assert set(method) == {"name", "kind", "summary", "paper"}
        assert method["summary"].strip(), method
    assert sum(m["paper"] is not None for m in methods) >= 12
    names = {(part["package"], m["name"]) for part in listing for m in part["methods"]}
    assert ("unlearn-llm", "npo") in names and ("erase-diffusion", "esd-x") in names
    assert ("erase-diffusion", "esd") not in names


def test_list_and_validate_import_no_torch(tmp_path: Path) -> None:
    specs = []
    for name in NAMES:
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(_default(name)))
        specs.append(str(path))
    code = (
        "import sys\n"
        "from unlearn_bench import cli\n"
        "assert cli.main(['list']) == 0\n"
        f"for spec in {specs!r}:\n"
        "    assert cli.main(['validate', spec]) == 0, spec\n"
        "print(sorted(m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("name", NAMES)
def test_validate_names_each_field_the_benchmark_does_not_read(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    benchmark, _ = load_benchmark(name)
    base = _default(name)

    err = _validate(tmp_path, {**base, "methods": [{"name": "no-such-method"}]}, capsys)
    assert "methods" in err and "no-such-method" in err

    err = _validate(tmp_path, {**base, "metrics": ["no-such-metric"]}, capsys)
    assert "metrics: unknown metric 'no-such-metric'" in err

    for part in ("world", "model"):
        given = base.get(part)
        if given is None:
            data = {**base, part: {"name": "anything"}}
            expected = f"{part}: {name} takes no {part}"
        else:
            data = {**base, part: {**given, "params": {**given["params"], "no_such_knob": -5}}}
            expected = f"{part}.params.no_such_knob"
        assert expected in _validate(tmp_path, data, capsys)

    err = _validate(tmp_path, {**base, "params": {**base["params"], "no_such_knob": 1}}, capsys)
    assert "params.no_such_knob" in err

    if benchmark.max_seeds == 1:
        err = _validate(tmp_path, {**base, "seeds": [0, 1]}, capsys)
        assert f"seeds: {name} takes at most 1 seed" in err


def test_validate_names_an_unknown_attack_of_the_facts_benchmark(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _default("llm-facts-quick")
    data["params"]["attacks"] = [{"name": "no-such-attack"}]
    err = _validate(tmp_path, data, capsys)
    assert "params.attacks[0].name: unknown attack 'no-such-attack'" in err
