"""Loading the base model and adapters, and generation."""
