"""A student's self-check on the public tests: ``grader check`` and ``check()`` in a notebook.

``check`` is the check itself; ``client`` and ``server`` keep it warm in a per-user background server
(the client imports only the standard library); ``warm`` is what the server keeps between checks.
"""
