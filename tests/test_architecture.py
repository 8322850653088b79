"""The layers hold: no import cycle, config loading without Pulumi, outputs that are what is declared."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pulumi
import pytest

from components.base import Component, Out
from tools.offline import PROJECT_DIR

PACKAGES = ("platform_lib", "platform_config", "components", "composition", "tools", "platform_policies", "functions")


def _cycles(imports: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each a cycle of imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in sorted(imports.get(module, ())):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while (member := stack.pop()) != module:
                component.append(member)
            if component:
                found.append(sorted([module, *component]))

    for module in sorted(imports):
        if module not in index:
            visit(module)
    return found


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_among_the_project_modules() -> None:
    """Function-local and TYPE_CHECKING imports count: a cycle hidden in a function is still a cycle."""
    import grimp

    graph = grimp.build_graph(*PACKAGES)
    imports = {module: set(graph.find_modules_directly_imported_by(module)) for module in graph.modules}
    assert _cycles(imports) == []


def test_loading_and_checking_the_config_imports_no_pulumi() -> None:
    """A fresh interpreter loads both stacks' config: no provider SDK (and no Pulumi) gets imported."""
    from tools.stack_config import load_stack_config

    stacks = {stack: dict(load_stack_config(PROJECT_DIR, stack).values) for stack in ("stg", "prd")}
    script = textwrap.dedent(
        """
        import json, sys
        from platform_config import load_platform_config
        for stack, values in json.load(sys.stdin).items():
            load_platform_config(values, stack=stack)
        print(sorted(m for m in sys.modules if m == "pulumi" or m.startswith(("pulumi.", "pulumi_"))))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_DIR, input=json.dumps(stacks),
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert result.stdout.strip() == "[]"


class Widget(Component, token="test:index:Widget"):
    """Why a widget exists."""

    arn: Out[pulumi.Output[str]]
    size: Out[int]
    handle: str

    def __init__(self, name: str, *, set_size: bool = True) -> None:
        super().__init__(name)
        self.arn = pulumi.Output.from_input(f"arn:{name}")
        if set_size:
            self.size = 3
        self.handle = "not an output"
        self.finish()


def test_declared_outputs_are_registered_and_listed_in_the_docstring(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import run_component

    registered: dict[str, object] = {}
    monkeypatch.setattr(Component, "register_outputs", lambda self, outputs: registered.update(outputs))
    run = run_component(lambda: _build(Widget, "w"))
    assert set(registered) == {"arn", "size"}
    assert registered["size"] == 3
    (widget,) = [r for r in run.resources if r.type == "test:index:Widget"]
    assert widget.name == "w"
    assert Widget.__doc__ is not None
    assert Widget.__doc__.endswith("Outputs: `arn`, `size`.")


def test_a_declared_output_never_set_is_an_error() -> None:
    from tests.conftest import run_component

    with pytest.raises(AttributeError, match="Widget declares outputs it never sets: size"):
        run_component(lambda: _build(Widget, "w", set_size=False))


def test_every_component_has_its_own_token_and_registers_through_finish() -> None:
    """Tokens are part of every child's URN: two components sharing one would collide in state."""
    import importlib

    sources = [*(PROJECT_DIR / "components").glob("*.py"), PROJECT_DIR / "composition" / "platform.py"]
    by_hand = [path.name for path in sources if "register_outputs(" in path.read_text() and path.name != "base.py"]
    assert by_hand == []
    for path in sources:
        importlib.import_module(".".join(path.relative_to(PROJECT_DIR).with_suffix("").parts))
    classes = [cls for cls in _subclasses(Component) if cls.__module__.startswith(("components.", "composition."))]
    assert classes
    tokens = [cls.token for cls in classes]
    assert all(token.startswith("platform:") for token in tokens)
    assert len(set(tokens)) == len(tokens)


def _subclasses(cls: type) -> list[type]:
    return [sub for direct in cls.__subclasses__() for sub in (direct, *_subclasses(direct))]


def _build(cls: type[Widget], name: str, **kwargs: bool) -> None:
    cls(name, **kwargs)
