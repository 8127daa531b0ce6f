"""Grading a class: intake of the submissions, the refusals, a pool of sandboxed kernels, the SQLite gradebook, the
class summary and the LMS exports. ``run`` is the loop (``pool`` the kernels); ``gradebook`` and
``gradebook_views`` hold every SQL statement; ``outfolder`` writes OUT's files."""
