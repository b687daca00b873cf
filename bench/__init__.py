"""Speed figures, run on demand (``make bench``), never as timed assertions in tests."""
