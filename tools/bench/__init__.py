"""The benchmarks (make bench, make heap, make soak), apart from the tests: goals checked here."""
