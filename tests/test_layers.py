"""The package's layers point one way (docs/DESIGN's layer list): every import, at the top of a
module or inside a function, goes to the same layer or one before it; no module imports itself back
through others; method families share code through ``methods/base``, ``common`` and
``head_passes``, never through each other's modules."""
import ast
import shutil
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "infoclust"

# each entry imports only from its own layer and the ones before it
LAYERS = [
    {"errors"},
    {"rng", "distributed", "config", "checkpoint_file", "evaluation", "collapse", "machine", "graphs", "cpus",
     "cluster_count"},
    {"data"},
    {"losses"},
    {"views", "adversarial", "models", "neighbours", "encoders"},
    {"methods"},
    {"prediction", "runs", "progress"},
    {"engine"},
    {"api", "estimators", "cli", "launcher", "grid", "probes", "report", "embedder", "__init__", "__main__"},
]
SHARED_IN_METHODS = {"__init__", "base", "common", "head_passes"}  # what any method module may import


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, root: Path) -> set[str]:
    """Modules of the package that ``path`` imports anywhere in its code (dotted names)."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    modules = {module_name(p, root) for p in root.rglob("*.py")}
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names if alias.name.split(".")[0] == root.name}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            elif (node.module or "").split(".")[0] == root.name:
                target = node.module
            else:
                continue
            for alias in node.names:  # ``from . import views`` imports the module views
                sub = f"{target}.{alias.name}"
                out.add(sub if sub in modules else target)
    return out - {name}


def layer_of(module: str) -> int:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    return next(i for i, names in enumerate(LAYERS) if top in names)


def family(module: str) -> str:
    return module.split(".")[-1].removesuffix("_config")


def import_problems(root: Path) -> list[str]:
    """Every upward import, every import between method families, and every cycle, in words."""
    graph = {module_name(p, root): imports_of(p, root) for p in root.rglob("*.py")}
    problems = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            if layer_of(target) > layer_of(module):
                problems.append(f"upward import: {module} imports {target}")
            inside = [m.split(".") for m in (module, target)]
            if all(len(p) == 3 and p[1] == "methods" for p in inside) and family(target) != family(module) \
                    and inside[1][2] not in SHARED_IN_METHODS and inside[0][2] != "__init__":
                problems.append(f"methods share through base/common, not each other: {module} imports {target}")
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                cycle = path[path.index(target):] + [target]
                problems.append("import cycle: " + " -> ".join(cycle))
            elif target not in state:
                visit(target, path + [target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return problems


def test_every_module_is_in_a_layer():
    for path in SRC.rglob("*.py"):
        layer_of(module_name(path, SRC))  # StopIteration names a module missing from LAYERS


def test_the_package_imports_point_one_way():
    assert import_problems(SRC) == []


def test_a_planted_cycle_and_upward_import_are_caught(tmp_path):
    copy = tmp_path / "infoclust"
    shutil.copytree(SRC, copy, ignore=shutil.ignore_patterns("__pycache__"))
    config = copy / "config.py"
    # inside a function, where a cycle hides best
    config.write_text(config.read_text() + "\n\ndef _planted():\n    from .engine import Trainer\n    return Trainer\n")
    problems = import_problems(copy)
    assert "upward import: infoclust.config imports infoclust.engine" in problems
    assert any(p.startswith("import cycle:") and "infoclust.config" in p and "infoclust.engine" in p for p in problems)


def test_a_method_importing_another_family_is_caught(tmp_path):
    copy = tmp_path / "infoclust"
    shutil.copytree(SRC, copy, ignore=shutil.ignore_patterns("__pycache__"))
    seg = copy / "methods" / "segmentation_config.py"
    seg.write_text(seg.read_text() + "\nfrom .info_config import PRESETS  # noqa\n")
    assert import_problems(copy) == ["methods share through base/common, not each other: "
                                     "infoclust.methods.segmentation_config imports infoclust.methods.info_config"]
