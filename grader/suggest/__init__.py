"""Suggestions from a model (optional, off by default): rubric items pre-filled for a TA to confirm.

``grader suggest OUT --endpoint URL --model NAME`` asks an OpenAI-compatible server the instructor runs (vLLM,
llama.cpp's ``llama-server``, Ollama) which rubric items each unreviewed answer earns, and stores the answer in
the gradebook's ``suggestions`` table (:mod:`grader.batch.suggestions`); ``--local PATH`` uses a causal LM folder
on this machine instead (e.g. SmolLM2-135M-Instruct of the ``real-models`` extra). Nothing is suggested unless
the command is run, and answers go only to the endpoint given, which must be on this machine (loopback) unless
``--allow-remote`` says otherwise. A suggestion is never a grade: the review page shows it marked as such,
and only a TA's save turns it into a review.

``suggester`` holds the model clients and the prompt; ``run`` goes through a gradebook's answers.
"""
