"""Time series to images: the GAF / MTF / recurrence encodings and the image sets on disk."""
