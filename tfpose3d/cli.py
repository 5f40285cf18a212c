"""The `tfpose3d` command line."""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

import tfpose3d
from tfpose3d.config import MODEL_PRESETS, VARIANTS

# Each subcommand module adds its parser here; kept as (name, adder) pairs so
# that `tfpose3d --help` lists them in a stable order.
Adder = Callable[[argparse._SubParsersAction], None]


def _add_model(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("model", help="inspect the network")
    msub = p.add_subparsers(dest="model_command", required=True)
    s = msub.add_parser("summary", help="print the layer table and parameter count")
    s.add_argument("--preset", choices=sorted(MODEL_PRESETS), default="paper")
    s.add_argument("--variant", choices=VARIANTS, default=None, help="default: the preset's (full)")
    s.set_defaults(func=_model_summary)


def _model_summary(args: argparse.Namespace) -> int:
    overrides = {"variant": args.variant} if args.variant else {}
    config = tfpose3d.model_preset(args.preset, **overrides)
    model = tfpose3d.build_model(config)
    model.summary(line_length=110)
    print(f"{args.preset} / {config.variant}: {model.count_params():,} parameters")
    return 0


def build_parser(adders: Sequence[Adder] = (_add_model,)) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tfpose3d",
        description="3D human pose from one image (Park, Hwang & Kwak 2016), Keras 3 / TensorFlow.",
    )
    parser.add_argument("--version", action="version", version=f"tfpose3d {tfpose3d.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in adders:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError) as err:
        print(f"tfpose3d: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
