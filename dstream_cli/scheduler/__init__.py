"""The scheduler: clocks, the batch loop with its lifecycle, and receiving-rate control."""
