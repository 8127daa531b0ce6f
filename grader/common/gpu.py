"""The environment variables that choose which GPUs a process sees: part of a ground truth's key
(:mod:`grader.assignment.gtkey`) and, for an assignment that needs a GPU, passed to its sandboxed kernels
(:class:`grader.sandbox.bubblewrap.BubblewrapLauncher`)."""

GPU_VARIABLES = ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "HIP_VISIBLE_DEVICES")
