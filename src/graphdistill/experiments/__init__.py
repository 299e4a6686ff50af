"""Experiments: seeded runs of ``graphdistill fit`` and the grid runner (``graphdistill grid``)."""
