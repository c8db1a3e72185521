"""Harnesses that drive gafcnn from outside, as a client would: shared by the tests and
`benchmarks/` (e.g. :mod:`gafcnn.testing.load`, a load driver for `gafcnn serve`)."""
