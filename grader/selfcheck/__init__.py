"""A student's self-check on the public tests: ``grader check`` and ``check()`` in a notebook.

``check`` is the check itself (and the reply it makes); ``notebook`` is ``check()`` inside a notebook (and
``public_inputs``); ``terminal`` and ``progress`` are what ``grader check`` prints, ``preflight`` refuses a path
that is not a notebook; ``client`` and ``server`` keep it warm in a per-user background server (the client,
``protocol``, ``progress`` and ``preflight`` import only the standard library); ``warm`` is what the server
keeps between checks.
"""
