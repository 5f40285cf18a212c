"""Keeping TensorFlow's C++ log lines off the user's terminal where they carry nothing for the user."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Iterator


def tensorflow_logs_wanted() -> bool:
    """TF_CPP_MIN_LOG_LEVEL=0 asks for every TensorFlow log line, as TensorFlow itself reads it."""
    return os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "0"


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null while the block runs (C++ writes there directly), unless logs are wanted.

    Python exceptions raised inside still reach the user: they are printed after the block, by the caller.
    """
    if tensorflow_logs_wanted():
        yield
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
