"""What of TensorFlow reaches the user's terminal: its C++ log lines kept off it where they carry nothing for
the user, and its errors' words without the function and op names it wraps them in."""

from __future__ import annotations

import contextlib
import os
import re
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


def tensorflow_words(message: str) -> str:
    """The first line of an error's message without what TensorFlow wraps around the words: its function's
    name ({{function_node ...}}) and the op ([[...]], [Op:...]).

    Example:
        >>> tensorflow_words("{{function_node __wrapped__X}} corrupted record at 12 [Op:IteratorGetNext]\\nmore")
        'corrupted record at 12'
    """
    line = message.strip().splitlines()[0] if message.strip() else ""
    return re.split(r" \[\[| \[Op:", re.sub(r"\{\{[^}]*\}\}", "", line))[0].strip()
