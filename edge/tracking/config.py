"""Tracker configuration (part of a camera's scene config)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_CLASS_GROUPS = [["person", "bicycle", "motorcycle"], ["car", "bus", "truck"]]


class TrackerConfig(BaseModel):
    """Parameters of the ByteTrack-style tracker; each says what it trades away."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["bytetrack"] = Field(
        default="bytetrack",
        description=(
            "Which tracker runs (edge/tracking/factory.py). bytetrack: two-pass ByteTrack "
            "with buffered IoU, class-group gates and motion recovery; the other fields "
            "are its settings."
        ),
    )
    high_threshold: float = Field(
        default=0.4,
        ge=0.0,
        le=1.0,
        description=(
            "Detections at or above this score are matched first and may start tracks. Higher "
            "means fewer false tracks and more breaks on faint objects."
        ),
    )
    low_threshold: float = Field(
        default=0.1,
        ge=0.0,
        le=1.0,
        description=(
            "Detections between this and high_threshold only extend existing tracks (the "
            "ByteTrack second pass that bridges partial occlusion). Set the detector's "
            "confidence at or below it to benefit."
        ),
    )
    new_track_threshold: float = Field(
        default=0.45,
        ge=0.0,
        le=1.0,
        description="Minimum score to start a new track. Higher suppresses flicker tracks.",
    )
    line_new_track_threshold: float = Field(
        default=0.1,
        ge=0.0,
        le=1.0,
        description=(
            "Near a counting line (line_margin) a detection this strong may start a track, "
            "and a young track there may go on with such detections: a road user found only "
            "faintly before the line still gets a track that sees it cross. Lower catches "
            "more faint road users near the lines, at the risk of ghost tracks there."
        ),
    )
    line_new_track_classes: list[str] = Field(
        default_factory=lambda: ["motorcycle", "bicycle", "person"],
        description=(
            "Classes whose weak detections may start tracks near a line: the small road "
            "users the detector finds faintly (a rider without their bike is a person). "
            "Large vehicles are rarely faint; their weak boxes near a line are mostly a "
            "part of a vehicle already tracked (measured: two spurious crossings on the "
            "intersection clip at 960 with cars included, none gained anywhere)."
        ),
    )
    line_margin: float = Field(
        default=1.5,
        ge=0.0,
        le=10.0,
        description=(
            "How close to a counting line, in box heights (anchor to segment), the weaker "
            "line_new_track_threshold applies. 0: nowhere."
        ),
    )
    match_iou: float = Field(
        default=0.2,
        gt=0.0,
        le=1.0,
        description=(
            "Minimum buffered IoU between a predicted track box and a detection to match. "
            "Lower follows fast objects across skipped frames, at the risk of id swaps."
        ),
    )
    low_match_iou: float = Field(
        default=0.4,
        gt=0.0,
        le=1.0,
        description="Minimum buffered IoU for low-score detections (second pass); stricter.",
    )
    buffer: float = Field(
        default=0.3,
        ge=0.0,
        le=2.0,
        description=(
            "Boxes are enlarged by this fraction of their size before IoU (buffered IoU, "
            "C-BIoU), so small fast objects still overlap their prediction. Larger tolerates "
            "more motion per step and more camera jitter; too large confuses neighbours."
        ),
    )
    lost_buffer: float = Field(
        default=1.0,
        ge=0.0,
        le=5.0,
        description=(
            "Buffer for re-finding a lost track (a second cascade after the normal match). "
            "Larger bridges longer detection gaps of moving objects; too large hands a lost "
            "id to a neighbour."
        ),
    )
    tentative_buffer: float = Field(
        default=1.5,
        ge=0.0,
        le=5.0,
        description=(
            "Buffer for matching a tentative track (no velocity yet) to its second detection. "
            "Larger confirms fast objects when frames are skipped; in dense traffic it may "
            "pair two neighbours for one frame."
        ),
    )
    recover_radius: float = Field(
        default=1.0,
        ge=0.0,
        le=5.0,
        description=(
            "Lost-track recovery (last cascade before a new track starts): a detection whose "
            "anchor lies within this many box heights of where the lost track's recent "
            "history puts it takes the lost track. Keeps one id (and one count) when a bad "
            "box threw the prediction off; larger may hand a lost id to a neighbour. 0: off."
        ),
    )
    recover_window_s: float = Field(
        default=1.0,
        gt=0.0,
        le=10.0,
        description="Seconds of anchor history the recovery extrapolates from.",
    )
    recover_low_scores: bool = Field(
        default=True,
        description=(
            "Let low-score detections (between low_threshold and high_threshold) recover lost "
            "tracks too: the weak detections of a half-hidden road user keep its id."
        ),
    )
    min_hits: int = Field(
        default=2,
        ge=1,
        le=30,
        description="Matches before a track gets an id. Higher drops one-frame ghosts, later ids.",
    )
    max_lost_s: float = Field(
        default=1.5,
        gt=0.0,
        le=60.0,
        description=(
            "Seconds a track is kept without a match to bridge occlusions. Longer survives "
            "longer occlusions but may re-attach an id to a different object."
        ),
    )
    history_length: int = Field(
        default=90,
        ge=2,
        le=10000,
        description="Observed positions kept per track (bounded memory); 90 = 3 s at 30 fps.",
    )
    max_tracks: int = Field(
        default=2000,
        ge=1,
        description="Hard cap on live tracks per camera; the longest-lost are dropped first.",
    )
    duplicate_iou: float = Field(
        default=0.7,
        gt=0,
        le=1,
        description=(
            "Boxes of different classes overlapping more than this are one object; the "
            "lower-scored is dropped before tracking (the detector's NMS is per class)."
        ),
    )
    merge_riders: bool = Field(
        default=True,
        description=(
            "Fold a person box sitting on a motorbike/bicycle box into it before tracking, so "
            "a motorbike and its rider are one road user (counted once, not a pedestrian)."
        ),
    )
    vote_by_area: bool = Field(
        default=True,
        description=(
            "Weight each detection's class vote by its box area as well as its confidence: "
            "near, large views decide the class, so an approaching road user's first far "
            "detections (often the wrong class) do not outvote the near ones. Off: summed "
            "confidence."
        ),
    )
    rider_vote_share: float = Field(
        default=0.2,
        ge=0.0,
        le=1.0,
        description=(
            "A track voted 'person' is a motorcycle (or bicycle) when that class holds at "
            "least this share of the person votes: a rider seen without their bike is "
            "detected as a person, a pedestrian is never detected as a motorbike. Higher "
            "needs more bike evidence (more riders counted as pedestrians); 0: off."
        ),
    )
    class_groups: list[list[str]] = Field(
        default_factory=lambda: [list(group) for group in DEFAULT_CLASS_GROUPS],
        description=(
            "A detection takes a track of its own class group (the track's voted class) when "
            "the boxes' sizes agree within max_size_ratio, and a track of another group only "
            "if their shapes agree too (cross_group_shape_ratio). The default keeps "
            "two-wheelers (with their riders) apart from four-wheelers: a car's wide box "
            "never takes a motorbike's id, while a small motorbike the detector calls 'car' "
            "in one frame (a narrow box) keeps its track and the class vote settles the "
            "class. Classes in no group form a group of their own."
        ),
    )
    max_size_ratio: float = Field(
        default=2.0,
        ge=1.0,
        description=(
            "Largest ratio between a detection's box width (and height) and its track's last "
            "box: no identity hop between boxes of very different size. Lower refuses more "
            "hops and breaks more tracks whose box changes fast (a rider merged with their "
            "bike or not, a vehicle entering the frame)."
        ),
    )
    cross_group_shape_ratio: float = Field(
        default=2.0,
        ge=0.0,
        description=(
            "A detection of another class group than its track takes it only if the boxes' "
            "shapes (width / height) agree within this factor: one road user given two "
            "classes keeps its shape (a narrow motorbike box called 'car'), a car's wide box "
            "is not a motorbike's. Below 1: never across groups; large: the groups are one."
        ),
    )

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> TrackerConfig:
        if self.low_threshold > self.high_threshold:
            raise ValueError(
                f"low_threshold ({self.low_threshold}) must not exceed "
                f"high_threshold ({self.high_threshold})"
            )
        return self
