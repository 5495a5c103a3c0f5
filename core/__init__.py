"""RAG vs fine-tuning lab: everything a page does, without Streamlit."""
