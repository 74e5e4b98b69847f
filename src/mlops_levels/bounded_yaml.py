"""A YAML loader for files nobody here wrote: unknown tags read as data, aliases bounded."""

from __future__ import annotations

from typing import Any

import yaml

# A YAML file whose aliases expand to more values than this is not read (an alias
# bomb: ten lines expand to billions).
MAX_YAML_VALUES = 100_000


class BoundedLoader(yaml.SafeLoader):
    """A SafeLoader for files nobody here wrote.

    It reads tags it does not know, such as GitLab CI's `!reference`, as plain
    data rather than refusing the whole file. It refuses an alias to a node that
    contains it (the data would be infinite), and aliases that expand to more than
    MAX_YAML_VALUES values in all.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._expanded = 0
        self._open: set[str] = set()  # anchors of the nodes being composed
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        anchor = event.anchor
        if isinstance(event, yaml.AliasEvent):
            if anchor in self._open:
                raise yaml.composer.ComposerError(f"the alias *{anchor} contains itself")
            node = super().compose_node(parent, index)
            self._expanded += self._size(node)
            if self._expanded > MAX_YAML_VALUES:
                raise yaml.composer.ComposerError(
                    f"its aliases expand to more than {MAX_YAML_VALUES:,} values"
                )
            return node
        if anchor is None:
            return super().compose_node(parent, index)
        self._open.add(anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self._open.discard(anchor)

    def _size(self, node: yaml.Node) -> int:
        """How many values a node stands for once every alias in it is expanded."""
        if id(node) not in self._sizes:
            if isinstance(node, yaml.SequenceNode):
                size = 1 + sum(self._size(item) for item in node.value)
            elif isinstance(node, yaml.MappingNode):
                size = 1 + sum(self._size(k) + self._size(v) for k, v in node.value)
            else:
                size = 1
            self._sizes[id(node)] = size
        return self._sizes[id(node)]


BoundedLoader.add_multi_constructor(
    "!",
    lambda loader, _suffix, node: (
        loader.construct_mapping(node)
        if isinstance(node, yaml.MappingNode)
        else loader.construct_sequence(node)
        if isinstance(node, yaml.SequenceNode)
        else loader.construct_scalar(node)
    ),
)
