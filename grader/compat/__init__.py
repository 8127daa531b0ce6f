"""Every use of another library's private internals, one module per library.

Each module wraps what we rely on behind a name of ours, says why the public API does not do, and has a
contract test in ``tests/compat/`` that fails with a clear message when an upgrade changes it. Nothing else in
the grader touches a private name of jupyter_client, nbclient or transformers.
"""
