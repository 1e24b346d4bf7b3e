"""Evaluation on your own data: datasets, metrics, the vector cache, runs, comparisons."""
