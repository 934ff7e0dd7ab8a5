"""The item-by-item comparison under every section of `mu diff`: which keys were added,
removed or changed, and which properties of a changed key differ, in the model's order."""

from __future__ import annotations

from mu.generator.review.diff import Model, PropertyChange, _keyed


def test_added_removed_and_changed_keys_in_key_order() -> None:
    old: Model = {"b": {"x": "1", "y": None}, "c": {"x": "1"}, "d": {"x": "same"}}
    new: Model = {"a": {"x": "2", "z": ()}, "b": {"x": "1", "y": "set"}, "d": {"x": "same"}}
    assert _keyed(old, new) == [
        ("a", "added", (PropertyChange("x", None, "2"),)),  # empty values are not listed
        ("b", "changed", (PropertyChange("y", None, "set"),)),
        ("c", "removed", (PropertyChange("x", "1", None),)),
    ]


def test_changed_properties_follow_old_order_then_new_ones() -> None:
    old: Model = {"k": {"p": "1", "q": "1", "gone": "g"}}
    new: Model = {"k": {"q": "2", "p": "2", "new": ("a", "b")}}
    [(_, status, props)] = _keyed(old, new)
    assert status == "changed"
    assert [p.property for p in props] == ["p", "q", "gone", "new"]
    assert props[-1] == PropertyChange("new", None, ("a", "b"))


def test_values_differ_by_type_as_well_as_value() -> None:
    # 1 == True in Python; to a reviewer an integer that became a boolean changed.
    old: Model = {"k": {"v": 1, "w": (), "t": ("a", "b")}}
    new: Model = {"k": {"v": True, "w": None, "t": ("b", "a")}}
    [(_, _, props)] = _keyed(old, new)
    assert [p.property for p in props] == ["v", "w", "t"]


def test_equal_models_have_no_changes() -> None:
    model: Model = {"k": {"v": 1, "t": ("a",), "n": None}}
    assert _keyed(model, {"k": dict(model["k"])}) == []
