"""The four arms (base, RAG, fine-tuned, hybrid), their prompts, and the comparison engine."""
