"""Views of the downloads blueprint."""
