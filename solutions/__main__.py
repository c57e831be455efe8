"""`python -m solutions`: run the three reference pipelines end to end and print what they did."""

import argparse
import sys

from course.data import DATASETS, DatasetError
from course.pipeline import HYPERPARAMETERS
from graders.check.kernel.quiet import import_tensorflow
from solutions.pipeline import FRAMEWORKS, load_framework, run


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m solutions", description=__doc__)
    parser.add_argument("--dataset", choices=DATASETS, default="digits")
    parser.add_argument("--frameworks", nargs="+", choices=list(FRAMEWORKS), default=list(FRAMEWORKS))
    args = parser.parse_args(argv)

    if any(framework.startswith("tf") for framework in args.frameworks):
        import_tensorflow()  # before the reference modules do: without TensorFlow's start-up lines
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
