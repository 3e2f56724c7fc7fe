"""DStreamGraph: the inputs and outputs of a context; jobs for a batch time come from its outputs."""
from __future__ import annotations

import re

from .dstream import DStream
from .errors import UsageError


class DStreamGraph:
    def __init__(self) -> None:
        self.inputs: list = []
        self.outputs: list = []

    def add_input(self, stream) -> None:
        self.inputs.append(stream)

    def add_output(self, stream) -> None:
        self.outputs.append(stream)

    def validate(self) -> None:
        if not self.outputs:
            raise UsageError("No output operations registered, so nothing to execute")

    def nodes(self) -> list[DStream]:
        """Every node an output reaches, parents first, in a stable order (checkpoints key on it)."""
        seen: dict[int, DStream] = {}

        def visit(node: DStream) -> None:
            if id(node) in seen:
                return
            for parent in node.dependencies:
                visit(parent)
            seen[id(node)] = node

        for output in self.outputs:
            visit(output)
        return list(seen.values())

    def used_inputs(self) -> list:
        """Inputs some output depends on; the others are never started or read."""
        reachable = {id(node) for node in self.nodes()}
        return [stream for stream in self.inputs if id(stream) in reachable]

    def initialize(self, remember_ms: int | None = None) -> None:
        """Set how long each node remembers its batches (Spark ``DStreamGraph.remember``): what its outputs
        ask, and at least *remember_ms* (``StreamingContext.remember``)."""
        for output in self.outputs:
            output.remember(max(output.slide_ms, remember_ms or 0))
        nodes = self.nodes()
        for node in nodes:
            node.readers = [reader for reader in nodes if node in reader.dependencies]
            # remember() keeps every batch for queries of the past, whoever has read it
            node.released_once_read = (not remember_ms and bool(node.readers)
                                       and all(reader.reads_parents_once for reader in node.readers))

    def last_time_reached(self, t: int) -> int:
        """The last batch time at which an output can still see records its inputs received by *t*."""
        return max((output.last_time_reached(t) for output in self.outputs), default=t)

    def stateful_nodes(self) -> list[DStream]:
        """The nodes a checkpoint saves: all but the outputs, which may change between runs."""
        return [node for node in self.nodes() if node not in self.outputs]

    def fingerprint(self) -> list[str]:
        """What the chain is, node by node: a checkpoint is only valid for the same one."""
        return [f"{type(node).__name__} {re.sub(r'^stage [0-9]+ ', '', node.label)} slide={node.slide_ms}"
                for node in self.stateful_nodes()]
