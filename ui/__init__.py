"""The only code that imports both streamlit and core: cached resources and shared widgets."""
