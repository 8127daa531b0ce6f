"""Grading one submission: run its notebook in a kernel, call each graded function, judge, score, report.

``notebook`` reads the file, ``execute`` runs its cells (surviving hangs and crashes), ``calls`` makes the
graded calls under a watchdog, ``grade`` judges and scores them, ``results`` and ``report`` are what comes out.
"""
