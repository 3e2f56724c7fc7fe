"""Where a chain runs: the local engine lives in the package's core; ``spark`` runs the same StageSpecs on
pyspark.streaming and is imported only for ``--engine spark``."""
