"""jupyter_client internals the sandbox relies on: kernel-manager hooks, and the kernel_info bookkeeping.

:class:`HookedKernelManager` is an ``AsyncKernelManager`` whose private steps call public hooks of ours, so
that the sandbox's kernel managers (:mod:`grader.sandbox.bubblewrap`, :mod:`grader.sandbox.zygote.launcher`)
override only those hooks. jupyter_client 8 has no public way to choose a provisioner per manager instance, to
set the launch environment after the caller's, to signal a process group other than the kernel's own, or to
wait for an exit without polling. Contract: ``tests/compat/test_jupyter_client.py``.
"""

from __future__ import annotations

from jupyter_client.manager import AsyncKernelManager

# The private coroutines overridden below, with the arguments they are called with (checked by the contract test).
OVERRIDDEN = {
    "_async_pre_start_kernel": ("self", "transport_encryption", "kw"),
    "_async_launch_kernel": ("self", "kernel_cmd", "kw"),
    "_async_interrupt_kernel": ("self",),
    "_async_wait": ("self", "pollinterval"),
}


class HookedKernelManager(AsyncKernelManager):
    """An ``AsyncKernelManager`` with four hooks; each default keeps jupyter_client's own behaviour."""

    def make_provisioner(self):
        """A provisioner for this manager's next kernel, or None for the kernel spec's own (``LocalProvisioner``)."""
        return None

    def launch_env(self, env: dict | None) -> dict | None:
        """The environment of the launched process, given the one the caller passed to ``start_kernel``."""
        return env

    async def interrupt_sandboxed(self) -> bool:
        """Interrupt the kernel our own way; True if done, False to let jupyter_client signal it."""
        return False

    async def before_wait(self) -> None:
        """Awaited before jupyter_client polls for the kernel's exit (every 0.1 s): return when it has exited."""

    async def _async_pre_start_kernel(self, **kw):
        if self.provisioner is None:
            provisioner = self.make_provisioner()
            if provisioner is not None:
                self.provisioner = provisioner
        return await super()._async_pre_start_kernel(**kw)

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
        kw["env"] = self.launch_env(kw.get("env"))
        await super()._async_launch_kernel(kernel_cmd, **kw)

    async def _async_interrupt_kernel(self) -> None:
        if not await self.interrupt_sandboxed():
            await super()._async_interrupt_kernel()

    interrupt_kernel = _async_interrupt_kernel  # the public name is bound to the private one at class creation

    async def _async_wait(self, pollinterval: float = 0.1) -> None:
        await self.before_wait()
        await super()._async_wait(pollinterval)


def note_kernel_info(client, reply: dict) -> None:
    """Record a ``kernel_info_reply`` in ``client`` as jupyter_client's own ``wait_for_ready`` does (protocol
    version, adaptations), for a caller that awaited the reply itself to skip ``wait_for_ready``'s idle time."""
    client._handle_kernel_info_reply(reply)
