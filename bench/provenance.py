"""The line a benchmark prints above its table: the commit measured, the date and the machine."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from pathlib import Path


def processor() -> str:
    """The CPU's model name where Linux tells it (the host behind a machine of the same size can change), its
    cores this process may use, and the architecture."""
    cpuinfo = Path("/proc/cpuinfo")
    names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
             if line.startswith("model name")] if cpuinfo.is_file() else []
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return ", ".join(filter(None, [names[0] if names else "", f"{cores} cores", platform.machine()]))


def provenance(what: str) -> str:
    """`commit <short hash>; <date>; <processor>; <what>`, for the head of a printed table."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    return f"commit {commit or '?'}; {datetime.date.today()}; {processor()}; {what}"
