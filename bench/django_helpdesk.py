"""django-helpdesk's own per-message ingest function on a corpus, in a venv of its own.

The venv is created once (default: $TMPDIR/helpdesk-bench-django-venv) with django-helpdesk
2.6.1, or the newest version PyPI offers when that one cannot be installed. Where that is
impossible (no network, no wheel for this Python), ``measure`` returns the reason instead.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import venv
from dataclasses import dataclass
from pathlib import Path

from bench.e2e_harness import BENCH, Mail

WANTED = "django-helpdesk==2.6.1"
DEFAULT_VENV = Path(tempfile.gettempdir()) / "helpdesk-bench-django-venv"


@dataclass(frozen=True, slots=True)
class DjangoResult:
    rate: float | None  # mails/s, None when skipped
    detail: str  # version and counts, or why it was skipped


def _pip(target: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(target / "bin" / "python"), "-m", "pip", "-q", *args], capture_output=True,
                          text=True, timeout=900)


def ensure_venv(target: Path = DEFAULT_VENV) -> tuple[Path | None, str]:
    """The venv's interpreter and the installed version, or None and why."""
    python = target / "bin" / "python"
    if not python.exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(target)
    version = _installed(python)
    if version is None:
        result = _pip(target, "install", WANTED)
        if result.returncode != 0:
            result = _pip(target, "install", "django-helpdesk")
        if result.returncode != 0:
            return None, f"pip could not install django-helpdesk: {result.stderr.strip().splitlines()[-1:]}"
        version = _installed(python)
    return (python, version) if version else (None, "django-helpdesk did not import after installing")


def _installed(python: Path) -> str | None:
    probe = subprocess.run([str(python), "-c", "import importlib.metadata as m; print(m.version('django-helpdesk'))"],
                           capture_output=True, text=True)
    return probe.stdout.strip() if probe.returncode == 0 else None


def measure(mails: list[Mail], venv_dir: Path = DEFAULT_VENV) -> DjangoResult:
    try:
        python, version = ensure_venv(venv_dir)
    except (OSError, subprocess.SubprocessError) as exc:
        return DjangoResult(None, f"skipped: cannot build its venv ({exc})")
    if python is None:
        return DjangoResult(None, f"skipped: {version}")
    with tempfile.TemporaryDirectory(prefix="django-helpdesk-bench-") as tmp:
        maildir = Path(tmp) / "mail"
        maildir.mkdir()
        for i, mail in enumerate(mails):
            (maildir / f"{i:07d}.eml").write_bytes(mail.raw)
        run = subprocess.run([str(python), str(BENCH / "django_runner.py"), tmp, str(maildir)],
                             capture_output=True, text=True, timeout=3600)
    if run.returncode != 0:
        return DjangoResult(None, f"skipped: its run failed: {run.stderr.strip()[-500:]}")
    out = json.loads(run.stdout.strip().splitlines()[-1])
    rate = out["mails"] / out["seconds"] if out["seconds"] else None
    return DjangoResult(rate, f"django-helpdesk {version}, SQLite: {out['tickets']} tickets, "
                              f"{out['followups']} follow-ups, {out['sent']} mails handed to Django's mail API "
                              f"(in memory), {out['errors']} errors")
