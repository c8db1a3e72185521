"""Many runs at once: the original plan's grid as DVC experiments, and the review of a change."""
