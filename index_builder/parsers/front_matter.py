"""Front matter: YAML between ``---`` lines (Jekyll, Hugo, Eleventy, Astro) or TOML between ``+++`` (Hugo).

Metadata is small and untrusted: a size cap, no YAML aliases (the "billion laughs" expansion is refused
before it is built), no Python tags (``yaml.SafeLoader`` only), and nesting that would exhaust the
parser's stack is a reason, not a crash.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from typing import Any

import yaml

from index_builder.parsers.fields import ContentError

#: Front matter is metadata; anything bigger is a mistake or an attack on the YAML parser.
MAX_FRONT_MATTER_BYTES = 64 * 1024
#: PyYAML's scanner takes time quadratic in the depth of nested ``[`` / ``{`` (4,000 levels: 20 s);
#: metadata nests two or three levels.
MAX_FLOW_NESTING = 20

_YAML_BLOCK = re.compile(r"\A---[ \t]*\r?\n(.*?)^(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL | re.MULTILINE)
_BRACKETS = re.compile(r"[\[\]{}]")
_TOML_BLOCK = re.compile(r"\A\+\+\+[ \t]*\r?\n(.*?)^\+\+\+[ \t]*(?:\r?\n|\Z)", re.DOTALL | re.MULTILINE)


@dataclass
class FrontMatter:
    """A Markdown file's metadata (keys lowercased), its body, and the file line the body starts on."""

    fields: dict[str, Any]
    body: str
    body_line: int = 1


def split_front_matter(text: str) -> FrontMatter:
    """Metadata and body; raises ContentError when the front matter is unusable."""
    for block, fence, load in ((_YAML_BLOCK, "---", load_yaml_mapping), (_TOML_BLOCK, "+++", load_toml_mapping)):
        match = block.match(text)
        if not match:
            if text.startswith(fence):
                raise ContentError(f"front matter starts with '{fence}' but never ends with a '{fence}' line")
            continue
        raw = match.group(1)
        if len(raw.encode("utf-8")) > MAX_FRONT_MATTER_BYTES:
            raise ContentError(f"front matter is over {MAX_FRONT_MATTER_BYTES // 1024} KB")
        return FrontMatter(load(raw), text[match.end() :], body_line=text.count("\n", 0, match.end()) + 1)
    return FrontMatter({}, text)


def load_yaml_mapping(raw: str) -> dict[str, Any]:
    if _flow_depth(raw) > MAX_FLOW_NESTING:
        raise ContentError(f"front matter is nested too deeply (over {MAX_FLOW_NESTING} levels of [ or {{)")
    try:
        # Aliases are how "billion laughs" documents explode; metadata never needs them.
        for event in yaml.parse(raw, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                raise ContentError("front matter uses YAML aliases (*name), which are not allowed")
        data = yaml.load(raw, Loader=yaml.SafeLoader)  # SafeLoader: !!python/... tags are errors
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" at line {where.line + 2}" if where is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ContentError(f"invalid YAML front matter{line}: {problem}") from None
    except RecursionError:
        raise ContentError("front matter is nested too deeply") from None
    return _mapping(data)


def load_toml_mapping(raw: str) -> dict[str, Any]:
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as error:
        raise ContentError(f"invalid TOML front matter: {error}") from None
    except RecursionError:
        raise ContentError("front matter is nested too deeply") from None
    return _mapping(data)


def _flow_depth(raw: str) -> int:
    """The deepest nesting of brackets, quotes ignored (so it can only overestimate: never lets a deep one by)."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(raw):
        depth = depth + 1 if bracket in "[{" else max(depth - 1, 0)
        deepest = max(deepest, depth)
    return deepest


def _mapping(data: Any) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ContentError("front matter is not a mapping of keys to values")
    return {str(k).lower(): v for k, v in data.items()}
