"""Grading a class: intake of the submissions, a pool of sandboxed kernels, the SQLite gradebook, the class
summary and the LMS exports. ``run`` is the loop; ``gradebook`` holds every SQL statement."""
