"""Sub-commands of the ``calibration`` domain: ``traffic-monitor calibrate``."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

import cv2

from calibration.auto import read_tracks
from calibration.camera import CalibrationError
from calibration.inputs import PointPair, PointsInput, RoadInput, parse_point_line, read_input
from calibration.store import CalibrationFile, save_calibration
from calibration.tool import read_frame, run_calibration, summary_lines
from calibration.verify import Image, verification_image

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
method 3 (--tracks FILE): vehicle tracks of a few minutes of video
  tracks:
    - {anchors: [[x, y], ...], widths: [w, ...]}    # box bottom centres and widths per frame
  edges: [[x1, y1, x2, y2], ...]                    # near-vertical vehicle edges, or:
  focal_px: 720                                     # focal length from the datasheet
  mean_width_m: 1.8                                 # mean vehicle width (the scale)
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
    source.add_argument(
        "--tracks", type=Path, help="method 3: vehicle tracks file (YAML/JSON, see below)"
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
    if args.tracks is not None:
        return _calibrate_tracks(args, frame)
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


def _calibrate_tracks(args: argparse.Namespace, frame: Image) -> int:
    """Method 3: calibrate from a tracks file, write the file and the verification image."""
    spec = read_tracks(args.tracks)
    image_size = (int(frame.shape[1]), int(frame.shape[0]))
    result = spec.calibrate(image_size)
    model = result.model
    notes = (
        f"method 3 from {result.tracks_used} tracks, {result.edges_used} edges: "
        f"focal {result.focal_px:.0f} px{' (given)' if spec.focal_px else ''}, "
        f"pitch {result.pitch_deg:.1f} deg, yaw {result.yaw_deg:.1f} deg, "
        f"height {result.height_m:.2f} m (mean vehicle width {spec.mean_width_m} m)"
    )
    calibration = CalibrationFile(
        camera_id=args.camera_id,
        method="auto_tracks",
        image_size=image_size,
        homography=model.homography.tolist(),
        road_point=model.road_point,
        notes=notes,
    )
    save_calibration(calibration, args.output)
    print(notes)
    print(f"calibration written to {args.output}")
    if args.verify is not None:
        args.verify.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(args.verify), verification_image(frame, model)):
            raise CalibrationError(f"cannot write verification image {args.verify}")
        print(f"verification image written to {args.verify}")
    return 0
