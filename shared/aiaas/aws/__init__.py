"""AWS access helpers shared by the repositories."""
