"""A model that lives: bundle versions, the champion that serves, and promotion."""
