"""The package's import directions (docs/architecture.md), read from the source with ast: every
import points down the layers, task packages do not import each other, and there is no circle."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "simmtm"
CORE = ("config", "masking", "similarity", "losses", "normalization", "dropout", "encoders", "heads", "model",
        "reference", "plotting")
LAYERS = {"utils": 0, "data": 1, **{name: 1 for name in CORE}, "baselines": 2, "build": 3, "training": 4,
          "forecasting": 5, "classification": 5, "anomaly": 5, "experiments": 6, "cli": 7, "": 8, "__main__": 9}
TASKS = ("forecasting", "classification", "anomaly")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, name: str) -> set[str]:
    """Every ``simmtm`` module ``path`` imports (lazy imports inside functions too)."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = name.split(".") if is_package else name.split(".")[:-1]
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found |= {base} | {f"{base}.{a.name}" for a in node.names}
    return {m for m in found if m == "simmtm" or m.startswith("simmtm.")}


def layer_of(module: str) -> tuple[str, int]:
    """``(the top-level part under simmtm, its layer)``."""
    top = module.split(".")[1] if "." in module else ""
    return top, LAYERS[top]


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    edges = {}
    for name, path in modules.items():
        targets = set()
        for target in imports(path, name):
            while target not in modules and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in modules and target != name and not target.startswith(name + "."):
                targets.add(target)
        edges[name] = targets
    return edges


def test_every_top_level_part_has_a_layer():
    parts = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"} | {
        p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert parts <= set(LAYERS), f"give these a layer in this test and docs/architecture.md: {parts - set(LAYERS)}"


def test_imports_point_down_and_tasks_stay_apart():
    wrong = []
    for source, targets in graph().items():
        top, layer = layer_of(source)
        for target in targets:
            t_top, t_layer = layer_of(target)
            if t_layer > layer or (top in TASKS and t_top in TASKS and t_top != top):
                wrong.append(f"{source} -> {target}")
    assert not wrong, "imports against the layers: " + ", ".join(sorted(wrong))


def test_no_import_circle():
    edges, state, stack = graph(), {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in edges[node]:
            if state.get(nxt) == "open":
                raise AssertionError("import circle: " + " -> ".join(stack[stack.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node)


def test_the_checker_sees_a_planted_upward_import(tmp_path):
    planted = tmp_path / "simmtm" / "utils"
    planted.mkdir(parents=True)
    (planted / "bad.py").write_text("from simmtm.experiments.records import RecordStore\n")
    found = imports(planted / "bad.py", "simmtm.utils.bad")
    assert layer_of("simmtm.experiments.records")[1] > layer_of("simmtm.utils.bad")[1]
    assert "simmtm.experiments.records" in found
