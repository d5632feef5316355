"""MLflow's value conventions and errors: the bottom layer."""
