"""Nothing outside integrations/sources/ names a source type: the rest of the code asks the
registry (the type's choices, credentials, paths, defaults come from the source's folder)."""

from __future__ import annotations

import ast
from pathlib import Path

from integrations.sources.registry import sources

ROOT = Path(__file__).resolve().parent.parent
WALKED = ("integrations", "scoring", "players", "pointagram_site")
# The leaderboard's "custom" period (a date range) is a word, not the Custom source type.
ALLOWED = {("scoring/views.py", "custom")}


def type_names_outside_sources() -> list[tuple[str, int, str]]:
    types = {source.type for source in sources()}
    found = []
    for top in WALKED:
        for path in sorted((ROOT / top).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            parts = path.relative_to(ROOT).parts
            if name.startswith("integrations/sources/") or {"migrations", "tests"} & set(parts):
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), name)):
                if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
                    continue
                if node.value in types:
                    found.append((name, node.lineno, node.value))
    return found


def test_no_module_outside_the_sources_names_a_source_type() -> None:
    found = type_names_outside_sources()

    named = [f"{name}:{line} {value!r}" for name, line, value in found
             if (name, value) not in ALLOWED]  # fmt: skip
    assert named == [], "ask integrations.sources.registry instead of naming a type"


def test_the_allowed_exception_is_still_there() -> None:
    # A stale entry would let the type it names back in unnoticed.
    found = {(name, value) for name, _, value in type_names_outside_sources()}

    assert found >= ALLOWED
