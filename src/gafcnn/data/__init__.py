"""Bars in, checked: the bar frame, file readers, downloads, the synthetic market,
labels, the split, samples and indicator features."""
