"""The programming guide's windowed word count: counts over the last 30 seconds, every 10 seconds.
Usage: windowed_network_wordcount.py <hostname> <port> [<window seconds> <slide seconds>]"""
import sys

from dstream_cli.pyspark import SparkContext
from dstream_cli.pyspark.streaming import StreamingContext

if __name__ == "__main__":
    window, slide = (int(sys.argv[3]), int(sys.argv[4])) if len(sys.argv) == 5 else (30, 10)
    sc = SparkContext(appName="PythonStreamingWindowedWordCount")
    ssc = StreamingContext(sc, 1)
    ssc.checkpoint("checkpoint")

    lines = ssc.socketTextStream(sys.argv[1], int(sys.argv[2]))
    words = lines.flatMap(lambda line: line.split(" "))
    pairs = words.map(lambda word: (word, 1))
    # Reduce last 30 seconds of data, every 10 seconds
    windowedWordCounts = pairs.reduceByKeyAndWindow(lambda x, y: x + y, lambda x, y: x - y, window, slide)
    windowedWordCounts.pprint()

    ssc.start()
    ssc.awaitTermination()
