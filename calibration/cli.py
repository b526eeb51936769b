"""Sub-commands of the ``calibration`` domain: ``traffic-monitor calibrate``."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from calibration.camera import CalibrationError
from calibration.inputs import PointPair, PointsInput, RoadInput, parse_point_line, read_input
from calibration.tool import read_frame, run_calibration, summary_lines

logger = logging.getLogger(__name__)

EXAMPLE = """\
input file (YAML or JSON), method 1:
  method: points
  points:
    - {image: [412, 633], world: [0.0, 0.0]}      # or latlon: [21.0285, 105.8542]
    - ...                                         # at least 4, spread over the road
method 2:
  method: road_geometry
  lane_lines: [[[x, y], [x, y]], [[x, y], [x, y]]]  # lane boundaries, left to right
  lane_width_m: 3.5                                 # or vn_expressway, vn_urban_local, ...
  dash_line: 0
  dash_points: [[x, y], [x, y], [x, y], [x, y]]     # dash start/end along line 0, nearest first
  dash: [3.0, 9.0]                                  # or vn_fast, vn_slow
"""


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add this domain's sub-commands to the ``traffic-monitor`` parser."""
    parser = subparsers.add_parser(
        "calibrate",
        help="calibrate a camera: image pixels to road-plane metres",
        description="Fit a camera calibration and write it with a verification image.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("frame", type=Path, help="image or video of the camera view")
    parser.add_argument("-o", "--output", type=Path, required=True, help="calibration .yaml/.json")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("-i", "--input", type=Path, help="points / road-geometry input file")
    source.add_argument(
        "--interactive",
        action="store_true",
        help="type correspondences 'x y X Y' (or 'll x y lat lon'), blank line to finish",
    )
    parser.add_argument("--verify", type=Path, help="write the verification image here (.png)")
    parser.add_argument("--frame-index", type=int, default=0, help="video frame to use")
    parser.add_argument("--camera-id", default="", help="camera id stored in the file")
    parser.set_defaults(handler=handle_calibrate)


def read_interactive() -> PointsInput:
    """Read correspondences from standard input until a blank line or end of input."""
    print("enter one point per line: 'x y X Y' (metres) or 'll x y lat lon'; blank line ends")
    pairs: list[PointPair] = []
    for line in sys.stdin:
        if not line.strip():
            break
        try:
            pairs.append(parse_point_line(line))
        except CalibrationError as exc:
            print(f"  ignored: {exc}")
    if not pairs:
        raise CalibrationError("no points entered")
    return PointsInput(method="points", points=pairs)


def handle_calibrate(args: argparse.Namespace) -> int:
    """Run ``traffic-monitor calibrate``."""
    frame = read_frame(args.frame, args.frame_index)
    spec: PointsInput | RoadInput = (
        read_interactive() if args.interactive else read_input(args.input)
    )
    outcome = run_calibration(spec, frame, args.output, args.verify, args.camera_id)
    for line in summary_lines(outcome):
        print(line)
    print(f"calibration written to {args.output}")
    if args.verify is not None:
        print(f"verification image written to {args.verify}")
    return 0
