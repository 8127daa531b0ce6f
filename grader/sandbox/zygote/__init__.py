"""Fast kernel start: sandboxed kernels forked from a zygote process that imported torch once.

``launcher`` (in the grader) asks ``server`` (the zygote process, ``python -m grader.sandbox.zygote.server``)
for kernels; ``warmup`` loads the model assets once before the zygote serves.
"""
