import subprocess
import sys
import textwrap

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
