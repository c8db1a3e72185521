"""What a bot runs: the deployment bundle, the ONNX runtime of the CNNs and its latency
measurement."""
