"""energy layer."""
