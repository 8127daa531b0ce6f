"""The course's own offline language model: where it lives, how it is built, how it is loaded.

Nothing is ever downloaded: the model is trained locally by reference.models.build (about half a
minute of one CPU core) the first time it is needed, and cached in a folder:

    $LLM_COURSE_CACHE                  if set
    <repo root>/.cache/models          when running from the repository checkout
    ~/.cache/llm-course/models         otherwise

The folder name carries a hash of the build code, so changing the recipe builds a new model
instead of reusing a stale one. A build goes to a temporary folder that is renamed into place, so
other processes never see a half-written model; a lock file makes parallel processes wait for one
build instead of all building.

    >>> model, tokenizer = load_course_lm()
    >>> path = course_lm_path()   # e.g. .cache/models/course-lm-3f2a9c1b7d4e
"""

import hashlib
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

DEFAULT_STEPS = 400  # training steps of the course model: part of its identity (see _recipe_hash)

__all__ = ["DEFAULT_STEPS", "build_course_lm", "build_once", "cache_dir", "course_lm_path", "load_course_lm"]

_HERE = Path(__file__).resolve().parent
_REPO_ROOT = _HERE.parents[1]
REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json")


def cache_dir() -> Path:
    """The folder that holds built models (not created here)."""
    if os.environ.get("LLM_COURSE_CACHE"):
        return Path(os.environ["LLM_COURSE_CACHE"]).expanduser()
    if (_REPO_ROOT / "pyproject.toml").is_file() and (_REPO_ROOT / "reference").is_dir():
        return _REPO_ROOT / ".cache" / "models"
    return Path.home() / ".cache" / "llm-course" / "models"


def _recipe_hash(steps: int) -> str:
    """A short hash of the build code and step count: the model's identity."""
    h = hashlib.sha256(str(steps).encode())
    for name in ("build.py", "corpus.py"):
        h.update((_HERE / name).read_bytes())
    return h.hexdigest()[:12]


@contextmanager
def _file_lock(path: Path):
    """An exclusive lock on path (POSIX); elsewhere no lock, and the atomic rename settles races."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def build_once(name: str, required: tuple[str, ...], build, force: bool = False) -> Path:
    """cache_dir()/name, built by ``build(tmp_folder)`` the first time (or always, with force).

    A lock makes parallel callers wait for one build; the build goes to a temporary folder that is
    renamed into place, so no process ever sees a half-written model.
    """
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    final = root / name

    def complete() -> bool:
        return all((final / f).is_file() for f in required)

    if complete() and not force:
        return final
    with _file_lock(root / ".build.lock"):
        if complete() and not force:  # another process built it while we waited
            return final
        tmp = Path(tempfile.mkdtemp(prefix=".building-", dir=root))
        try:
            build(tmp)
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def build_course_lm(out_dir: Path, steps: int = DEFAULT_STEPS) -> Path:
    """Train the course model and tokenizer into ``out_dir`` (see :mod:`reference.models.build`, which imports
    torch: finding an already built model does not)."""
    from reference.models import build

    return build.build_course_lm(out_dir, steps)


def course_lm_path(force: bool = False) -> Path:
    """The folder of the built course model, building it on first use (or always, with force)."""
    name = f"course-lm-{_recipe_hash(DEFAULT_STEPS)}"
    return build_once(name, REQUIRED_FILES, lambda tmp: build_course_lm(tmp, DEFAULT_STEPS), force)


def load_course_lm(path=None):
    """(model, tokenizer) from a local folder (default: the course model), model in eval mode.

    subtle: a name like "gpt2" would make transformers try the Hugging Face hub, which hangs for
    about 50 s without network before failing; only existing local folders are accepted.
    """
    path = course_lm_path() if path is None else Path(path)
    if not path.is_dir():
        raise ValueError(
            f"model path {str(path)!r} is not a local folder: models are never downloaded from "
            "the Hugging Face hub at run time. Pass a folder written by save_pretrained(), "
            "e.g. reference.models.course_lm_path()."
        )
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    return model.eval(), tokenizer
