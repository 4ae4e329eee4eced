"""How a person's name is shown where others may read the screen (a phone held out at a desk):
the first and last characters, the rest masked (张*兰). Pure."""

from __future__ import annotations


def name_masked(name: str) -> str:
    """张桂兰 → 张*兰, 张三 → 张*, 欧阳娜娜 → 欧**娜; a one-character name → *."""
    name = (name or "").strip()
    if len(name) <= 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]
