"""The line a benchmark prints above its table: the commit measured, the date and the machine."""

from __future__ import annotations

import datetime
import platform
import subprocess


def provenance(what: str) -> str:
    """`commit <short hash>; <date>; <processor>; <what>`, for the head of a printed table."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    return f"commit {commit or '?'}; {datetime.date.today()}; {platform.processor() or platform.machine()}; {what}"
