import subprocess
import sys

import tfpose3d
from tfpose3d.cli import main


def test_version_and_help():
    out = subprocess.run([sys.executable, "-m", "tfpose3d.cli", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == f"tfpose3d {tfpose3d.__version__}"
    out = subprocess.run([sys.executable, "-m", "tfpose3d.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "model" in out.stdout


def test_model_summary_prints_parameter_count(capsys):
    assert main(["model", "summary", "--preset", "cpu-quick", "--variant", "baseline"]) == 0
    config = tfpose3d.model_preset("cpu-quick", variant="baseline")
    count = tfpose3d.build_model(config).count_params()
    assert f"cpu-quick / baseline: {count:,} parameters" in capsys.readouterr().out
