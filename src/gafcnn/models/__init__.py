"""What predicts: the CNNs and their training loop, the baselines, the combiners and
the predictions layout."""
