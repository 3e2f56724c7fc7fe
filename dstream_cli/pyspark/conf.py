"""``pyspark.conf``: ``SparkConf``."""
from __future__ import annotations

__all__ = ["SparkConf"]


class SparkConf:
    """Settings are kept and read back; none of them changes how dstream runs."""

    def __init__(self, loadDefaults: bool = True) -> None:  # noqa: N803 - PySpark's names
        self._settings: dict[str, str] = {}

    def set(self, key: str, value) -> "SparkConf":
        self._settings[key] = str(value)
        return self

    def setAppName(self, value: str) -> "SparkConf":  # noqa: N802
        return self.set("spark.app.name", value)

    def setMaster(self, value: str) -> "SparkConf":  # noqa: N802
        return self.set("spark.master", value)

    def get(self, key: str, defaultValue: str | None = None) -> str | None:  # noqa: N803
        return self._settings.get(key, defaultValue)

    def getAll(self) -> list[tuple[str, str]]:  # noqa: N802
        return list(self._settings.items())

    def contains(self, key: str) -> bool:
        return key in self._settings

    def setAll(self, pairs: list[tuple[str, str]]) -> "SparkConf":  # noqa: N802
        for key, value in pairs:
            self.set(key, value)
        return self

    def setIfMissing(self, key: str, value: str) -> "SparkConf":  # noqa: N802
        if key not in self._settings:
            self.set(key, value)
        return self

    def setSparkHome(self, value: str) -> "SparkConf":  # noqa: N802
        return self.set("spark.home", value)

    def setExecutorEnv(self, key: str | None = None, value: str | None = None,  # noqa: N802
                       pairs: list[tuple[str, str]] | None = None) -> "SparkConf":
        if (key is not None and pairs is not None) or (key is None and pairs is None):
            raise ValueError("Either pass one key-value pair or a list of pairs")
        for k, v in pairs if pairs is not None else [(key, value)]:
            self.set("spark.executorEnv." + k, v)
        return self

    def toDebugString(self) -> str:  # noqa: N802
        return "\n".join(f"{k}={v}" for k, v in self._settings.items())
