"""Word pools for the `fake` operator (tasks/privacy/pii.py `fake_value`): invented first and last names, street
names and types, cities (hand-written)."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def fake_values() -> dict[str, list[str]]:
    """Small hand-written pools for `operator: fake` (invented values; streets and numbers are built around them)."""
    return {
        "first": """Avery Blake Casey Devon Elliot Finley Harper Jordan Kendall Logan Morgan Parker Quinn Reese Rowan
        Sawyer Skyler Taylor Emerson Hayden Jamie Kai Lane Marlow Noel Oakley Peyton Remy Sage Tatum""".split(),
        "last": """Ashford Bellamy Calloway Davenport Ellery Fairbanks Garrick Holloway Ingram Jessop Kendrick Lowell
        Merriman Northcott Oakes Prescott Quimby Radcliffe Stanton Thorne Underwood Vance Whitaker Yardley Ziegler
        Barlow Corwin Dunmore Everly Fenwick""".split(),
        "street": """Alder Birch Chestnut Dogwood Elm Fir Hawthorn Linden Magnolia Oak Poplar Rowan Spruce Sycamore
        Walnut""".split(),
        "street_type": ["Street", "Avenue", "Road", "Lane", "Drive", "Court"],
        "city": ["Millbrook", "Eastvale", "Northfield", "Westbury", "Southport", "Lakeside", "Fairhaven", "Brookton"],
    }
