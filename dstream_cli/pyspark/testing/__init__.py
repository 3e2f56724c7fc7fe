"""``pyspark.testing``: the helpers PySpark's own test suites build on, for the parts that need no JVM."""
