"""Evaluation: deterministic metrics, runs of the arms over a test set, reports."""
