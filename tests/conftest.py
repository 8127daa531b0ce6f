"""Suite-wide settings: never touch the Hugging Face hub; quiet progress bars; no warm check server.

``grader check`` would otherwise start a per-user background server (grader/selfcheck/server.py) that outlives
the test; tests/grader/test_check_server.py turns it on for its own processes, in private folders.
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ["LLM_GRADER_NO_SERVER"] = "1"
