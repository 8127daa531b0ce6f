"""Command line: build the course model.

    python -m reference.models build              # into the cache (see reference.models.cache_dir)
    python -m reference.models build --force      # rebuild even if it is cached
    python -m reference.models build --out DIR    # into DIR instead

Prints the model folder, then the build time, on separate lines (the folder is the first line).
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
