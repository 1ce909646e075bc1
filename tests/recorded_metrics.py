"""A stand-in for one of apps/common/metrics.py's counters in tests that run outside Ray (where
the apps get None for their metrics): it keeps each `record(*labels)` call in `records`."""


class RecordedMetric:
    def __init__(self):
        self.records: list[tuple] = []

    def record(self, *labels):
        self.records.append(labels)
