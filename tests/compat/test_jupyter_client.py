"""Contract: what grader/compat/jupyter_client.py relies on in jupyter_client. A failure here means an upgrade
changed a private name we override or call: update that module (and only it), then this test."""

from __future__ import annotations

import inspect

import jupyter_client
from jupyter_client import client, manager
from jupyter_client.manager import AsyncKernelManager

from grader.compat.jupyter_client import OVERRIDDEN, HookedKernelManager

UPGRADE = f"jupyter_client {jupyter_client.__version__}: {{what}}; update grader/compat/jupyter_client.py"


def test_the_overridden_coroutines_exist_with_the_arguments_we_pass_on():
    for name, expected in OVERRIDDEN.items():
        method = getattr(AsyncKernelManager, name, None)
        assert inspect.iscoroutinefunction(method), UPGRADE.format(what=f"{name} is gone or no longer a coroutine")
        arguments = tuple(inspect.signature(method).parameters)
        assert arguments == expected, UPGRADE.format(what=f"{name}{arguments} instead of {expected}")


def test_jupyter_client_still_calls_them_where_the_hooks_expect():
    source = inspect.getsource(manager)
    for call in ("await self._async_pre_start_kernel(", "await self._async_launch_kernel(", "self._async_wait("):
        assert call in source, UPGRADE.format(what=f"the manager no longer calls {call}...)")


def test_interrupt_kernel_is_bound_once_per_class_so_the_hooked_manager_rebinds_it():
    assert AsyncKernelManager.interrupt_kernel is manager.KernelManager._async_interrupt_kernel, UPGRADE.format(
        what="AsyncKernelManager.interrupt_kernel is no longer the base class's _async_interrupt_kernel"
    )
    assert HookedKernelManager.interrupt_kernel is HookedKernelManager._async_interrupt_kernel


def test_the_kernel_info_bookkeeping_exists():
    handler = getattr(client.KernelClient, "_handle_kernel_info_reply", None)
    assert callable(handler), UPGRADE.format(what="KernelClient._handle_kernel_info_reply is gone")
    assert tuple(inspect.signature(handler).parameters) == ("self", "msg"), UPGRADE.format(
        what="KernelClient._handle_kernel_info_reply takes other arguments"
    )
