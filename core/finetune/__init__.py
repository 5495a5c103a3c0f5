"""Training data, the LoRA training recipe, and adapters with their lineage."""
