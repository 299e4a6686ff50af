"""Evaluating trained checkpoints: inference latency, similarity to the teacher, robustness."""
