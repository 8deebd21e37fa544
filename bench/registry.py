"""A small name -> class registry shared by methods, tasks, metrics and protocols.

Built-in entries register themselves with a decorator in their own module; the registry
imports every module of its home package on first use, so adding a method or task is one
new file. Third-party packages register through an entry-point group (`xai_bench.<kind>`).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Generic, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError):
    """An unknown method, task or metric name; the message lists the known ones."""

    def __str__(self) -> str:  # KeyError would otherwise print the message in quotes
        return str(self.args[0])


class Registry(Generic[T]):
    def __init__(self, kind: str, home_package: str, entry_point_group: str) -> None:
        self.kind = kind
        self.home_package = home_package
        self.entry_point_group = entry_point_group
        self._entries: dict[str, T] = {}
        self._loaded = False

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            if name in self._entries and self._entries[name] is not obj:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = obj
            return obj

        return decorator

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        package = importlib.import_module(self.home_package)
        for module in pkgutil.iter_modules(package.__path__):
            if not module.name.startswith("_"):
                importlib.import_module(f"{self.home_package}.{module.name}")
        for entry_point in entry_points(group=self.entry_point_group):
            self._entries.setdefault(entry_point.name, entry_point.load())

    def get(self, name: str) -> T:
        self._load()
        if name not in self._entries:
            known = ", ".join(sorted(self._entries)) or "none"
            raise UnknownNameError(f"unknown {self.kind} {name!r}; known {self.kind}s: {known}")
        return self._entries[name]

    def names(self) -> list[str]:
        self._load()
        return sorted(self._entries)

    def items(self) -> list[tuple[str, T]]:
        self._load()
        return sorted(self._entries.items())


METHODS: Registry = Registry("method", "methods", "xai_bench.methods")
TASKS: Registry = Registry("task", "tasks", "xai_bench.tasks")
METRICS: Registry = Registry("metric", "bench.metrics", "xai_bench.metrics")
PROTOCOLS: Registry = Registry("protocol", "bench.protocols", "xai_bench.protocols")
