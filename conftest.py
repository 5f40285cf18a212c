"""Names every docstring example may use without importing them (pytest's doctest namespace)."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import matplotlib.cbook  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import tfpose3d  # noqa: E402


@pytest.fixture(autouse=True)
def _doctest_names(doctest_namespace):
    doctest_namespace.update(np=np, keras=keras, matplotlib=matplotlib, tfpose3d=tfpose3d,
                             ModelConfig=tfpose3d.ModelConfig, build_model=tfpose3d.build_model)
