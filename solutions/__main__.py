"""`python -m solutions`: run the three reference pipelines end to end and print what they did."""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out of the demo

from course.data import DATASETS, DatasetError  # noqa: E402
from course.pipeline import HYPERPARAMETERS  # noqa: E402
from solutions.pipeline import FRAMEWORKS, load_framework, run  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m solutions", description=__doc__)
    parser.add_argument("--dataset", choices=DATASETS, default="digits")
    parser.add_argument("--frameworks", nargs="+", choices=list(FRAMEWORKS), default=list(FRAMEWORKS))
    args = parser.parse_args(argv)

    hp = HYPERPARAMETERS[args.dataset]
    print(f"dataset {args.dataset}; {hp}")
    for framework in args.frameworks:
        try:
            raw = load_framework(framework).download(args.dataset)  # step 1
        except DatasetError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        print(run(framework, raw, hp).summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
