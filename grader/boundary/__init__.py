"""Everything that crosses the sandbox, as plain data (JSON + safetensors, never pickle).

``harness`` is the host side of a call, ``kernel_side`` the code that runs inside the kernel, ``wire`` the
encoding both speak, ``safeio`` how the host reads files a submission could control.
"""
