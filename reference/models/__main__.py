"""Command line: build the course model.

    python -m reference.models build              # into the cache (see reference.models.cache_dir)
    python -m reference.models build --force      # rebuild even if it is cached
    python -m reference.models build --out DIR    # into DIR instead
    python -m reference.models build --real       # also the real models (reference.models.real), into
                                                  # the cache; needs scripts/setup-real-models.sh

Prints the model folder, then the build time, on separate lines (the folder is the first line). With
--real, the folders of SmolLM2-135M-Instruct, GPT-2's tokenizer and all-MiniLM-L6-v2 follow on stdout,
one a line, each with its time on stderr.
"""

import argparse
import shutil
import sys
import time
from pathlib import Path

from reference.models import DEFAULT_STEPS, build_course_lm, course_lm_path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reference.models", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build the course model (cached unless --out is given)")
    build.add_argument("--out", type=Path, help="build into this folder instead of the cache")
    build.add_argument("--force", action="store_true", help="rebuild even if the model is already there")
    build.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="training steps (only with --out)")
    build.add_argument("--real", action="store_true", help="also convert the real pretrained models into the cache")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    if args.out is None:
        if args.steps != DEFAULT_STEPS:
            parser.error("--steps needs --out: the cache only holds the default model")
        path = course_lm_path(force=args.force)
    elif (args.out / "model.safetensors").is_file() and not args.force:
        path = args.out
    else:
        if args.out.exists() and args.force:
            shutil.rmtree(args.out)
        path = build_course_lm(args.out, args.steps)
    print(path)
    print(f"build time: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    if args.real:
        build_real(args.force)
    return 0


def build_real(force: bool) -> None:
    """Convert (or find) each real model, printing its folder, size and time."""
    from reference.models import real

    for name, make in [
        ("smollm2", lambda: real.smollm2_path(force)),
        ("gpt2-tokenizer", lambda: real.gpt2_tokenizer_path(force)),
        ("minilm", real.minilm_path),
    ]:
        t0 = time.perf_counter()
        try:
            path = make()
        except ModuleNotFoundError as e:
            sys.exit(f"{name}: {e}")
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6
        print(path)
        print(f"{name}: {size:.1f} MB, {time.perf_counter() - t0:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
