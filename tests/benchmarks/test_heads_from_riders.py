"""The rider-box head route's geometry and localiser (benchmarks/heads_from_riders.py)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.heads_from_riders import (
    SIDE,
    Samples,
    crop_box,
    cut,
    hosts,
    one_box_per_head,
    place_heads,
    to_crop,
    to_frame,
)


def test_a_head_box_survives_the_trip_into_the_crop_and_back():
    persons = np.array([[100.0, 50.0, 140.0, 170.0], [300.0, 80.0, 330.0, 160.0]])
    heads = np.array([[112.0, 50.0, 126.0, 72.0], [308.0, 78.0, 322.0, 95.0]])
    unit = np.stack([to_crop(h, crop_box(p)) for h, p in zip(heads, persons, strict=True)])
    np.testing.assert_allclose(to_frame(unit, persons), heads, atol=1e-4)


def test_the_crop_holds_the_top_of_the_person_box():
    box = crop_box([100.0, 50.0, 140.0, 170.0])
    np.testing.assert_allclose(box, [94.0, 38.0, 146.0, 110.0])


def test_each_head_goes_to_the_person_whose_top_it_sits_in():
    persons = np.array([[0.0, 0.0, 40.0, 100.0], [50.0, 0.0, 90.0, 100.0], [45.0, 5.0, 95.0, 95.0]])
    heads = np.array(
        [
            [10.0, 2.0, 25.0, 20.0],  # top of person 0
            [60.0, 2.0, 75.0, 20.0],  # top of persons 1 and 2: the nearer top (1)
            [10.0, 70.0, 25.0, 90.0],  # low in person 0: a bag, not a head
            [62.0, 6.0, 76.0, 22.0],  # a pillion: person 2 is still free
        ]
    )
    assert hosts(persons, heads) == [(0, 0), (1, 1), (2, 3)]


def test_a_duplicate_person_box_gives_one_head():
    heads = np.array([[10.0, 10.0, 20.0, 22.0], [10.5, 10.0, 20.5, 22.0], [50.0, 10.0, 60.0, 22.0]])
    kept = one_box_per_head(heads, np.array([0.5, 0.9, 0.4]))
    assert sorted(kept.tolist()) == [1, 2]
    assert one_box_per_head(np.empty((0, 4)), np.empty(0)).shape == (0,)


def test_the_cut_is_the_box_resized_with_grey_outside_the_frame():
    image = np.zeros((100, 100, 3), np.uint8)
    image[:, :50] = 255
    crop = cut(image, np.array([-50.0, 0.0, 50.0, 100.0]))
    assert crop.shape == (SIDE, SIDE, 3)
    assert (crop[:, : SIDE // 2 - 2] == 114).all()  # left of the frame
    assert (crop[:, SIDE // 2 + 2 :] == 255).all()


def test_the_localiser_learns_where_a_head_sits_in_a_person_box():
    """Synthetic riders: a bright head at a random place in the top of a dark body."""
    pytest.importorskip("torch")
    from benchmarks.heads_from_riders import train_localiser

    rng = np.random.default_rng(1)

    def rider() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        image = np.full((200, 200, 3), 90, np.uint8)
        person = np.array([60.0, 40.0, 140.0, 180.0])
        image[40:180, 60:140] = 30
        x = float(rng.uniform(62, 110))
        head = np.array([x, 40.0, x + 26, 72.0])
        image[40:72, round(x) : round(x) + 26] = 230
        return image, person, head

    samples = Samples([], [])
    for _ in range(384):
        image, person, head = rider()
        samples.add(image, person[None], head[None], 1, rng)
    network = train_localiser(samples, epochs=12)
    errors = []
    for _ in range(20):
        image, person, head = rider()
        placed = place_heads(network, image, person[None])[0]
        errors.append(abs((placed[0] + placed[2]) / 2 - (head[0] + head[2]) / 2))
    # one place for every head would be 12 px off on average (heads spread over 48 px)
    assert np.mean(errors) < 6, errors
    assert place_heads(network, image, np.empty((0, 4))).shape == (0, 4)
