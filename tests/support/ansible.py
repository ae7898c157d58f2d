"""Run an Ansible playbook of the CloudStack collection against a live server.

``pip install ansible`` bundles ``ngine_io.cloudstack``; its modules sign requests with
``cs``, so a playbook exercises the same wire format an operator's does. Playbooks run
on ``localhost`` with this interpreter (``cs`` is installed in it) and report through
the JSON stdout callback, whose stats say what each run changed and failed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["PlaybookRun", "run_playbook"]


@dataclass(frozen=True)
class PlaybookRun:
    """One run's outcome: its stats for localhost and every task's result."""

    returncode: int
    stats: dict[str, int]
    tasks: list[tuple[str, dict[str, Any]]]
    output: str

    @property
    def changed_tasks(self) -> list[str]:
        return [name for name, result in self.tasks if result.get("changed")]

    def failures(self) -> list[str]:
        """What failed, each task with the module's message: what an assertion shows."""
        return [
            f"{name}: {result.get('msg') or result} {result.get('assertion') or ''}".strip()
            for name, result in self.tasks
            if result.get("failed")
        ]

    def problems(self) -> list[str]:
        """Why the run is not green: failed tasks, or what ansible-playbook printed."""
        if self.returncode == 0:
            return self.failures()
        return self.failures() or [self.output or f"exit code {self.returncode}"]


def _environment(endpoint: str, key: str, secret: str, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "CLOUDSTACK_"))}
    env.update(
        {
            "CLOUDSTACK_ENDPOINT": endpoint,
            "CLOUDSTACK_KEY": key,
            "CLOUDSTACK_SECRET": secret,
            # Simulated jobs finish in seconds, but two cores running the suite are slow.
            "CLOUDSTACK_TIMEOUT": "60",
            "ANSIBLE_HOME": str(home),
            "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
            "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
            "ANSIBLE_LOCALHOST_WARNING": "0",
        }
    )
    return env


def run_playbook(
    playbook: Path,
    *,
    endpoint: str,
    key: str,
    secret: str,
    home: Path,
    extra_vars: dict[str, Any] | None = None,
) -> PlaybookRun:
    """Run ``playbook`` once on localhost and parse what the JSON callback reports."""
    ansible_playbook = Path(sys.executable).parent / "ansible-playbook"
    home.mkdir(parents=True, exist_ok=True)
    completed = subprocess.run(
        [
            str(ansible_playbook),
            "-i",
            "localhost,",
            "-c",
            "local",
            "--extra-vars",
            json.dumps(extra_vars or {}),
            str(playbook),
        ],
        capture_output=True,
        text=True,
        env=_environment(endpoint, key, secret, home),
        timeout=900,
        check=False,
    )
    try:
        report = json.loads(completed.stdout)
    except json.JSONDecodeError as error:
        raise AssertionError(
            f"ansible-playbook printed no JSON report ({error}):\n"
            f"{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
        ) from None
    tasks = [
        (task["task"]["name"], task["hosts"]["localhost"])
        for play in report["plays"]
        for task in play["tasks"]
        if "localhost" in task["hosts"]
    ]
    return PlaybookRun(
        returncode=completed.returncode,
        stats=report["stats"].get("localhost", {}),
        tasks=tasks,
        output=completed.stderr,
    )
