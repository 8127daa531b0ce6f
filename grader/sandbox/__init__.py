"""Starting the kernel a submission runs in, isolated from the machine.

``launcher`` is the protocol every way of starting a kernel implements (and the plain local kernel);
``isolation`` picks one for this machine; ``bubblewrap`` is the sandbox (with ``filesystem``, ``cgroups``,
``uids``); ``zygote`` forks sandboxed kernels from a process that imported torch once.
Nothing here is imported at package import: the zygote process imports only what it needs.
"""
