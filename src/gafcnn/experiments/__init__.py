"""Many runs at once: the guide's grid as DVC experiments, and the review of a change."""
