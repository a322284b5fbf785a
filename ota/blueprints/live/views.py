"""Views of the live blueprint."""
