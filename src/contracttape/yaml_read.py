"""Reading YAML: PyYAML's safe loader, libyaml's where PyYAML was built with it (about ten times
faster). Cassettes subclass it (``cassettes._Loader``); the price files and the secrets scan load
with it as it is."""

from __future__ import annotations

from typing import Any

import yaml

SafeLoader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load(text: str) -> Any:
    """The YAML document ``text`` holds (``yaml.YAMLError`` when it holds none)."""
    return yaml.load(text, Loader=SafeLoader)
