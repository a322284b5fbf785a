"""Views of the tasks blueprint."""
