"""How long the grader waits for its own parts, in one place, each with what it is for (like nbclient's
traitlets with ``help=``).

What a *submission* may use (time per cell and per call, memory, processes...) is set per assignment in
:class:`grader.assignment.spec.Limits`. These are the grader's machinery: kernels starting and answering, the
zygote, the check server. :data:`TIMEOUTS` holds the defaults every module reads at call time, so a test can
swap it (``monkeypatch.setattr(module, "TIMEOUTS", dataclasses.replace(TIMEOUTS, ...))``).

A dataclass, not a pydantic model: the check client and the zygote import it, and pydantic costs them 0.2 s.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields


def _setting(default: float, help: str):
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Timeouts:
    """Seconds (``_s``) or milliseconds (``_ms``) the grader waits for its own processes."""

    # kernels (grader/grading/execute.py, grader/grading/calls.py, grader/grading/grade.py)
    kernel_start_s: float = _setting(60.0, "A new kernel has this long to start and answer kernel_info.")
    kernel_info_poll_s: float = _setting(1.0, "How long each kernel_info request waits for its reply.")
    iopub_connect_s: float = _setting(0.2, "How long to wait for iopub to deliver, once kernel_info was answered.")
    kernel_reconnect_ms: int = _setting(
        10, "How often the client retries connecting to a kernel that is not listening yet (ZMQ's default: 100)."
    )
    iopub_after_reply_s: float = _setting(2.0, "After a cell's reply, how long its last outputs may take to arrive.")
    interrupt_grace_s: float = _setting(
        5.0, "After an interrupt, how long running code has to stop before its kernel is killed and restarted."
    )
    harness_install_s: float = _setting(60.0, "Defining the grading harness in a submission's kernel.")
    call_poll_s: float = _setting(0.05, "How often the call watchdog looks for the result files of a request.")
    # the sandbox and the zygote (grader/sandbox/)
    zygote_start_s: float = _setting(120.0, "The zygote imports torch and transformers (a busy 2-core machine).")
    zygote_kernel_ready_s: float = _setting(30.0, "From the zygote's fork to the kernel about to start IPKernelApp.")
    zygote_spawn_s: float = _setting(40.0, "A spawn request to the zygote, answered (kernel ready + 10 s).")
    zygote_template_exit_s: float = _setting(10.0, "The bubblewrap process that built the template namespace exits.")
    userns_probe_s: float = _setting(10.0, "Probing whether an unprivileged bwrap can start (grader doctor).")
    slot_sweep_s: float = _setting(5.0, "Killing what is left of a slot's processes, and removing its cgroup.")
    sweep_poll_s: float = _setting(0.02, "How often a sweep looks again whether the slot's processes are gone.")
    # the check server (grader/selfcheck/)
    check_server_start_s: float = _setting(15.0, "A freshly started check server accepts connections.")
    check_connect_poll_s: float = _setting(0.01, "How often a client tries to connect to a starting server.")
    check_reply_s: float = _setting(3600.0, "A check's reply (the check's own limits end it long before).")
    check_wait_note_s: float = _setting(1.0, "A check the server has not begun after this long says it waits.")
    check_request_s: float = _setting(10.0, "A connected client sends its request, or receives its reply.")
    check_server_idle_s: float = _setting(900.0, "A server exits after this long without a request.")
    check_server_lock_s: float = _setting(10.0, "A new server waits this long for a stale one to let go of the lock.")
    check_server_tick_s: float = _setting(30.0, "How often an idle server checks whether its code or socket changed.")
    check_server_stop_s: float = _setting(10.0, "How long ``stop()`` waits for the server to exit.")


TIMEOUTS = Timeouts()


def describe(timeouts: Timeouts = TIMEOUTS) -> list[tuple[str, float, str]]:
    """(name, value, help) of every setting, in declaration order."""
    return [(f.name, getattr(timeouts, f.name), f.metadata["help"]) for f in fields(timeouts)]
