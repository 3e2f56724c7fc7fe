"""``pyspark.files``: ``SparkFiles``, where a file given to ``SparkContext.addFile`` is (where it was: every
function runs in this process)."""
from __future__ import annotations

import os

__all__ = ["SparkFiles"]


class SparkFiles:
    @classmethod
    def get(cls, filename: str) -> str:
        from .context import SparkContext

        context = SparkContext._active
        for path in context.listFiles if context else []:
            if os.path.basename(path) == filename:
                return path
        return os.path.join(cls.getRootDirectory(), filename)

    @classmethod
    def getRootDirectory(cls) -> str:  # noqa: N802 - PySpark's names
        return os.getcwd()
