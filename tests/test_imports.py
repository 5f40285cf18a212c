import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import tfpose3d

# A machine with a GPU and another Keras backend but no TensorFlow (the lent device machines, where
# bench/gpu_keras.py runs): what must import there.
WITHOUT_TENSORFLOW = textwrap.dedent("""
    import importlib.abc, sys

    class NoTensorFlow(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name.split(".")[0] == "tensorflow":
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    sys.meta_path.insert(0, NoTensorFlow())
    from tfpose3d import presets
    from tfpose3d.data import mocap, render
    from tfpose3d.data.photos import PhotoSet

    config = presets.train_preset("paper", {"variant": "baseline"}, mixed_precision=True)
    poses = mocap.load_motion("bandai-namco").select("test")
    sample = render.render_indices(poses, 0, range(1), size=64)[0]
    print(config.model.variant, config.mixed_precision, sample["joints_2d"].shape, "tensorflow" in sys.modules)
""")


def test_presets_configs_and_the_renderer_need_no_tensorflow():
    out = subprocess.run([sys.executable, "-c", WITHOUT_TENSORFLOW], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["baseline", "True", "(17,", "2)", "False"]


# The package's layers, lowest first (docs/architecture.md): a module imports only from its own layer or below.
LAYERS = [
    {"skeleton", "contract", "metrics", "preprocessing", "version", "terminal", "viz", "paths"},
    {"data"},
    {"config", "presets", "backbone", "blazepose", "layers", "losses", "estimator", "distribute"},
    {"parts", "detect", "video", "smooth"},
    {"callbacks", "frozen_trunk", "bone_stage", "train", "evaluate", "ablate", "table2", "export", "predict", "serving"},
    {"cli", "__init__"},
]


def layer_of(module: str) -> int:
    """The layer of `module` ("tfpose3d.data.render", "tfpose3d.cli", ...)."""
    first = module.split(".")[1] if module.count(".") else "__init__"
    return next(k for k, names in enumerate(LAYERS) if first in names)


def imports(path: Path) -> set[str]:
    """The tfpose3d modules `path` imports, at any depth of its code (`from tfpose3d import x` names x)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "tfpose3d":
            found |= ({f"{node.module}.{a.name}" for a in node.names} if node.module in ("tfpose3d", "tfpose3d.data")
                      else {node.module})
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "tfpose3d"}
    return found


def test_modules_import_only_their_own_layer_or_below():
    package = Path(tfpose3d.__file__).parent
    upward = []
    for path in sorted(package.rglob("*.py")):
        module = ".".join(("tfpose3d", *path.relative_to(package).with_suffix("").parts))
        upward += [f"{module} imports {name}" for name in sorted(imports(path)) if layer_of(name) > layer_of(module)]
    assert not upward, upward
    # The check reads what it should: the data layer's own imports are found.
    assert "tfpose3d.data.render" in imports(package / "data" / "pipeline.py")
