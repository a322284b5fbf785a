"""Starting the real parts (Redis, Mosquitto) on a fresh machine, and the `make run` launcher."""
