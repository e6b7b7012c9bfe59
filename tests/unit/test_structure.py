"""The package's shape: no import cycle (every import counts: at the top, inside a function, under TYPE_CHECKING),
no module over 350 lines, and an executor that stays small and names no AWS service."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "xacct_dataapi"
# A module may enter this list only with the reason it is long and the issue that splits it.
LONG_FOR_NOW: set[str] = set()
CYCLES_FOR_NOW: list[set[str]] = []


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules this one imports, wherever the import stands."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names}
    return {m for m in found if m in modules and m != name}


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(component)

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle():
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert [c for c in _cycles(graph) if c not in CYCLES_FOR_NOW] == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_over_350_lines(path):
    if str(path.relative_to(PACKAGE)) in LONG_FOR_NOW:
        pytest.skip("being split by other work in progress")
    assert len(path.read_text().splitlines()) <= 350


def test_the_executor_is_small_and_names_no_aws_service():
    text = (PACKAGE / "runner.py").read_text()
    assert len(text.splitlines()) <= 160
    code = ast.unparse(ast.parse(text))  # strings and comments aside: what it calls and imports
    names = {n.id for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Name)}
    attrs = {n.attr for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Attribute)}
    strings = {n.value for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    services = {"ec2", "iam", "kms", "rds", "rds-data", "secretsmanager", "sts", "ssm", "resourcegroupstaggingapi"}
    assert not services & (names | attrs | strings)


# The layers of docs/architecture.md, top to bottom: a module may import from its own layer and the layers below.
# Keyed by the first name under the package (a module or a sub-package); a new one must be given its layer here.
LAYERS: list[tuple[str, set[str]]] = [
    ("cli", {"cli", "__main__"}),
    ("use cases", {"commands", "app", "demo", "doctor", "export", "permissions"}),
    ("presentation", {"terminal", "render", "progress", "graph"}),
    ("teardown's screen", {"ownership", "discover"}),
    ("planner and recipe", {"planner", "steps", "status"}),
    ("executor", {"runner", "hooks"}),
    ("inputs", {"context", "preflight", "connect", "verify"}),
    ("resource types", {"resource_types"}),
    ("state", {"state", "state_s3"}),
    ("AWS", {"aws", "aws_reads", "db_admin", "waiting", "parallel"}),
    ("vocabulary", {"models", "plan_order", "policies", "policy_diff", "policy_eval", "db_sql", "errors", "nacl",
                    "data_api_support", "cost", "layout", "vantage", "durations", "config", "db_options"}),
]
# The sandbox is not part of what runs against real AWS: only the commands that start it may import it.
SANDBOX_USERS = {"xacct_dataapi.cli.demo", "xacct_dataapi.cli.sandbox", "xacct_dataapi.demo"}


def _layer(module: str) -> int | str | None:
    parts = module.split(".")
    if len(parts) == 1:
        return None  # the package itself
    if parts[1] == "sandbox":
        return "sandbox"
    for rank, (_, heads) in enumerate(LAYERS):
        if parts[1] in heads:
            return rank
    return f"no layer for {module}"


def test_every_module_has_a_layer():
    assert [m for m in _modules() if isinstance(_layer(m), str) and _layer(m) != "sandbox"] == []


def test_no_import_runs_up_a_layer_or_into_the_sandbox():
    modules = _modules()
    wrong = []
    for name, path in sorted(modules.items()):
        mine = _layer(name)
        if mine == "sandbox" or mine is None:
            continue  # the sandbox stands beside the product and may use it
        for imported in sorted(_imports(name, path, modules)):
            theirs = _layer(imported)
            if theirs == "sandbox" and name not in SANDBOX_USERS:
                wrong.append(f"{name} -> {imported} (the sandbox)")
            elif isinstance(theirs, int) and isinstance(mine, int) and theirs < mine:
                wrong.append(f"{name} ({LAYERS[mine][0]}) -> {imported} ({LAYERS[theirs][0]})")
    assert wrong == []


def test_the_layer_check_sees_an_upward_import():
    assert _layer("xacct_dataapi.runner") > _layer("xacct_dataapi.commands.setup")
    assert _layer("xacct_dataapi.sandbox.authz.enforce") == "sandbox"
    assert _layer("xacct_dataapi.someday") == "no layer for xacct_dataapi.someday"
