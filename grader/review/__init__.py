"""The review page: TAs grade written answers in a browser (``grader review OUT``).

``serve`` starts it, ``app`` routes it, ``auth`` guards it with the printed token, ``api`` reads and writes the
gradebook's review tables (:mod:`grader.batch.reviews`), ``payloads`` checks what the page sends, ``render`` and
``mathml`` turn untrusted answers into safe HTML. The page itself is ``templates/review/``.
"""
