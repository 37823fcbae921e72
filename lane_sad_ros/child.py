"""Starting the node as a child process that never outlives the command that started it.

``lane-sad replay`` and ``make demo`` run the node as its own process. When the parent is
killed outright (SIGKILL, the OOM killer) no ``finally`` stops that child, and an orphaned
node would go on holding its topics, its CPU and a camera's frames. On Linux the child asks
the kernel for SIGTERM when its parent dies (``prctl(PR_SET_PDEATHSIG)``, kept across the
``exec`` of the interpreter), and its SIGTERM handler shuts the node down cleanly. The child
also gets its own process group, so a Ctrl-C in the terminal reaches only the parent, which
stops the node after the output it is writing is closed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import IO, Any

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _death_signal_setter() -> Callable[[], None] | None:
    """A function for the child, between fork and exec, that asks for SIGTERM when the parent dies.

    Resolved in the parent, so the child only makes the call (nothing is imported or
    allocated there). None where there is no ``prctl`` (not Linux).
    """
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    prctl = libc.prctl
    parent = os.getpid()

    def set_death_signal() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the call: nobody will signal
            os._exit(1)

    return set_death_signal


def start_child(
    cmd: Sequence[str], env: Mapping[str, str], stdout: IO[Any] | int | None = None
) -> subprocess.Popen[bytes]:
    """Start ``cmd`` in its own process group, terminated when this process dies.

    Args:
        cmd: the command line.
        env: its whole environment.
        stdout: where its output (stdout and stderr) goes; None: this process's.
    """
    return subprocess.Popen(
        list(cmd),
        env=dict(env),
        stdout=stdout,
        stderr=subprocess.STDOUT if stdout is not None else None,
        process_group=0,
        preexec_fn=_death_signal_setter(),
    )
